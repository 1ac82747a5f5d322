// The small value parsers behind the loader: sizes, durations, host:port, suggestions.
#include <gtest/gtest.h>

#include "config/detail.hpp"

namespace segproxy::config::detail {
namespace {

using std::chrono::milliseconds;

TEST(ConfigParsers, SizesAcceptPlainIntegersAndBinarySuffixes) {
  const std::vector<std::pair<const char*, std::uint64_t>> ok = {
      {"0", 0}, {"10000", 10000}, {"12B", 12}, {"4KiB", 4096},
      {"64MiB", 64ull << 20}, {"2GiB", 2ull << 30}};
  for (const auto& [text, want] : ok) {
    std::string why;
    EXPECT_EQ(parse_size(text, why), want) << text << ": " << why;
  }
  for (const char* bad : {"", "MiB", "-1", "1.5MiB", "64 MiB", "64mb", "64KB", "1TiB", " 1",
                          "99999999999999999999", "18446744073709551615GiB"}) {
    std::string why;
    EXPECT_FALSE(parse_size(bad, why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ConfigParsers, DurationsNeedAUnitExceptZero) {
  const std::vector<std::pair<const char*, milliseconds>> ok = {
      {"0", milliseconds(0)},       {"0s", milliseconds(0)},
      {"500ms", milliseconds(500)}, {"10s", milliseconds(10000)},
      {"5m", milliseconds(300000)}, {"2h", milliseconds(7200000)}};
  for (const auto& [text, want] : ok) {
    std::string why;
    EXPECT_EQ(parse_duration(text, why), want) << text << ": " << why;
  }
  for (const char* bad : {"", "10", "s", "-1s", "1.5s", "10 s", "10sec", "1d", "10S",
                          "99999999999h"}) {
    std::string why;
    EXPECT_FALSE(parse_duration(bad, why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ConfigParsers, HostPortAcceptsNamesIpv4AndBracketedIpv6) {
  struct Case { const char* text; const char* host; std::uint16_t port; };
  for (const Case& c : {Case{"127.0.0.1:6432", "127.0.0.1", 6432}, Case{"[::1]:6432", "::1", 6432},
                        Case{"db.internal:1", "db.internal", 1},
                        Case{"0.0.0.0:65535", "0.0.0.0", 65535}}) {
    std::string why;
    const auto ep = parse_host_port(c.text, why);
    ASSERT_TRUE(ep.has_value()) << c.text << ": " << why;
    EXPECT_EQ(ep->host, c.host);
    EXPECT_EQ(ep->port, c.port);
  }
  for (const char* bad : {"", "6432", ":6432", "host:", "host:0", "host:65536", "host:-1",
                          "::1:6432", "[::1]6432", "[::1]:", "[]:6432", "[::1", "host:64x"}) {
    std::string why;
    EXPECT_FALSE(parse_host_port(bad, why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ConfigParsers, SuggestionOnlyForSmallEditDistance) {
  const std::vector<std::string> keys = {"listen", "listeners", "protocol", "name"};
  EXPECT_EQ(suggestion("lisen", keys), " (did you mean \"listen\"?)");
  EXPECT_EQ(suggestion("listners", keys), " (did you mean \"listeners\"?)");
  EXPECT_EQ(suggestion("protocl", keys), " (did you mean \"protocol\"?)");
  EXPECT_EQ(suggestion("banana", keys), "");
  EXPECT_EQ(suggestion("x", keys), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
}

}  // namespace
}  // namespace segproxy::config::detail
