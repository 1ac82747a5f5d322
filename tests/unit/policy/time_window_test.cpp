// Access windows on local wall time with an injected clock: DST, midnight wrap,
// one-off windows, merging, next opening and window end.
#include "authz/time_window.hpp"

#include <gtest/gtest.h>

#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using config::TimeWindow;
using test::utc;
using tp = std::chrono::system_clock::time_point;

constexpr std::uint8_t kMon = 1, kTue = 2, kWed = 4, kThu = 8, kFri = 16, kSat = 32, kSun = 64;
constexpr std::uint8_t kWeekdays = kMon | kTue | kWed | kThu | kFri;

TimeWindow weekly(std::uint8_t days, int start_h, int start_m, int end_h, int end_m,
                  std::string tz = "UTC") {
  TimeWindow w;
  w.days = days;
  w.start_minute = start_h * 60 + start_m;
  w.end_minute = end_h * 60 + end_m;
  w.timezone = std::move(tz);
  return w;
}

TimeWindow one_off(tp from, tp until) {
  TimeWindow w;
  w.kind = TimeWindow::Kind::OneOff;
  w.from = from;
  w.until = until;
  return w;
}

WindowSet make(const std::vector<TimeWindow>& ws) {
  static ZoneCache zones;  // read-only tzdata
  return WindowSet(ws, zones);
}

TEST(WindowSet, NoWindowsMeansAlwaysOpenWithNoEnd) {
  const WindowSet w;
  EXPECT_TRUE(w.contains(utc(2026, 1, 1)));
  EXPECT_EQ(w.next_opening(utc(2026, 1, 1)), utc(2026, 1, 1));
  EXPECT_FALSE(w.current_window_end(utc(2026, 1, 1)).has_value());
}

TEST(WindowSet, BerlinOfficeHoursFollowDstInBothDirections) {
  const auto w = make({weekly(kWeekdays, 8, 0, 18, 30, "Europe/Berlin")});
  // Winter (CET, UTC+1).
  EXPECT_FALSE(w.contains(utc(2026, 3, 23, 6, 59, 59)));  // Mon 07:59:59
  EXPECT_TRUE(w.contains(utc(2026, 3, 23, 7, 0)));        // Mon 08:00
  EXPECT_TRUE(w.contains(utc(2026, 3, 23, 17, 29, 59)));
  EXPECT_FALSE(w.contains(utc(2026, 3, 23, 17, 30)));  // 18:30 is exclusive
  // Summer (CEST, UTC+2) after the last Sunday of March.
  EXPECT_FALSE(w.contains(utc(2026, 3, 30, 5, 59, 59)));
  EXPECT_TRUE(w.contains(utc(2026, 3, 30, 6, 0)));
  EXPECT_FALSE(w.contains(utc(2026, 3, 28, 10, 0)));  // Saturday
  // Opening across the spring-forward weekend.
  const auto next = w.next_opening(utc(2026, 3, 28, 12, 0));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, utc(2026, 3, 30, 6, 0));
  EXPECT_EQ(w.describe(*next), "Mon 2026-03-30 08:00 Europe/Berlin");
  // Closing before and after the last Sunday of October.
  EXPECT_EQ(w.current_window_end(utc(2026, 10, 23, 10, 0)), utc(2026, 10, 23, 16, 30));
  EXPECT_EQ(w.current_window_end(utc(2026, 10, 26, 10, 0)), utc(2026, 10, 26, 17, 30));
  EXPECT_FALSE(w.current_window_end(utc(2026, 10, 24, 10, 0)).has_value());  // outside
}

TEST(WindowSet, NextOpeningNamesTheBriefsExample) {
  const auto w = make({weekly(kWeekdays, 8, 0, 18, 30, "Europe/Berlin")});
  const auto next = w.next_opening(utc(2026, 11, 20, 18, 0));  // Fri 19:00 CET
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(w.describe(*next), "Mon 2026-11-23 08:00 Europe/Berlin");
}

TEST(WindowSet, WindowAcrossMidnightBelongsToItsStartDay) {
  const auto w = make({weekly(kFri, 22, 0, 6, 0)});
  EXPECT_FALSE(w.contains(utc(2026, 5, 15, 21, 59)));  // Fri
  EXPECT_TRUE(w.contains(utc(2026, 5, 15, 22, 0)));
  EXPECT_TRUE(w.contains(utc(2026, 5, 16, 5, 59)));  // Sat early: Friday's window
  EXPECT_FALSE(w.contains(utc(2026, 5, 16, 6, 0)));
  EXPECT_FALSE(w.contains(utc(2026, 5, 16, 23, 0)));  // Sat late: not a window day
  EXPECT_FALSE(w.contains(utc(2026, 5, 15, 3, 0)));   // Fri early: Thursday's, not listed
  EXPECT_EQ(w.current_window_end(utc(2026, 5, 15, 23, 0)), utc(2026, 5, 16, 6, 0));
  EXPECT_EQ(w.next_opening(utc(2026, 5, 16, 6, 0)), utc(2026, 5, 22, 22, 0));
}

