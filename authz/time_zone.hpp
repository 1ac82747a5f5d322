#pragma once
// IANA time zones from TZif files (RFC 8536, version 2+ 64-bit data), including the
// POSIX TZ footer rule that governs instants after the last stored transition (slim
// TZif files stop in 2007 or earlier and rely on it for every later date). libstdc++ 12
// has no std::chrono::tzdb, hence this small reader. Loaded at config load time and
// immutable afterwards, so a zone can be shared between threads freely.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::authz {

// A POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (RFC 8536 section 3.3).
struct PosixTz {
  struct Rule {
    enum class Kind : std::uint8_t { JulianNoLeap, ZeroBased, MonthWeekDay };  // Jn, n, Mm.w.d
    Kind kind = Kind::MonthWeekDay;
    int day = 0;            // Jn: 1..365, n: 0..365
    int month = 0;          // Mm.w.d
    int week = 0;           // 1..5 (5 = last)
    int weekday = 0;        // 0 = Sunday
    std::int32_t time = 7200;  // seconds after local midnight (may be negative or > 24h)
  };
  std::int32_t std_offset = 0;  // seconds east of UTC (note: POSIX writes west as positive)
  bool has_dst = false;
  std::int32_t dst_offset = 0;
  Rule start;  // DST starts (given in local standard time)
  Rule end;    // DST ends (given in local daylight time)

  // Throws std::invalid_argument on syntax it does not support.
  static PosixTz parse(std::string_view s);
  std::int32_t offset_at(std::int64_t t) const;
  // First DST start/end instant strictly after t, if the rule has DST.
  std::optional<std::int64_t> next_transition(std::int64_t t) const;
  // Instants (UTC seconds) DST starts and ends in `year`.
  std::pair<std::int64_t, std::int64_t> transitions_in_year(int year) const;
};

class TimeZone {
 public:
  // Parses TZif bytes (v2+); throws std::invalid_argument with a reason.
  static std::shared_ptr<const TimeZone> from_tzif(std::string name, std::string_view bytes);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  // Seconds east of UTC in effect at `t` (Unix seconds).
  std::int32_t offset_at(std::int64_t t) const;
  // The first instant > t at which the offset may change (stored or rule-based).
  std::optional<std::int64_t> next_transition(std::int64_t t) const;

 private:
  std::string name_;
  std::vector<std::int64_t> times_;        // transition instants, ascending
  std::vector<std::uint8_t> type_index_;   // per transition -> offsets_
  std::vector<std::int32_t> offsets_;      // per local time type
  std::optional<PosixTz> footer_;
};

// Loads each named zone once from <zoneinfo_dir>/<name>; "UTC" is built in.
// Not thread-safe while loading: fill it at config load, then only read the results.
class ZoneCache {
 public:
  explicit ZoneCache(std::string zoneinfo_dir = "/usr/share/zoneinfo")
      : dir_(std::move(zoneinfo_dir)) {}
  // Throws std::runtime_error naming the zone and the reason.
  std::shared_ptr<const TimeZone> get(const std::string& name);

 private:
  std::string dir_;
  std::map<std::string, std::shared_ptr<const TimeZone>> zones_;
};

}  // namespace segproxy::authz
