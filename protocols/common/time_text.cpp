#include "protocols/common/time_text.hpp"

#include <cstdio>

namespace segproxy::protocols {
namespace {

// `n` decimal digits at s[at], or -1.
int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

constexpr std::size_t kMaxFractionDigits = 9;  // nanoseconds

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s, TimeSyntax syntax,
                                                                   TimeProblem* problem) {
  using namespace std::chrono;
  const auto fail = [&](TimeProblem p) -> std::optional<system_clock::time_point> {
    if (problem != nullptr) *problem = p;
    return std::nullopt;
  };
  const bool utc = syntax == TimeSyntax::Utc;
  // YYYY-MM-DD?HH:MM:SS: 19 characters, then at least the zone.
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') {
    return fail(TimeProblem::Malformed);
  }
  if (s[10] != 'T' && s[10] != 't' && (utc || s[10] != ' ')) return fail(TimeProblem::Malformed);
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const int hh = digits(s, 11, 2), mi = digits(s, 14, 2), ss = digits(s, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || hh < 0 || mi < 0 || ss < 0 || hh > 23 || mi > 59 || ss > 59) {
    return fail(TimeProblem::Malformed);
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return fail(TimeProblem::Malformed);
  std::size_t pos = 19;
  nanoseconds fraction{0};
  if (s[pos] == '.') {
    const std::size_t first = ++pos;
    nanoseconds::rep scale = 100'000'000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - first == kMaxFractionDigits) return fail(TimeProblem::Malformed);
      fraction += nanoseconds{(s[pos] - '0') * scale};
      scale /= 10;
      ++pos;
    }
    if (pos == first) return fail(TimeProblem::Malformed);
  }
  const std::string_view zone = s.substr(pos);
  minutes offset{0};
  if (zone == "Z" || (!utc && zone == "z")) {
    offset = minutes{0};
  } else if (!utc && zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int oh = digits(zone, 1, 2), om = digits(zone, 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return fail(TimeProblem::Malformed);
    offset = minutes{(oh * 60 + om) * (zone[0] == '-' ? -1 : 1)};
  } else {
    return fail(TimeProblem::Malformed);
  }
  if (y < kMinTimeYear || y > kMaxTimeYear) return fail(TimeProblem::OutOfRange);
  if (problem != nullptr) *problem = TimeProblem::None;
  return system_clock::time_point{sys_days{ymd}} + hours{hh} + minutes{mi} + seconds{ss} +
         duration_cast<system_clock::duration>(fraction) - offset;
}

std::string time_problem_text(TimeProblem problem) {
  switch (problem) {
    case TimeProblem::None: return "is a valid time";
    case TimeProblem::Malformed: return "is not an RFC 3339 time";
    case TimeProblem::OutOfRange: break;
  }
  return "is out of range (years " + std::to_string(kMinTimeYear) + " to " + std::to_string(kMaxTimeYear) + ")";
}

std::string format_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s) {
  const auto t = parse_rfc3339(s, TimeSyntax::Utc);
  if (!t) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(*t);
}

}  // namespace segproxy::protocols
