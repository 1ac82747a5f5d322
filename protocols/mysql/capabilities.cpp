// Capability negotiation for a proxy that terminates both sides (see capabilities.hpp).
#include "protocols/mysql/capabilities.hpp"

namespace segproxy::protocols::mysql {

namespace {

// Handled by the proxy itself, whatever the backend offers.
constexpr Capabilities kProxyOwn = CLIENT_LONG_PASSWORD | CLIENT_SSL | CLIENT_PLUGIN_AUTH |
                                   CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
                                   CLIENT_CONNECT_ATTRS | CLIENT_CONNECT_WITH_DB;

}  // namespace

Capabilities proxy_client_capabilities(Capabilities backend_server_caps) {
  const Capabilities relayed = kProxyImplemented & ~kProxyOwn & backend_server_caps;
  return (relayed | kProxyOwn) & ~kNeverNegotiated;
}

Capabilities backend_login_capabilities(Capabilities backend_server_caps, Capabilities client_caps,
                                        bool backend_tls, bool with_database) {
  const Capabilities chosen = client_caps & backend_server_caps & kProxyImplemented &
                              (kResponseFormatFlags | kClientSemanticFlags);
  Capabilities login = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
  login |= backend_server_caps & (CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_ATTRS);
  if (with_database) login |= CLIENT_CONNECT_WITH_DB;
  if (backend_tls) login |= CLIENT_SSL;
  return (chosen | login) & ~kNeverNegotiated;
}

}  // namespace segproxy::protocols::mysql
