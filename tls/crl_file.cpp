#include "tls/crl_file.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

#include "tls/openssl_time.hpp"

namespace segproxy::tls {

CrlFileInfo read_crl_file(const std::string& path) {
  CrlFileInfo info;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (!bio) {
    ERR_clear_error();
    info.error = "cannot read CRL file " + path;
    return info;
  }
  while (X509_CRL* raw = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(raw, &X509_CRL_free);
    ++info.crls;
    const std::optional<std::int64_t> next = to_unix_seconds(X509_CRL_get0_nextUpdate(crl.get()));
    if (next && (!info.next_update || *next < *info.next_update)) info.next_update = next;
  }
  ERR_clear_error();  // the end-of-file "no start line" of the loop above
  if (info.crls == 0) info.error = "no CRL (\"-----BEGIN X509 CRL-----\") found in " + path;
  return info;
}

}  // namespace segproxy::tls
