// protocols/common/time_text: the one RFC 3339 reader (issue 20). Config windows, audit
// record timestamps, the admin protocol and segproxyctl's --since/--until/--at all read
// times through parse_rfc3339, so its range rule holds for every one of them.
#include "protocols/common/time_text.hpp"

#include <gtest/gtest.h>

namespace segproxy::protocols {
namespace {

using namespace std::chrono;
using TimePoint = system_clock::time_point;

TimeProblem problem_of(std::string_view s, TimeSyntax syntax = TimeSyntax::Rfc3339) {
  TimeProblem p = TimeProblem::None;
  EXPECT_FALSE(parse_rfc3339(s, syntax, &p).has_value()) << s;
  return p;
}

TimePoint utc(year_month_day d, hours h = hours{0}, minutes m = minutes{0}) { return sys_days{d} + h + m; }

// Same class as the config fuzz finding (year 0226 overflowed the clock's nanoseconds):
// a year the clock cannot hold is refused as out of range before any conversion, in
// both syntaxes, whatever the offset.
TEST(TimeText, YearsOutside1970To2200AreOutOfRangeNeverConverted) {
  for (const char* bad : {"0226-12-02T00:00:00Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                          "2201-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59",
                          "1969-12-31T23:59:59.999999999-12:00"}) {
    EXPECT_EQ(problem_of(bad), TimeProblem::OutOfRange) << bad;
  }
  for (const char* bad :
       {"0226-12-02T00:00:00Z", "1969-12-31T23:59:59Z", "2201-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    EXPECT_EQ(problem_of(bad, TimeSyntax::Utc), TimeProblem::OutOfRange) << bad;
  }
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z", TimeSyntax::Utc), TimePoint{});
  EXPECT_EQ(parse_rfc3339("2200-12-31T23:59:59.999999999Z", TimeSyntax::Utc),
            TimePoint{sys_days{2201y / January / 1}} - nanoseconds{1});
  EXPECT_EQ(time_problem_text(TimeProblem::OutOfRange), "is out of range (years 1970 to 2200)");
}

TEST(TimeText, ImpossibleDatesAndClockTimesAreMalformed) {
  for (const char* bad : {"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-30T00:00:00Z",
                          "2027-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-00T00:00:00Z",
                          "2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z", "2026-12-01T23:59:60Z"}) {
    EXPECT_EQ(problem_of(bad), TimeProblem::Malformed) << bad;
  }
  // Malformed wins over the range: a year 0226 with month 13 is not a time at all.
  EXPECT_EQ(problem_of("0226-13-01T00:00:00Z"), TimeProblem::Malformed);
}

TEST(TimeText, LeapDay2028IsAcceptedIn2027Refused) {
  EXPECT_EQ(parse_rfc3339("2028-02-29T12:00:00Z", TimeSyntax::Rfc3339), utc(2028y / February / 29, hours{12}));
  EXPECT_EQ(parse_rfc3339("2028-02-29T12:00:00Z", TimeSyntax::Utc), utc(2028y / February / 29, hours{12}));
  EXPECT_EQ(problem_of("2027-02-29T12:00:00Z"), TimeProblem::Malformed);
  EXPECT_EQ(problem_of("2100-02-29T12:00:00Z"), TimeProblem::Malformed);  // centuries are no leap years
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z", TimeSyntax::Rfc3339));  // ... unless divisible by 400
}

TEST(TimeText, OffsetsFromMinusTwelveToPlusFourteenMoveTheInstantToUtc) {
  const TimePoint noon = utc(2026y / December / 1, hours{12});
  EXPECT_EQ(parse_rfc3339("2026-12-02T02:00:00+14:00", TimeSyntax::Rfc3339), noon);  // Kiribati
  EXPECT_EQ(parse_rfc3339("2026-12-01T00:00:00-12:00", TimeSyntax::Rfc3339), noon);  // Baker Island
  EXPECT_EQ(parse_rfc3339("2026-12-01T17:30:00+05:30", TimeSyntax::Rfc3339), noon);
  EXPECT_EQ(parse_rfc3339("2026-12-01T12:00:00-00:00", TimeSyntax::Rfc3339), noon);
  EXPECT_EQ(parse_rfc3339("2026-12-01 12:00:00z", TimeSyntax::Rfc3339), noon);
  EXPECT_EQ(parse_rfc3339("2026-12-01t12:00:00.5Z", TimeSyntax::Rfc3339), noon + 500ms);
  // The range is the year as written: 1970-01-01 at +14:00 is still in 1969 UTC.
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00+14:00", TimeSyntax::Rfc3339), TimePoint{} - hours{14});
  for (const char* bad : {"2026-12-01T12:00:00+24:00", "2026-12-01T12:00:00+14:60", "2026-12-01T12:00:00+5:00",
                          "2026-12-01T12:00:00+0500", "2026-12-01T12:00:00+05:00junk", "2026-12-01T12:00:00 +05:00"}) {
    EXPECT_EQ(problem_of(bad), TimeProblem::Malformed) << bad;
  }
}

TEST(TimeText, GarbageIsMalformedNotAnError) {
  using namespace std::string_view_literals;
  for (const std::string_view bad :
       {""sv, "now"sv, "tomorrow"sv, "2026-12-01"sv, "2026-12-01T12:00:00"sv, "2026-12-01T12:00Z"sv,
        "2026/12/01T12:00:00Z"sv, "+2026-12-01T12:00:00Z"sv, "-026-12-01T12:00:00Z"sv, "2026-12-01T12:00:00.Z"sv,
        "2026-12-01T12:00:00.1234567890Z"sv, "2026-12-01T12:00:00Z\n"sv, "2026-12-01T12:00:00\0Z"sv,
        "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-12-01T12:00:00Z"sv, "2026-1a-01T12:00:00Z"sv}) {
    EXPECT_EQ(problem_of(bad), TimeProblem::Malformed) << bad;
  }
  EXPECT_EQ(time_problem_text(TimeProblem::Malformed), "is not an RFC 3339 time");
}

// What the project writes is read strictly: UTC 'Z', a 'T', no offset, no space.
TEST(TimeText, UtcSyntaxTakesOnlyWhatTheProjectWrites) {
  const TimePoint t = utc(2026y / November / 22, hours{12}, minutes{3}) + seconds{29};
  EXPECT_EQ(parse_rfc3339("2026-11-22T12:03:29Z", TimeSyntax::Utc), t);
  EXPECT_EQ(parse_rfc3339("2026-11-22T12:03:29.123456789Z", TimeSyntax::Utc), t + nanoseconds{123456789});
  for (const char* bad : {"2026-11-22T12:03:29+00:00", "2026-11-22T12:03:29z", "2026-11-22 12:03:29Z"}) {
    EXPECT_EQ(problem_of(bad, TimeSyntax::Utc), TimeProblem::Malformed) << bad;
    EXPECT_TRUE(parse_rfc3339(bad, TimeSyntax::Rfc3339)) << bad;  // people may write them
  }
  EXPECT_EQ(parse_time("2026-11-22T12:03:29.999Z"), t);  // whole seconds
  EXPECT_FALSE(parse_time("2201-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace segproxy::protocols
