// protocols/common/fifo: the per-session request queues (issue 15, memory per idle
// session). An empty queue holds no heap memory (std::deque held ~0.5 KB), a queue filled
// and drained one message at a time never grows (no allocation per message), and order
// is kept across the compaction that replaces growing.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/common/fifo.hpp"

namespace segproxy::protocols {
namespace {

template <class T>
const T* address_of_front(const Fifo<T>& f) {
  return &f.front();
}

TEST(Fifo, AnEmptyQueueHoldsNoHeapMemory) {
  Fifo<std::string> f;
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(f.begin(), f.end());
  EXPECT_EQ(f.capacity(), 0u);
  f.push_back("one");
  f.pop_front();
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.capacity(), 1u) << "drained: the one slot is kept for the next message, nothing more";
}

TEST(Fifo, OneMessageAtATimeReusesTheSameSlotForever) {
  Fifo<std::uint64_t> f;
  f.push_back(0);
  const std::uint64_t* slot = address_of_front(f);
  f.pop_front();
  for (std::uint64_t i = 1; i < 10000; ++i) {
    f.push_back(i);
    ASSERT_EQ(address_of_front(f), slot) << "message " << i << " moved the queue: an allocation per message";
    ASSERT_EQ(f.front(), i);
    f.pop_front();
    ASSERT_TRUE(f.empty());
  }
}

TEST(Fifo, OrderIsKeptWhilePushesAndPopsInterleaveAcrossCompactions) {
  Fifo<std::string> f;
  std::size_t next_in = 0;
  std::size_t next_out = 0;
  // A pipelining pattern: the queue never runs empty, so only compaction keeps it bounded.
  for (int round = 0; round < 2000; ++round) {
    for (int k = 0; k < 3; ++k) f.push_back("m" + std::to_string(next_in++));
    for (int k = 0; k < 2 && !f.empty(); ++k) {
      ASSERT_EQ(f.front(), "m" + std::to_string(next_out)) << "round " << round;
      f.pop_front();
      ++next_out;
    }
    ASSERT_EQ(f.size(), next_in - next_out);
    if (!f.empty()) {
      ASSERT_EQ(f.back(), "m" + std::to_string(next_in - 1));
      ASSERT_EQ(f[f.size() - 1], f.back());
    }
  }
  std::size_t i = next_out;
  for (const auto& s : f) EXPECT_EQ(s, "m" + std::to_string(i++));
  while (!f.empty()) {
    EXPECT_EQ(f.front(), "m" + std::to_string(next_out++));
    f.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(Fifo, ARunningQueueDoesNotGrowPastTwiceItsLargestBacklog) {
  // Steady state with a backlog of 4: pushes and pops alternate without the queue ever
  // emptying. Compaction must keep the storage bounded (a vector that only grew would
  // keep every popped element).
  Fifo<int> f;
  for (int i = 0; i < 4; ++i) f.push_back(i);
  for (int i = 4; i < 100000; ++i) {
    f.push_back(i);
    f.pop_front();
    ASSERT_EQ(f.size(), 4u);
    ASSERT_EQ(f.front(), i - 3);
    ASSERT_LE(f.capacity(), 16u) << "after " << i << " messages";
  }
  f.clear();
  EXPECT_TRUE(f.empty());
  EXPECT_LE(f.capacity(), 16u);
}

}  // namespace
}  // namespace segproxy::protocols
