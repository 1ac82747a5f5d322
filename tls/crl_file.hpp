#pragma once
// What a `tls.crl` file (PEM, one or more X509 CRLs) says about when it must be replaced:
// the earliest nextUpdate of its CRLs. libcrypto only (no SSL_CTX): read by the daemon
// for segproxy_crl_next_update_seconds and by `segproxyctl config check`.
#include <cstdint>
#include <optional>
#include <string>

namespace segproxy::tls {

struct CrlFileInfo {
  int crls = 0;  // CRLs found in the file
  // The earliest nextUpdate of those that carry one, seconds since the epoch (UTC);
  // nullopt when none does (RFC 5280 makes it mandatory, OpenSSL does not).
  std::optional<std::int64_t> next_update;
  std::string error;  // set when the file cannot be read or holds no CRL
};

CrlFileInfo read_crl_file(const std::string& path);

}  // namespace segproxy::tls
