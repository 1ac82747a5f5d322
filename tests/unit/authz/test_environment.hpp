#pragma once
// The process environment as an EnvironmentLookup, for tests that set real variables
// (the daemon's own is proxy::process_environment; authz never calls getenv itself).
#include <cstdlib>

#include "authz/environment.hpp"

namespace segproxy::authz {

inline EnvironmentLookup test_process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace segproxy::authz
