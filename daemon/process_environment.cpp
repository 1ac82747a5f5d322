#include "daemon/process_environment.hpp"

#include <cstdlib>

namespace segproxy::proxy {

authz::EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    const char* v = std::getenv(key.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace segproxy::proxy
