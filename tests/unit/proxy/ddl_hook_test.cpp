// daemon/runtime.hpp DdlHook: several subscribers (the PostgreSQL and the MySQL view
// loaders), each detached by its own token.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "daemon/runtime.hpp"

namespace segproxy::proxy {
namespace {

TEST(DdlHook, EverySubscriberIsCalled) {
  DdlHook hook;
  int a = 0;
  int b = 0;
  const auto ta = hook.attach([&] { ++a; });
  const auto tb = hook.attach([&] { ++b; });
  EXPECT_NE(ta, 0u);
  EXPECT_NE(tb, 0u);
  EXPECT_NE(ta, tb);
  hook();
  hook();
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
}

TEST(DdlHook, DetachRemovesOnlyThatSubscriber) {
  DdlHook hook;
  int a = 0;
  int b = 0;
  const auto ta = hook.attach([&] { ++a; });
  hook.attach([&] { ++b; });
  hook.detach(ta);
  hook();
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(hook.subscribers(), 1u);
  hook.detach(ta);  // twice: ignored
  hook.detach(0);   // never handed out: ignored
  EXPECT_EQ(hook.subscribers(), 1u);
}

TEST(DdlHook, WithoutSubscribersCallingIsANoOpAndEmptyFunctionsAreNotSubscribed) {
  DdlHook hook;
  hook();
  EXPECT_EQ(hook.attach({}), 0u);
  EXPECT_EQ(hook.subscribers(), 0u);
  hook();
}

TEST(DdlHook, ConcurrentCallsAttachesAndDetachesLoseNoCallOfAStableSubscriber) {
  DdlHook hook;
  std::atomic<int> stable{0};
  hook.attach([&] { stable.fetch_add(1, std::memory_order_relaxed); });
  constexpr int kCalls = 2000;
  std::thread caller([&] {
    for (int i = 0; i < kCalls; ++i) hook();
  });
  std::thread churn([&] {
    std::atomic<int> sink{0};
    for (int i = 0; i < kCalls; ++i) hook.detach(hook.attach([&] { sink.fetch_add(1); }));
  });
  caller.join();
  churn.join();
  EXPECT_EQ(stable.load(), kCalls);
  EXPECT_EQ(hook.subscribers(), 1u);
}

}  // namespace
}  // namespace segproxy::proxy
