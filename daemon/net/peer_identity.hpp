#pragma once
// The only X509 code in the project: turns a verified peer certificate into a
// ClientIdentity.
#include <optional>
#include <string>

#include <openssl/ssl.h>

#include "authz/identity.hpp"

namespace segproxy::proxy {

// nullopt when the peer sent no certificate, or when the certificate's identity is
// ambiguous: several subject CN attributes, or several URI SANs with the scheme spiffe
// (either could be mapped, and which one wins would be an accident of parsing). Then
// `ambiguity` (when given) says why, for the client's refusal (FATAL 28000 / ERR 1045).
std::optional<authz::ClientIdentity> peer_identity(const SSL* ssl, std::string* ambiguity = nullptr);
std::optional<authz::ClientIdentity> identity_from_certificate(X509* cert, std::string* ambiguity = nullptr);

}  // namespace segproxy::proxy
