// UTF-8 validity as PostgreSQL and MySQL's utf8mb4 define it (protocols/common/utf8.hpp).
#include "protocols/common/utf8.hpp"

#include <gtest/gtest.h>

namespace segproxy::protocols {
namespace {

TEST(Utf8, ValidTextIsAccepted) {
  for (const char* s : {"", "select 1", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
                        "\xed\x9f\xbf", "\xef\xbf\xbf"}) {
    EXPECT_TRUE(is_valid_utf8(s)) << s;
  }
}

TEST(Utf8, InvalidSequencesAreRejected) {
  for (const char* s : {"caf\xe9", "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80" /* surrogate */,
                        "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80" /* > U+10FFFF */, "\xf5\x80\x80\x80", "\xff",
                        "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc3\x28", "ok\xe2\x28\xa1"}) {
    EXPECT_FALSE(is_valid_utf8(s)) << testing::PrintToString(std::string(s));
  }
}

}  // namespace
}  // namespace segproxy::protocols
