#pragma once
// The one mapping between the admin wire protocol's types (protocols/admin) and authz's
// revocation types: daemon-side, so authz never includes the admin protocol. The wire
// kinds are the same four, by the same names.
#include "authz/revocation_list.hpp"
#include "protocols/admin/admin_protocol.hpp"

namespace segproxy::proxy {

authz::RevocationKind from_wire(protocols::admin::SelectorKind k);
protocols::admin::SelectorKind to_wire(authz::RevocationKind k);
protocols::admin::RevocationInfo to_wire(const authz::Revocation& r);

}  // namespace segproxy::proxy
