#pragma once
// Who the client is, as proven by its verified certificate. Built only by
// daemon/net/peer_identity (the only X509 code); everything else sees these strings.
#include <memory>
#include <string>
#include <vector>

namespace segproxy::authz {

struct ClientIdentity {
  std::string spiffe_id;              // first URI SAN starting with "spiffe://", or empty
  std::vector<std::string> dns_sans;  // DNS SANs
  std::string cn;                     // subject CN (empty if none)
  std::vector<std::string> ou;        // subject OUs
  std::string serial_hex;             // certificate serial, upper-case hex
  std::string sha256_hex;             // SHA-256 of the DER certificate, lower-case hex

  // Short human-readable name for logs and messages: spiffe id, else CN, else sha256.
  std::string display() const;
};

// One immutable copy per session, shared by the session, its registry facts and its
// gate's grants (issue 15: each copy of an identity is ~0.5 KB per idle session).
using SharedIdentity = std::shared_ptr<const ClientIdentity>;

// The identity of a session whose certificate was not read yet (all fields empty).
inline const ClientIdentity& empty_identity() {
  static const ClientIdentity none;
  return none;
}

}  // namespace segproxy::authz
