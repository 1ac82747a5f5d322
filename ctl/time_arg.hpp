#pragma once
// A time an operator gives segproxyctl: --since / --until (audit verify / export, also
// with --postgres; policy replay / suggest) and --at (policy explain / test). One rule for
// all of them, the configuration's: RFC 3339 read by protocols::parse_rfc3339
// (TimeSyntax::Rfc3339: 'T', 't' or a space between date and time, a fraction of up to 9
// digits, Z or +hh:mm / -hh:mm, years 1970..2200), or a date alone, YYYY-MM-DD, which is
// midnight UTC. A value outside the years is refused, never converted (issue 20: year
// 0226 overflowed the clock in config windows, the same class).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::proxy::ctl {

// nullopt when `s` is malformed or out of range; `why` is then what follows the option's
// name in the message, e.g. "\"0226-12-02\" is out of range (years 1970 to 2200)" (the
// value shown terminal-safe and shortened). Every caller exits 2 (usage) on it.
std::optional<std::chrono::system_clock::time_point> parse_time_arg(std::string_view s, std::string& why);

}  // namespace segproxy::proxy::ctl
