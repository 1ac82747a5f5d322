#pragma once
// Backend authentication pinning (`listeners[].backend.auth`, issue 12 item 4.3): which
// methods the proxy answers when it logs in to a backend, the refusal text when the
// backend asks for another one, and the SCRAM channel-binding data (RFC 5929
// tls-server-end-point) of a backend TLS connection.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

namespace segproxy::proxy {

bool auth_accepted(const std::vector<std::string>& accepted, std::string_view method);

// "segproxy: backend asked for <asked> authentication, which backend.auth does not
// accept (<accepted, comma separated>)".
std::string auth_pin_refusal(std::string_view asked, const std::vector<std::string>& accepted);

// The hash of the peer (server) certificate with its signature's digest (SHA-256 when
// that is MD5 or SHA-1); nullopt when there is no certificate or no usable digest.
std::optional<std::string> tls_server_end_point(SSL* ssl);

}  // namespace segproxy::proxy
