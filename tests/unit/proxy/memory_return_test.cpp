#include "daemon/memory_return.hpp"

#include <gtest/gtest.h>

namespace segproxy::proxy {
namespace {

TEST(MemoryReturn, ChurnBelowTheMinimumDropNeverTrims) {
  MemoryReturn m;
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(m.should_trim(200));
    EXPECT_FALSE(m.should_trim(200 - MemoryReturn::kMinDrop + 1));
  }
}

TEST(MemoryReturn, TheEndOfABurstTrimsOnceAndThePeakStartsAgainFromThere) {
  MemoryReturn m;
  EXPECT_FALSE(m.should_trim(20));
  EXPECT_FALSE(m.should_trim(1060));  // a flood: 1,000 half-open connections
  EXPECT_FALSE(m.should_trim(1000));
  EXPECT_TRUE(m.should_trim(50));     // the flood is over
  EXPECT_FALSE(m.should_trim(50));    // once
  EXPECT_FALSE(m.should_trim(20));
  EXPECT_FALSE(m.should_trim(160));   // a new peak
  EXPECT_TRUE(m.should_trim(20));     // and its end
}

TEST(MemoryReturn, ALargeInstanceTrimsOnlyWhenAQuarterOfItsPeakHasGone) {
  MemoryReturn m;
  EXPECT_FALSE(m.should_trim(4000));
  EXPECT_FALSE(m.should_trim(3001));
  EXPECT_TRUE(m.should_trim(3000));
}

TEST(MemoryReturn, ResidentSizeOfThisProcessIsReadable) {
  EXPECT_GT(resident_kib(), 0u);
  return_free_memory();
  EXPECT_GT(resident_kib(), 0u);
}

}  // namespace
}  // namespace segproxy::proxy
