#pragma once
// segproxyctl fleet --config FILE [--json]: the instance registry read directly from
// etcd (the config's `control_plane:` block; docs/fleet.md). Flags configuration drift
// (a config SHA-256 that differs from the majority).
#include <ostream>
#include <string>
#include <vector>

namespace segproxy::proxy::ctl {

// args: everything after "fleet". Exit codes: 0 listed, 1 etcd unreachable or a record
// unreadable, 2 configuration error, 64 usage.
int run_fleet(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace segproxy::proxy::ctl
