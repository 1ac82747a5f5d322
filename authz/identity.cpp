#include "authz/identity.hpp"

namespace segproxy::authz {

std::string ClientIdentity::display() const {
  if (!spiffe_id.empty()) return spiffe_id;
  if (!cn.empty()) return "CN=" + cn;
  return "sha256:" + sha256_hex.substr(0, 16);
}

}  // namespace segproxy::authz
