#pragma once
// How code below the daemon reads environment variables (credential password_env,
// metadata password_env): through a lookup it is handed, never std::getenv. The daemon
// passes the process environment (daemon/process_environment); tests pass a map.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::authz {

// The value of variable `name`, or nullopt when it is not set.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

}  // namespace segproxy::authz
