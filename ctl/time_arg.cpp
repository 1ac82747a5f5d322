#include "ctl/time_arg.hpp"

#include "ctl/admin_output.hpp"
#include "protocols/common/time_text.hpp"

namespace segproxy::proxy::ctl {
namespace {

constexpr std::size_t kDateLength = 10;  // YYYY-MM-DD
constexpr std::size_t kShownMax = 64;    // of a value echoed in a message

std::string shown(std::string_view s) {
  if (s.size() <= kShownMax) return "\"" + printable(s) + "\"";
  return "\"" + printable(s.substr(0, kShownMax)) + "...\"";
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_time_arg(std::string_view s, std::string& why) {
  using protocols::TimeProblem;
  TimeProblem problem = TimeProblem::None;
  const std::string midnight = s.size() == kDateLength ? std::string(s) + "T00:00:00Z" : std::string();
  const std::string_view text = midnight.empty() ? s : std::string_view(midnight);
  const auto t = protocols::parse_rfc3339(text, protocols::TimeSyntax::Rfc3339, &problem);
  if (t) {
    why.clear();
    return t;
  }
  why = shown(s) + " " + protocols::time_problem_text(problem);
  if (problem == TimeProblem::Malformed) {
    why += " (expected e.g. 2026-11-22T12:00:00Z, 2026-11-22T13:00:00+01:00 or a date, 2026-11-22 = midnight UTC)";
  }
  return std::nullopt;
}

}  // namespace segproxy::proxy::ctl
