#pragma once
// Hot reload rules (docs/using.md "Reload"): what a running proxy can take from a new
// configuration and what needs a restart. Pure functions over config::Config.
#include <string>
#include <vector>

#include "config/config.hpp"

namespace segproxy::proxy {

// Changes that cannot be applied to a running process: listeners (names, protocols,
// addresses), threads, `audit:`, `admin:`, `metrics:` and `log:`. Each entry is a
// sentence for the operator. A reload with any of them is rejected as a whole (nothing
// is half-applied); everything else (identities, segments, policies, credentials,
// limits, TLS files and CRLs, backends) is swapped atomically.
std::vector<std::string> restart_required_changes(const config::Config& running, const config::Config& next);

// Lower-case hex SHA-256 of a file's bytes ("" when it cannot be read): the config
// version shown by `segproxyctl status` and recorded by config.reload.
std::string file_sha256_hex(const std::string& path);

}  // namespace segproxy::proxy
