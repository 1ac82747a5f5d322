// TZif reader and POSIX TZ rules against the system tzdata (/usr/share/zoneinfo).
#include "authz/time_zone.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using test::unix_s;
using test::utc;

std::shared_ptr<const TimeZone> zone(const std::string& name) {
  static ZoneCache cache;  // test-only: the real tzdata is read-only input
  return cache.get(name);
}

struct OffsetCase {
  const char* zone;
  std::chrono::system_clock::time_point at;
  int offset;
};

TEST(TimeZone, OffsetsAroundDstTransitionsMatchTzdata) {
  const OffsetCase cases[] = {
      // Europe/Berlin 2026: CEST from Sun 29 March 01:00 UTC to Sun 25 October 01:00 UTC.
      {"Europe/Berlin", utc(2026, 3, 29, 0, 59, 59), 3600},
      {"Europe/Berlin", utc(2026, 3, 29, 1, 0, 0), 7200},
      {"Europe/Berlin", utc(2026, 10, 25, 0, 59, 59), 7200},
      {"Europe/Berlin", utc(2026, 10, 25, 1, 0, 0), 3600},
      {"Europe/Berlin", utc(1890, 1, 1), 3208},  // LMT before the first transition (1893)
      {"Europe/Berlin", utc(2100, 7, 1), 7200},  // footer rule, far future
      {"Europe/Berlin", utc(2100, 12, 1), 3600},
      // America/New_York 2026: EDT from 8 March 07:00 UTC to 1 November 06:00 UTC.
      {"America/New_York", utc(2026, 3, 8, 6, 59, 59), -18000},
      {"America/New_York", utc(2026, 3, 8, 7, 0, 0), -14400},
      {"America/New_York", utc(2026, 11, 1, 5, 59, 59), -14400},
      {"America/New_York", utc(2026, 11, 1, 6, 0, 0), -18000},
      // Southern hemisphere: DST spans the new year.
      {"Australia/Sydney", utc(2026, 1, 15), 39600},
      {"Australia/Sydney", utc(2026, 7, 15), 36000},
      {"Australia/Sydney", utc(2045, 1, 1), 39600},
      {"UTC", utc(2026, 7, 1), 0},
      {"Asia/Kolkata", utc(2026, 7, 1), 19800},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(zone(c.zone)->offset_at(unix_s(c.at)), c.offset)
        << c.zone << " at " << unix_s(c.at);
  }
}

TEST(TimeZone, NextTransitionFollowsTheFooterRule) {
  const auto z = zone("Europe/Berlin");
  EXPECT_EQ(z->next_transition(unix_s(utc(2026, 1, 1))), unix_s(utc(2026, 3, 29, 1)));
  EXPECT_EQ(z->next_transition(unix_s(utc(2026, 3, 29, 1))), unix_s(utc(2026, 10, 25, 1)));
  EXPECT_EQ(z->next_transition(unix_s(utc(2060, 11, 1))), unix_s(utc(2061, 3, 27, 1)));
  EXPECT_FALSE(zone("Asia/Kolkata")->next_transition(unix_s(utc(2026, 1, 1))).has_value());
}

TEST(PosixTz, ParsesRulesAndOffsets) {
  const auto berlin = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(berlin.std_offset, 3600);
  EXPECT_EQ(berlin.dst_offset, 7200);
  EXPECT_EQ(berlin.end.time, 3 * 3600);
  EXPECT_EQ(berlin.start.time, 2 * 3600);  // default 02:00

  const auto fixed = PosixTz::parse("<+03>-3");
  EXPECT_FALSE(fixed.has_dst);
  EXPECT_EQ(fixed.offset_at(0), 3 * 3600);

  // Israel: start time 26:00 on the Thursday before the last Sunday-ish rule.
  const auto israel = PosixTz::parse("IST-2IDT,M3.4.4/26,M10.5.0");
  EXPECT_EQ(israel.start.time, 26 * 3600);
  // Negative rule times (America/Nuuk).
  const auto nuuk = PosixTz::parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  EXPECT_EQ(nuuk.start.time, -3600);
  EXPECT_EQ(nuuk.std_offset, -7200);
  // Julian day rules.
  const auto j = PosixTz::parse("AAA-1BBB,J60/0,300/0");
  const auto [s, e] = j.transitions_in_year(2024);  // leap year: J60 is 1 March
  EXPECT_EQ(s, unix_s(utc(2024, 3, 1)) - 3600);
  EXPECT_EQ(e, unix_s(utc(2024, 10, 27)) - 7200);  // zero-based day 300 = 27 October
}

TEST(PosixTz, RejectsWhatItDoesNotSupport) {
  for (const char* bad : {"", "X-1", "CET", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0",
                          "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,M10.5.0/3junk"}) {
    EXPECT_THROW(PosixTz::parse(bad), std::invalid_argument) << bad;
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TimeZone, MalformedTzifIsRejectedNotMisread) {
  const std::string good = read_file("/usr/share/zoneinfo/Europe/Berlin");
  ASSERT_GT(good.size(), 100u);
  EXPECT_NO_THROW(TimeZone::from_tzif("x", good));
  EXPECT_THROW(TimeZone::from_tzif("x", "not a tzif file at all, no"), std::invalid_argument);
  for (std::size_t cut : {std::size_t{10}, std::size_t{44}, good.size() / 2, good.size() - 1}) {
    EXPECT_THROW(TimeZone::from_tzif("x", good.substr(0, cut)), std::invalid_argument) << cut;
  }
  std::string v1 = good;
  v1[4] = '\0';  // version 1: no 64-bit data
  EXPECT_THROW(TimeZone::from_tzif("x", v1), std::invalid_argument);
}

TEST(ZoneCache, LoadsOnceRejectsUnknownAndPathEscapes) {
  ZoneCache cache("/usr/share/zoneinfo");
  EXPECT_EQ(cache.get("Europe/Berlin").get(), cache.get("Europe/Berlin").get());
  EXPECT_THROW(cache.get("Europe/Berln"), std::runtime_error);
  EXPECT_THROW(cache.get("../../etc/passwd"), std::runtime_error);
  EXPECT_THROW(cache.get("/etc/passwd"), std::runtime_error);
  ZoneCache empty("/nonexistent-zoneinfo");
  EXPECT_EQ(empty.get("UTC")->offset_at(0), 0);  // built in
}

}  // namespace
}  // namespace segproxy::authz
