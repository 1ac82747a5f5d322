#pragma once
// Both protocols end (or, for PostgreSQL's finish_transaction, restrict) a session when
// its segment's access window closes: the session arms a Watchdog for that moment.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "authz/policy_engine.hpp"

namespace segproxy::proxy {

// The delay until 1 ms past the end of `segment`'s current window (at least 1 ms);
// nullopt when the window has no end.
inline std::optional<std::chrono::milliseconds> window_close_delay(const authz::PolicyEngine& policy,
                                                                   const std::string& segment) {
  const auto now = std::chrono::system_clock::now();
  const auto end = policy.window_end(segment, now);
  if (!end) return std::nullopt;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*end - now) + std::chrono::milliseconds(1);
  return std::max(ms, std::chrono::milliseconds(1));
}

}  // namespace segproxy::proxy
