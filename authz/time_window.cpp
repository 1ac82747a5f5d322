// Access windows: membership on local wall time, and the next opening / closing found
// by evaluating membership at every instant where it can change (local window
// boundaries mapped to UTC, the zones' offset transitions, one-off bounds). Between
// two such instants membership is constant, so the first candidate that flips is the
// answer; no stepping through time.
#include "authz/time_window.hpp"

#include <algorithm>
#include <cstdio>

namespace segproxy::authz {
namespace {

using namespace std::chrono;
constexpr std::int64_t kDay = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::int64_t to_s(system_clock::time_point t) {
  return floor<seconds>(t).time_since_epoch().count();
}

system_clock::time_point from_s(std::int64_t s) {
  return system_clock::time_point{duration_cast<system_clock::duration>(seconds{s})};
}

// Monday = 0 ... Sunday = 6 for a day number since 1970-01-01 (a Thursday).
int weekday_index(std::int64_t day) {
  return static_cast<int>(((day + 3) % 7 + 7) % 7);
}

}  // namespace

WindowSet::WindowSet(const std::vector<config::TimeWindow>& windows, ZoneCache& zones) {
  for (const auto& w : windows) {
    Compiled c{w, nullptr};
    if (w.kind == config::TimeWindow::Kind::Weekly) c.zone = zones.get(w.timezone);
    windows_.push_back(std::move(c));
  }
}

bool WindowSet::window_contains(const Compiled& c, std::int64_t t) const {
  const config::TimeWindow& w = c.w;
  if (w.kind == config::TimeWindow::Kind::OneOff) return t >= to_s(w.from) && t < to_s(w.until);
  const std::int64_t local = t + c.zone->offset_at(t);
  const std::int64_t day = floor_div(local, kDay);
  const int minute = static_cast<int>((local - day * kDay) / 60);
  const int wd = weekday_index(day);
  const auto on = [&](int d) { return (w.days >> d & 1u) != 0; };
  if (w.end_minute > w.start_minute) {
    return on(wd) && minute >= w.start_minute && minute < w.end_minute;
  }
  // Wraps past midnight: the late part belongs to today, the early part to yesterday.
  return (on(wd) && minute >= w.start_minute) || (on((wd + 6) % 7) && minute < w.end_minute);
}

bool WindowSet::contains_s(std::int64_t t) const {
  if (windows_.empty()) return true;
  return std::any_of(windows_.begin(), windows_.end(),
                     [&](const Compiled& c) { return window_contains(c, t); });
}

bool WindowSet::contains(time_point t) const { return contains_s(to_s(t)); }

bool WindowSet::has_weekly() const {
  return std::any_of(windows_.begin(), windows_.end(), [](const Compiled& c) {
    return c.w.kind == config::TimeWindow::Kind::Weekly;
  });
}

std::vector<std::int64_t> WindowSet::change_points(std::int64_t lo, std::int64_t hi) const {
  std::vector<std::int64_t> pts;
  for (const Compiled& c : windows_) {
    if (c.w.kind == config::TimeWindow::Kind::OneOff) {
      pts.push_back(to_s(c.w.from));
      pts.push_back(to_s(c.w.until));
      continue;
    }
    const TimeZone& z = *c.zone;
    // Offset changes move local time and with it membership.
    std::int64_t t = lo - 2 * kDay;
    for (int i = 0; i < 64; ++i) {
      const auto next = z.next_transition(t);
      if (!next || *next > hi + 2 * kDay) break;
      pts.push_back(*next);
      t = *next;
    }
    // Local boundaries: each local day's start and end minute, mapped to every UTC
    // instant showing that wall time (none in a DST gap, two in a fall-back overlap).
    const std::int64_t first = floor_div(lo, kDay) - 2;
    const std::int64_t last = floor_div(hi, kDay) + 2;
    for (std::int64_t day = first; day <= last; ++day) {
      for (const int minute : {c.w.start_minute, c.w.end_minute}) {
        const std::int64_t local = day * kDay + std::int64_t{minute} * 60;
        for (const std::int64_t probe : {local - kDay, local, local + kDay}) {
          const std::int64_t u = local - z.offset_at(probe);
          if (u + z.offset_at(u) == local) pts.push_back(u);
        }
      }
    }
  }
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  return pts;
}

std::optional<WindowSet::time_point> WindowSet::next_opening(time_point now) const {
  if (contains(now)) return now;
  const std::int64_t now_s = to_s(now);
  const std::int64_t hi = now_s + kHorizon;
  const bool bounded = has_weekly();
  for (const std::int64_t p : change_points(now_s, hi)) {
    if (p <= now_s) continue;
    if (bounded && p > hi) break;
    if (contains_s(p)) return from_s(p);
  }
  return std::nullopt;
}

std::optional<WindowSet::time_point> WindowSet::current_window_end(time_point now) const {
  if (always_open() || !contains(now)) return std::nullopt;
  const std::int64_t now_s = to_s(now);
  const std::int64_t hi = now_s + kHorizon;
  const bool bounded = has_weekly();
  for (const std::int64_t p : change_points(now_s, hi)) {
    if (p <= now_s) continue;
    if (bounded && p > hi) break;
    if (!contains_s(p)) return from_s(p);
  }
  if (bounded) return from_s(hi);
  return std::nullopt;
}

std::string WindowSet::describe(time_point t) const {
  const Compiled* pick = nullptr;
  const std::int64_t s = to_s(t);
  for (const Compiled& c : windows_) {
    if (window_contains(c, s)) {
      pick = &c;
      break;
    }
  }
  if (pick == nullptr && !windows_.empty()) pick = &windows_.front();
  if (pick != nullptr && pick->zone) return format_local(t, *pick->zone);
  return format_local(t, *TimeZone::utc());
}

std::string format_local(std::chrono::system_clock::time_point t, const TimeZone& zone) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  const std::int64_t s = to_s(t);
  const std::int64_t local = s + zone.offset_at(s);
  const std::int64_t day = floor_div(local, kDay);
  const year_month_day ymd{sys_days{days{day}}};
  const std::int64_t sec = local - day * kDay;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %04d-%02u-%02u %02d:%02d", kDays[weekday_index(day)],
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(sec / 3600),
                static_cast<int>(sec % 3600 / 60));
  return std::string(buf) + " " + zone.name();
}

}  // namespace segproxy::authz
