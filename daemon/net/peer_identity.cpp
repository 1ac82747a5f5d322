#include "daemon/net/peer_identity.hpp"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <string>

namespace segproxy::proxy {
namespace {

std::string asn1_string(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  // An embedded NUL would let "good\0.evil" look like "good": refuse such values.
  if (out.find('\0') != std::string::npos) return {};
  return out;
}

std::vector<std::string> subject_entries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, idx);
    std::string v = asn1_string(X509_NAME_ENTRY_get_data(e));
    if (!v.empty()) out.push_back(std::move(v));
  }
  return out;
}

std::string hex(const unsigned char* p, std::size_t n, bool upper) {
  static const char* lower_digits = "0123456789abcdef";
  static const char* upper_digits = "0123456789ABCDEF";
  const char* d = upper ? upper_digits : lower_digits;
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(d[p[i] >> 4]);
    out.push_back(d[p[i] & 0xf]);
  }
  return out;
}

// Whether the raw URI value has the scheme "spiffe" (compared case-insensitively, and
// on the raw bytes, so that a value the UTF-8 conversion rejects still counts).
bool spiffe_scheme(const ASN1_STRING* s) {
  if (s == nullptr) return false;
  const unsigned char* p = ASN1_STRING_get0_data(s);
  const int n = ASN1_STRING_length(s);
  static constexpr char kScheme[] = "spiffe:";
  if (p == nullptr || n < static_cast<int>(sizeof kScheme - 1)) return false;
  for (std::size_t i = 0; i + 1 < sizeof kScheme; ++i) {
    const int c = p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i];
    if (c != kScheme[i]) return false;
  }
  return true;
}

// Counts every CN attribute of the subject, readable or not.
int subject_count(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int count = 0;
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) ++count;
  return count;
}

}  // namespace

std::optional<authz::ClientIdentity> identity_from_certificate(X509* cert, std::string* ambiguity) {
  if (cert == nullptr) return std::nullopt;
  authz::ClientIdentity id;
  const auto refuse = [&](std::string why) -> std::optional<authz::ClientIdentity> {
    if (ambiguity != nullptr) *ambiguity = std::move(why);
    return std::nullopt;
  };
  if (subject_count(cert, NID_commonName) > 1) {
    return refuse("the client certificate has several subject CN attributes (ambiguous identity)");
  }
  int spiffe_uris = 0;

  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_URI) {
        if (spiffe_scheme(gn->d.uniformResourceIdentifier)) ++spiffe_uris;
        std::string uri = asn1_string(gn->d.uniformResourceIdentifier);
        if (id.spiffe_id.empty() && uri.rfind("spiffe://", 0) == 0) id.spiffe_id = uri;
      } else if (gn->type == GEN_DNS) {
        std::string dns = asn1_string(gn->d.dNSName);
        if (!dns.empty()) id.dns_sans.push_back(std::move(dns));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (spiffe_uris > 1) {
    return refuse("the client certificate has several SPIFFE URI SANs (ambiguous identity)");
  }

  auto cns = subject_entries(cert, NID_commonName);
  if (!cns.empty()) id.cn = cns.front();  // at most one (several are refused above)
  id.ou = subject_entries(cert, NID_organizationalUnitName);

  if (const ASN1_INTEGER* serial = X509_get0_serialNumber(cert)) {
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr)) {
      if (char* h = BN_bn2hex(bn)) {
        id.serial_hex = h;
        OPENSSL_free(h);
      }
      BN_free(bn);
    }
  }

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) id.sha256_hex = hex(md, mdlen, false);
  return id;
}

std::optional<authz::ClientIdentity> peer_identity(const SSL* ssl, std::string* ambiguity) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  return identity_from_certificate(cert, ambiguity);
}

}  // namespace segproxy::proxy
