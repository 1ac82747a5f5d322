// peer_identity is the only X509 code: these tests build certificates in memory and
// check which identity fields come out.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/net/peer_identity.hpp"

namespace segproxy::proxy {
namespace {

struct CertSpec {
  std::vector<std::pair<std::string, std::string>> subject;  // e.g. {"CN","x"},{"OU","y"}
  std::string san;  // e.g. "URI:spiffe://a/b,DNS:x.example"
  long serial = 4242;
};

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr make_cert(const CertSpec& spec) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME* name = X509_get_subject_name(x);
  for (const auto& [k, v] : spec.subject)
    X509_NAME_add_entry_by_txt(name, k.c_str(), MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(v.c_str()), -1,
                               -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  if (!spec.san.empty()) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, spec.san.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  EVP_PKEY_free(key);
  return X509Ptr(x);
}

TEST(PeerIdentity, SpiffeUriSanDnsSansCnAndOusAreExtracted) {
  auto cert = make_cert({{{"CN", "billing-api"}, {"OU", "payments"}, {"OU", "eu"}},
                         "URI:spiffe://example.org/ns/billing/sa/api,DNS:api.billing.svc,DNS:api.example"});
  auto id = identity_from_certificate(cert.get());
  ASSERT_TRUE(id);
  EXPECT_EQ(id->spiffe_id, "spiffe://example.org/ns/billing/sa/api");
  EXPECT_EQ(id->dns_sans, (std::vector<std::string>{"api.billing.svc", "api.example"}));
  EXPECT_EQ(id->cn, "billing-api");
  EXPECT_EQ(id->ou, (std::vector<std::string>{"payments", "eu"}));
}

TEST(PeerIdentity, NonSpiffeUriIsNotTakenAsSpiffeId) {
  auto cert = make_cert({{{"CN", "x"}}, "URI:https://example.org/spiffe://example.org/ns/billing"});
  auto id = identity_from_certificate(cert.get());
  ASSERT_TRUE(id);
  EXPECT_TRUE(id->spiffe_id.empty());
}

// Issue 12 item 4.2: the first of two SPIFFE URIs used to win; which one a mapping
// rule sees must not be an accident of order.
TEST(PeerIdentity, TwoSpiffeUriSansAreRefusedAsAmbiguous) {
  auto cert = make_cert({{{"CN", "x"}}, "URI:spiffe://a.org/one,URI:spiffe://a.org/two"});
  std::string why;
  EXPECT_FALSE(identity_from_certificate(cert.get(), &why));
  EXPECT_NE(why.find("several SPIFFE URI SANs"), std::string::npos) << why;
  // The scheme is compared without case: "SPIFFE://" is a second SPIFFE id too.
  auto mixed = make_cert({{{"CN", "x"}}, "URI:spiffe://a.org/one,URI:SPIFFE://a.org/two"});
  why.clear();
  EXPECT_FALSE(identity_from_certificate(mixed.get(), &why));
  EXPECT_FALSE(why.empty());
}

// Issue 12 item 4.2: the last of two CNs used to win.
TEST(PeerIdentity, TwoSubjectCnAttributesAreRefusedAsAmbiguous) {
  auto cert = make_cert({{{"CN", "reporting-job"}, {"OU", "x"}, {"CN", "postgres"}}, ""});
  std::string why;
  EXPECT_FALSE(identity_from_certificate(cert.get(), &why));
  EXPECT_NE(why.find("several subject CN attributes"), std::string::npos) << why;
}

TEST(PeerIdentity, OneSpiffeUriBesideOtherUrisIsNotAmbiguous) {
  auto cert = make_cert({{{"CN", "x"}}, "URI:https://a.org/x,URI:spiffe://a.org/one,DNS:a.example"});
  std::string why;
  auto id = identity_from_certificate(cert.get(), &why);
  ASSERT_TRUE(id) << why;
  EXPECT_TRUE(why.empty());
  EXPECT_EQ(id->spiffe_id, "spiffe://a.org/one");
  EXPECT_EQ(id->cn, "x");
}

TEST(PeerIdentity, SerialIsUpperHexAndSha256IsLowerHexOfDer) {
  auto cert = make_cert({{{"CN", "reporting-job"}}, "", 0xABCDEF});
  auto id = identity_from_certificate(cert.get());
  ASSERT_TRUE(id);
  EXPECT_EQ(id->serial_hex, "ABCDEF");
  ASSERT_EQ(id->sha256_hex.size(), 64u);
  unsigned char md[32];
  unsigned int n = 0;
  X509_digest(cert.get(), EVP_sha256(), md, &n);
  char first[3];
  std::snprintf(first, sizeof first, "%02x", md[0]);
  EXPECT_EQ(id->sha256_hex.substr(0, 2), first);
}

TEST(PeerIdentity, CertificateWithoutSubjectOrSanStillHasFingerprint) {
  auto cert = make_cert({{}, ""});
  auto id = identity_from_certificate(cert.get());
  ASSERT_TRUE(id);
  EXPECT_TRUE(id->cn.empty());
  EXPECT_TRUE(id->spiffe_id.empty());
  EXPECT_EQ(id->sha256_hex.size(), 64u);
}

TEST(PeerIdentity, NoCertificateIsNoIdentity) { EXPECT_FALSE(identity_from_certificate(nullptr)); }

}  // namespace
}  // namespace segproxy::proxy
