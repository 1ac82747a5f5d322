#pragma once
// Builds OpenSSL contexts from configuration: the client-facing server context (mTLS:
// verify_peer | fail_if_no_peer_cert against the configured CA) and the backend client
// context (require / verify-full).
#include <memory>
#include <string>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

struct TlsResult {
  std::unique_ptr<ssl::context> context;
  std::string error;  // set when context is null
};

TlsResult make_server_tls_context(const config::ListenerTls& cfg);
// Returns a null context (and no error) for mode disable.
TlsResult make_backend_tls_context(const config::BackendTls& cfg);

}  // namespace segproxy::proxy
