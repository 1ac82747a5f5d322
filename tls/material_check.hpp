#pragma once
// `segproxyctl config check`'s look at a listener's TLS material, with libcrypto only (no
// Asio, no SSL_CTX, so ctl/ can use it without linking the daemon): what the daemon
// would refuse when it builds its TLS contexts (daemon/net/tls_context) is an error here
// too, plus what would make every handshake fail although the daemon starts.
//   errors:   cert unreadable / no certificate in it; key unreadable; key does not match
//             the (first) certificate; certificate expired or not yet valid at `now`;
//             client_ca unreadable / no certificate; crl unreadable / no CRL;
//             backend tls verify-full: ca unreadable / no certificate
//   warnings: certificate expires within kExpiryWarning; a CRL's nextUpdate has passed
//             (every handshake then fails certificate verification) or is within
//             kExpiryWarning
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace segproxy::tls {

inline constexpr std::chrono::seconds kExpiryWarning{std::chrono::hours(24 * 14)};

struct MaterialReport {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// `now`: seconds since the epoch (UTC). Messages name the file they are about.
void check_listener_tls(const config::ListenerTls& tls, std::int64_t now, MaterialReport& out);
void check_backend_tls(const config::BackendTls& tls, MaterialReport& out);

}  // namespace segproxy::tls
