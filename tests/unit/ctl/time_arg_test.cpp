// segproxyctl's time arguments (issue 20): --since / --until of audit verify / export (also
// with --postgres) and policy replay, --at of policy explain / test, all read by
// ctl/time_arg with the configuration's rule (protocols/common/time_text, years
// 1970..2200). A value outside the years is a usage error (exit 2) naming the range.
#include "ctl/time_arg.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "ctl/audit.hpp"
#include "ctl/policy.hpp"

namespace segproxy::proxy::ctl {
namespace {

using namespace std::chrono;
using TimePoint = system_clock::time_point;

std::optional<TimePoint> time_arg(std::string_view s) {
  std::string why;
  auto t = parse_time_arg(s, why);
  EXPECT_EQ(why.empty(), t.has_value()) << s << ": " << why;
  return t;
}

std::string why_of(std::string_view s) {
  std::string why;
  EXPECT_FALSE(parse_time_arg(s, why)) << s;
  return why;
}

struct Outcome {
  int rc;
  std::string err;
};

Outcome audit(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int rc = run_audit(args, out, err);
  return {rc, err.str()};
}

Outcome policy(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int rc = run_policy(args, out, err);
  return {rc, err.str()};
}

const std::string kOutOfRange = "is out of range (years 1970 to 2200)";

TEST(CtlTimeArg, Rfc3339AsTheConfigReadsItOrADateAtMidnightUtc) {
  const auto day = sys_days{2026y / November / 22};
  EXPECT_EQ(time_arg("2026-11-22"), TimePoint{day});
  EXPECT_EQ(time_arg("2026-11-22T12:03:29Z"), day + hours{12} + minutes{3} + seconds{29});
  EXPECT_EQ(time_arg("2026-11-22T12:03:29.123456Z"), day + hours{12} + minutes{3} + seconds{29} + microseconds{123456});
  EXPECT_EQ(time_arg("2026-11-22T12:00:00+01:30"), day + hours{10} + minutes{30});
  EXPECT_EQ(time_arg("2026-11-22T00:00:00-02:00"), day + hours{2});
  EXPECT_EQ(time_arg("2026-11-22 12:00:00Z"), day + hours{12});  // the space RFC 3339 allows, as in the config
  EXPECT_EQ(time_arg("2028-02-29"), TimePoint{sys_days{2028y / February / 29}});
  EXPECT_EQ(time_arg("2026-11-23T02:00:00+14:00"), day + hours{12});
  EXPECT_EQ(time_arg("2026-11-22T00:00:00-12:00"), day + hours{12});
  const auto off = time_arg("2026-11-23T11:30:00.250+01:30");
  ASSERT_TRUE(off);
  EXPECT_EQ(format_instant(*off), "2026-11-23T10:00:00Z");  // how --at is shown back
}

TEST(CtlTimeArg, YearsOutside1970To2200AreRefusedNamingTheRange) {
  for (const char* bad : {"0226-12-02T00:00:00Z", "0226-12-02", "1969-12-31", "1969-12-31T23:59:59Z", "2201-01-01",
                          "2201-01-01T00:00:00+14:00", "9999-12-31", "9999-12-31T23:59:59-12:00"}) {
    const std::string why = why_of(bad);
    EXPECT_EQ(why, "\"" + std::string(bad) + "\" " + kOutOfRange) << bad;
  }
  EXPECT_TRUE(time_arg("1970-01-01"));
  EXPECT_TRUE(time_arg("2200-12-31T23:59:59Z"));
}

TEST(CtlTimeArg, MalformedValuesAreRefusedShownSafelyAndShortened) {
  for (const char* bad : {"", "tomorrow", "2026-13-01", "2026-02-30", "2027-02-29", "2026-11-31", "2026-11-22T12:00:00",
                          "2026-11-22T24:00:00Z", "2026-11-22T12:00:00.Z", "2026-11-22T12:00:00Zjunk",
                          "2026-11-22T12:00:00+1:00", "2026-11-22T12:00:00+24:00", "2026-11-2x", "2026-11-22T"}) {
    const std::string why = why_of(bad);
    EXPECT_EQ(why.rfind("\"" + std::string(bad) + "\" is not an RFC 3339 time (expected e.g. ", 0), 0u) << why;
  }
  EXPECT_EQ(why_of("2026\x1b[2J").rfind("\"2026?[2J\" is not", 0), 0u);  // no escape reaches the terminal
  const std::string why = why_of(std::string(1000, '9'));
  EXPECT_EQ(why.rfind("\"" + std::string(64, '9') + "...\" is not", 0), 0u) << why;
}

// The commands: an out-of-range value is a usage error (2) before anything is read or
// connected to, with the option's name and the range in the message.
TEST(CtlTimeArg, EveryTimeOptionExitsTwoOnAYearOutsideTheRange) {
  Outcome r = audit({"export", "/nonexistent-dir", "--since", "0226-12-02T00:00:00Z"});
  EXPECT_EQ(r.rc, kAuditExitUsage);
  EXPECT_EQ(r.err, "segproxyctl audit export: --since \"0226-12-02T00:00:00Z\" " + kOutOfRange + "\n");
  r = audit({"export", "/nonexistent-dir", "--until", "2201-01-01"});
  EXPECT_EQ(r.rc, kAuditExitUsage);
  EXPECT_EQ(r.err, "segproxyctl audit export: --until \"2201-01-01\" " + kOutOfRange + "\n");
  r = audit({"export", "--postgres", "host=/nonexistent", "--since", "9999-12-31"});
  EXPECT_EQ(r.rc, kAuditExitUsage);
  EXPECT_EQ(r.err, "segproxyctl audit export: --since \"9999-12-31\" " + kOutOfRange + "\n");
  r = audit({"verify", "--postgres", "host=/nonexistent", "--since", "1969-12-31T23:59:59Z"});
  EXPECT_EQ(r.rc, kAuditExitUsage);
  EXPECT_EQ(r.err, "segproxyctl audit verify: --since \"1969-12-31T23:59:59Z\" " + kOutOfRange + "\n");
  r = policy({"replay", "--config", "/nonexistent.yaml", "--until", "2201-01-01", "/nonexistent-dir"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "segproxyctl policy replay: --until \"2201-01-01\" " + kOutOfRange + "\n");
  r = policy({"explain", "--config", SEGPROXY_CTL_TESTDATA "/pg_policy.yaml", "--identity",
              "spiffe://example.org/ns/billing/api", "--database", "shop", "--at", "0226-12-02T00:00:00Z", "select 1"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err, "segproxyctl policy: --at \"0226-12-02T00:00:00Z\" " + kOutOfRange + "\n");
}

}  // namespace
}  // namespace segproxy::proxy::ctl
