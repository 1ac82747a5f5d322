#pragma once
// RFC 3339 times: the project's ONE reader of them (issue 20) and the whole-second UTC
// writer of the admin protocol's time fields and the revocation / grant files.
//
// parse_rfc3339 reads YYYY-MM-DD?HH:MM:SS[.fraction]ZONE in two syntaxes:
//   Utc      what the project writes (admin protocol, revocation and grant files, audit
//            records): '?' is 'T' or 't', ZONE is 'Z';
//   Rfc3339  what people write (config windows, segproxyctl --since/--until/--at): '?' may
//            also be a space, ZONE 'Z', 'z', +hh:mm or -hh:mm (00:00..23:59).
// Both: seconds 00..59 (no leap second: the clock has none), a fraction of 1 to 9 digits
// (nanoseconds, what the clock holds), a valid calendar date, and a year from
// kMinTimeYear to kMaxTimeYear. system_clock counts nanoseconds in 64 bits (years
// 1678..2261); outside that the conversion overflows (UB; fuzz finding, a config window
// "until: 0226-12-02T00:00:00Z"), so a year outside the range is refused, never converted.
// The range applies to the year as written (before the offset is applied).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::protocols {

inline constexpr int kMinTimeYear = 1970;
inline constexpr int kMaxTimeYear = 2200;

enum class TimeSyntax { Utc, Rfc3339 };
enum class TimeProblem { None, Malformed, OutOfRange };

// nullopt when `s` is not a time of `syntax` or lies outside the years; `problem` (when
// given) then says which, and is None on success.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s, TimeSyntax syntax,
                                                                   TimeProblem* problem = nullptr);
// The words that follow a quoted time in a message: "is not an RFC 3339 time" or "is out
// of range (years 1970 to 2200)".
std::string time_problem_text(TimeProblem problem);

// Whole-second UTC: 2026-11-22T13:31:34Z (sub-seconds truncated).
std::string format_time(std::chrono::system_clock::time_point t);
// parse_rfc3339(s, TimeSyntax::Utc) with the fraction dropped (whole seconds).
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s);

}  // namespace segproxy::protocols
