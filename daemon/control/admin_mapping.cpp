#include "daemon/control/admin_mapping.hpp"

namespace segproxy::proxy {
namespace admin = protocols::admin;

authz::RevocationKind from_wire(admin::SelectorKind k) {
  switch (k) {
    case admin::SelectorKind::Identity: return authz::RevocationKind::Identity;
    case admin::SelectorKind::SpiffePrefix: return authz::RevocationKind::SpiffePrefix;
    case admin::SelectorKind::CertSerial: return authz::RevocationKind::CertSerial;
    case admin::SelectorKind::Segment: return authz::RevocationKind::Segment;
  }
  return authz::RevocationKind::Identity;
}

admin::SelectorKind to_wire(authz::RevocationKind k) {
  switch (k) {
    case authz::RevocationKind::Identity: return admin::SelectorKind::Identity;
    case authz::RevocationKind::SpiffePrefix: return admin::SelectorKind::SpiffePrefix;
    case authz::RevocationKind::CertSerial: return admin::SelectorKind::CertSerial;
    case authz::RevocationKind::Segment: return admin::SelectorKind::Segment;
  }
  return admin::SelectorKind::Identity;
}

admin::RevocationInfo to_wire(const authz::Revocation& r) {
  return admin::RevocationInfo{r.id, to_wire(r.kind), r.value, r.reason, r.created_at, r.expires_at, r.created_by_uid};
}

}  // namespace segproxy::proxy
