#pragma once
// Access windows of one segment, compiled against their time zones. Pure functions of
// an injected instant (never reads the clock). Semantics (config::TimeWindow):
//  - weekly: local wall time in the window's zone, on the listed days, [start, end);
//    an end at or before the start wraps past midnight and belongs to the start day
//    (fri 22:00-06:00 = Friday 22:00 to Saturday 06:00). Evaluated on local wall time,
//    so DST is handled: on a spring-forward day a window starting inside the skipped
//    hour opens at the jump; on a fall-back day the repeated hour is inside twice.
//  - one-off: [from, until) in absolute time.
//  - a set of windows is their union; no windows at all = always open.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authz/time_zone.hpp"
#include "config/config.hpp"

namespace segproxy::authz {

class WindowSet {
 public:
  using time_point = std::chrono::system_clock::time_point;

  WindowSet() = default;  // always open
  // Loads every zone through `zones` (throws std::runtime_error on a bad zone).
  WindowSet(const std::vector<config::TimeWindow>& windows, ZoneCache& zones);

  bool always_open() const { return windows_.empty(); }
  bool contains(time_point t) const;
  // The earliest instant >= now inside a window (now itself when inside one);
  // nullopt when no window will ever open again (only past one-off windows).
  std::optional<time_point> next_opening(time_point now) const;
  // When inside a window: the first instant after now that is outside every window
  // (adjacent and overlapping windows merge). If weekly windows keep it open for
  // longer than kHorizon, returns now + kHorizon as a re-check point. nullopt when
  // outside every window or when always open.
  std::optional<time_point> current_window_end(time_point now) const;
  // "Mon 2026-11-23 08:00 Europe/Berlin": local time in the zone of the first window
  // containing t (else of the first window; UTC for one-off windows).
  std::string describe(time_point t) const;

  static constexpr std::int64_t kHorizon = 8 * 86400;  // seconds

 private:
  struct Compiled {
    config::TimeWindow w;
    std::shared_ptr<const TimeZone> zone;  // null for one-off windows
  };
  bool window_contains(const Compiled& c, std::int64_t t) const;
  bool contains_s(std::int64_t t) const;
  bool has_weekly() const;
  // Every instant in [lo, hi] at which membership may change, plus one-off bounds.
  std::vector<std::int64_t> change_points(std::int64_t lo, std::int64_t hi) const;

  std::vector<Compiled> windows_;
};

// Formats t as local time in `zone`: "Mon 2026-11-23 08:00 <zone name>".
std::string format_local(std::chrono::system_clock::time_point t, const TimeZone& zone);

}  // namespace segproxy::authz
