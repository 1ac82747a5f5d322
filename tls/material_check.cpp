#include "tls/material_check.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>

#include "protocols/common/time_text.hpp"
#include "tls/crl_file.hpp"
#include "tls/openssl_time.hpp"

namespace segproxy::tls {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string time_text(std::int64_t unix_seconds) {
  return protocols::format_time(std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)));
}

// Never prompts: an encrypted key is reported as unreadable, as the daemon cannot use it.
int no_passphrase(char*, int, int, void*) { return 0; }

// Every certificate of a PEM file, in order; empty when unreadable or none.
std::vector<X509Ptr> read_certificates(const std::string& path) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio) {
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) out.emplace_back(c, &X509_free);
  }
  ERR_clear_error();
  return out;
}

KeyPtr read_private_key(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr, &EVP_PKEY_free);
  ERR_clear_error();
  return key;
}

// A CA bundle must hold at least one certificate.
void check_ca_bundle(const std::string& what, const std::string& path, MaterialReport& out) {
  if (read_certificates(path).empty()) out.errors.push_back(what + " " + path + ": unreadable or no certificate in it");
}

void check_validity(const std::string& path, X509* cert, std::int64_t now, MaterialReport& out) {
  const auto not_before = to_unix_seconds(X509_get0_notBefore(cert));
  const auto not_after = to_unix_seconds(X509_get0_notAfter(cert));
  if (!not_before || !not_after) {
    out.errors.push_back("certificate " + path + ": unreadable validity period");
    return;
  }
  if (now < *not_before) {
    out.errors.push_back("certificate " + path + " is not valid before " + time_text(*not_before));
  } else if (now > *not_after) {
    out.errors.push_back("certificate " + path + " expired at " + time_text(*not_after));
  } else if (*not_after - now < kExpiryWarning.count()) {
    out.warnings.push_back("certificate " + path + " expires at " + time_text(*not_after));
  }
}

void check_crl(const std::string& path, std::int64_t now, MaterialReport& out) {
  const CrlFileInfo crl = read_crl_file(path);
  if (!crl.error.empty()) {
    out.errors.push_back(crl.error);
    return;
  }
  if (!crl.next_update) return;
  if (*crl.next_update <= now) {
    out.warnings.push_back("CRL " + path + ": nextUpdate " + time_text(*crl.next_update) +
                           " has passed: every client handshake fails certificate verification until it is replaced");
  } else if (*crl.next_update - now < kExpiryWarning.count()) {
    out.warnings.push_back("CRL " + path + ": nextUpdate " + time_text(*crl.next_update) + " is near");
  }
}

}  // namespace

void check_listener_tls(const config::ListenerTls& tls, std::int64_t now, MaterialReport& out) {
  const std::vector<X509Ptr> chain = read_certificates(tls.cert);
  if (chain.empty()) out.errors.push_back("certificate " + tls.cert + ": unreadable or no certificate in it");
  const KeyPtr key = read_private_key(tls.key);
  if (!key) out.errors.push_back("key " + tls.key + ": unreadable, encrypted or not a PEM private key");
  if (!chain.empty()) {
    check_validity(tls.cert, chain.front().get(), now, out);
    if (key && X509_check_private_key(chain.front().get(), key.get()) != 1) {
      out.errors.push_back("key " + tls.key + " does not match certificate " + tls.cert);
    }
    ERR_clear_error();
  }
  check_ca_bundle("client_ca", tls.client_ca, out);
  if (!tls.crl.empty()) check_crl(tls.crl, now, out);
}

void check_backend_tls(const config::BackendTls& tls, MaterialReport& out) {
  if (tls.mode == config::BackendTlsMode::VerifyFull) check_ca_bundle("backend tls ca", tls.ca, out);
}

}  // namespace segproxy::tls
