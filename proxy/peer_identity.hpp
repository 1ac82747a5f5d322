#pragma once
// The only X509 code in the project: turns a verified peer certificate into a
// ClientIdentity.
#include <optional>

#include <openssl/ssl.h>

#include "authz/identity.hpp"

namespace segproxy::proxy {

// nullopt when the peer sent no certificate.
std::optional<authz::ClientIdentity> peer_identity(const SSL* ssl);
std::optional<authz::ClientIdentity> identity_from_certificate(X509* cert);

}  // namespace segproxy::proxy
