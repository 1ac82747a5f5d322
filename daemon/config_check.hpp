#pragma once
// Full configuration check shared by `segproxy --check-config` and `segproxyctl config
// check`: parse + validate (file:line errors), then build the runtime (TLS material,
// secrets) so that everything the daemon would refuse at start is reported.
#include <memory>
#include <ostream>
#include <string>

#include "daemon/runtime.hpp"

namespace segproxy::proxy {

// Prints every problem to `err`; returns null on failure.
std::shared_ptr<const Runtime> load_runtime(const std::string& path, std::ostream& err);

inline constexpr const char* kVersion = "0.1.0";

}  // namespace segproxy::proxy