TEST(WindowSet, AdjacentWindowsMergeIntoOneEnd) {
  const auto w = make({weekly(kMon, 22, 0, 24, 0), weekly(kTue, 0, 0, 2, 0)});
  EXPECT_EQ(w.current_window_end(utc(2026, 5, 11, 23, 0)), utc(2026, 5, 12, 2, 0));
}

TEST(WindowSet, WindowStartingInsideTheSpringForwardGapOpensAtTheJump) {
  // Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
  const auto w = make({weekly(kSun, 2, 30, 4, 0, "Europe/Berlin")});
  EXPECT_FALSE(w.contains(utc(2026, 3, 29, 0, 59, 59)));  // 01:59:59 CET
  EXPECT_TRUE(w.contains(utc(2026, 3, 29, 1, 0)));        // 03:00 CEST
  EXPECT_EQ(w.next_opening(utc(2026, 3, 29, 0, 0)), utc(2026, 3, 29, 1, 0));
  EXPECT_EQ(w.current_window_end(utc(2026, 3, 29, 1, 30)), utc(2026, 3, 29, 2, 0));
}

TEST(WindowSet, RepeatedFallBackHourIsInsideTwice) {
  // Berlin 2026-10-25: 02:00-03:00 local happens at 00:00-01:00 UTC and 01:00-02:00 UTC.
  const auto w = make({weekly(kSun, 2, 15, 2, 45, "Europe/Berlin")});
  EXPECT_TRUE(w.contains(utc(2026, 10, 25, 0, 15)));
  EXPECT_FALSE(w.contains(utc(2026, 10, 25, 0, 50)));
  EXPECT_TRUE(w.contains(utc(2026, 10, 25, 1, 15)));
  EXPECT_EQ(w.current_window_end(utc(2026, 10, 25, 0, 20)), utc(2026, 10, 25, 0, 45));
  EXPECT_EQ(w.next_opening(utc(2026, 10, 25, 0, 50)), utc(2026, 10, 25, 1, 15));
}

TEST(WindowSet, NewYorkHoursShiftInUtcAcrossDst) {
  const auto w = make({weekly(kWeekdays, 9, 0, 17, 0, "America/New_York")});
  EXPECT_TRUE(w.contains(utc(2026, 3, 6, 14, 0)));    // Fri 09:00 EST
  EXPECT_FALSE(w.contains(utc(2026, 3, 6, 13, 30)));  // Fri 08:30 EST
  EXPECT_TRUE(w.contains(utc(2026, 3, 9, 13, 0)));    // Mon 09:00 EDT
  EXPECT_EQ(w.next_opening(utc(2026, 3, 7, 12, 0)), utc(2026, 3, 9, 13, 0));
  EXPECT_EQ(w.describe(utc(2026, 3, 9, 13, 0)), "Mon 2026-03-09 09:00 America/New_York");
}

TEST(WindowSet, OneOffWindowIsHalfOpenAndNeverReopens) {
  const auto w = make({one_off(utc(2026, 12, 1), utc(2026, 12, 2))});
  EXPECT_FALSE(w.contains(utc(2026, 11, 30, 23, 59, 59)));
  EXPECT_TRUE(w.contains(utc(2026, 12, 1)));
  EXPECT_FALSE(w.contains(utc(2026, 12, 2)));
  EXPECT_EQ(w.next_opening(utc(2026, 1, 1)), utc(2026, 12, 1));  // months ahead
  EXPECT_EQ(w.current_window_end(utc(2026, 12, 1, 12, 0)), utc(2026, 12, 2));
  EXPECT_FALSE(w.next_opening(utc(2026, 12, 3)).has_value());
  EXPECT_EQ(w.describe(utc(2026, 12, 1)), "Tue 2026-12-01 00:00 UTC");
}

TEST(WindowSet, OneOffAndWeeklyFormAUnion) {
  const auto w = make({weekly(kSat | kSun, 10, 0, 12, 0), one_off(utc(2026, 5, 13, 11), utc(2026, 5, 13, 12))});
  EXPECT_TRUE(w.contains(utc(2026, 5, 13, 11, 30)));  // Wednesday, one-off
  EXPECT_EQ(w.next_opening(utc(2026, 5, 13, 12, 0)), utc(2026, 5, 16, 10, 0));
}

TEST(WindowSet, EndOfAnEndlessWeeklyWindowIsAReCheckPoint) {
  const auto w = make({weekly(0x7f, 0, 0, 24, 0, "Europe/Berlin")});
  const tp now = utc(2026, 3, 28, 12, 0);
  EXPECT_TRUE(w.contains(now));
  EXPECT_EQ(w.current_window_end(now), now + std::chrono::seconds(WindowSet::kHorizon));
}

TEST(WindowSet, FarFutureUsesTheFooterRule) {
  const auto w = make({weekly(kWeekdays, 8, 0, 18, 0, "Europe/Berlin")});
  EXPECT_TRUE(w.contains(utc(2040, 7, 2, 6, 0)));    // Mon 08:00 CEST
  EXPECT_FALSE(w.contains(utc(2040, 12, 3, 6, 30)));  // Mon 07:30 CET
  EXPECT_TRUE(w.contains(utc(2040, 12, 3, 7, 0)));
  (void)kTue; (void)kWed; (void)kThu; (void)kSat;
}

}  // namespace
}  // namespace segproxy::authz
