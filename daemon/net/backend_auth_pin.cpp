#include "daemon/net/backend_auth_pin.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>

namespace segproxy::proxy {

bool auth_accepted(const std::vector<std::string>& accepted, std::string_view method) {
  return std::find(accepted.begin(), accepted.end(), method) != accepted.end();
}

std::string auth_pin_refusal(std::string_view asked, const std::vector<std::string>& accepted) {
  std::string list;
  for (const auto& m : accepted) list += (list.empty() ? "" : ", ") + m;
  return "segproxy: backend asked for " + std::string(asked) +
         " authentication, which backend.auth does not accept (" + list + ")";
}

std::optional<std::string> tls_server_end_point(SSL* ssl) {
  if (ssl == nullptr) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  // RFC 5929 section 4.1: the certificate's signature hash, MD5 and SHA-1 upgraded to SHA-256.
  int digest_nid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest_nid, nullptr) != 1) return std::nullopt;
  const EVP_MD* md = nullptr;
  if (digest_nid == NID_md5 || digest_nid == NID_sha1) md = EVP_sha256();
  else md = EVP_get_digestbynid(digest_nid);
  if (md == nullptr) return std::nullopt;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, out, &len) != 1) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace segproxy::proxy
