#pragma once
// Who the client is, as proven by its verified certificate. Built only by
// daemon/net/peer_identity (the only X509 code); everything else sees these strings.
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

}  // namespace segproxy::authz
