#pragma once
// RFC 3339 UTC times with whole seconds (2026-11-22T13:31:34Z): the admin protocol's
// time fields and the revocation file (authz::RevocationList) use this one format.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::protocols {

// Sub-seconds truncated.
std::string format_time(std::chrono::system_clock::time_point t);
// Accepts exactly that form (optionally with a .fraction, ignored below 1 s).
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s);

}  // namespace segproxy::protocols
