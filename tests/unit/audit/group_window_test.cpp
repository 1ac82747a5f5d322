// The writer's group commit window (audit.group_delay, issue 14): woken by a wait, the
// writer holds the group open only while records of other sessions are in flight
// (appended, not yet waited for), never for a lone session, and ends the window as soon
// as every in-flight record is waited for. No timing thresholds: the windows are counted
// (SinkStats::group_delays) and the syncs per record compared.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "audit/group_window.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;
using namespace std::chrono_literals;

// The decision itself, table-driven.
TEST(GroupWindow, HoldsTheGroupOpenOnlyForAppendedRecordsNobodyWaitsForYet) {
  struct Row {
    const char* what;
    GroupWindowState s;
    std::chrono::microseconds delay;
    bool hold;
  };
  const Row rows[] = {
      {"lone session: its record is the one waited for", {10, 10, 9, 1, 100}, 50us, false},
      {"every session waits (the waited seq is the last record)", {14, 14, 9, 5, 100}, 50us, false},
      {"a later record is in flight", {11, 10, 9, 2, 100}, 50us, true},
      {"group_delay 0 never delays", {11, 10, 9, 2, 100}, 0us, false},
      {"the in-flight record was taken already", {11, 10, 11, 0, 100}, 50us, false},
      {"only internal entries after the waited seq (last_record unchanged)", {10, 10, 9, 3, 100}, 50us, false},
      {"the queue is half full: write now", {80, 10, 9, 71, 140}, 50us, false},
  };
  for (const Row& r : rows) EXPECT_EQ(hold_group_open(r.s, r.delay), r.hold) << r.what;
}

AuditConfig window_config(const fs::path& dir, std::chrono::microseconds delay) {
  AuditConfig cfg = base_config(dir);
  cfg.durability = Durability::group;
  cfg.group_delay = delay;
  return cfg;
}

bool eventually(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A window as long as the test's deadline: any window held for a lone session would be
// counted (and would stall the test), so latency at one client cannot grow.
TEST(GroupWindow, ALoneSessionIsNeverDelayedAndGetsOneSyncPerRecord) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(window_config(dir.path(), 10s), err);
  ASSERT_TRUE(sink) << err;
  const SinkStats s0 = sink->stats();
  constexpr int kRecords = 20;
  for (int i = 0; i < kRecords; ++i) {
    const AuditTicket t = sink->append(statement_record(i));
    ASSERT_TRUE(sink->wait_durable(t));
  }
  const SinkStats s1 = sink->stats();
  EXPECT_EQ(s1.group_delays - s0.group_delays, 0u);
  EXPECT_EQ(s1.syncs - s0.syncs, static_cast<std::uint64_t>(kRecords)) << "one fdatasync per record";
}

// Records appended after the window opened, by sessions that wait for them meanwhile,
// share the group's one write and fdatasync; the last wait ends the window (10 s long
// here: the test would stall without the early end).
TEST(GroupWindow, RecordsInFlightJoinTheGroupOfTheWaitThatOpenedItAndTheirWaitsEndTheWindow) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(window_config(dir.path(), 10s), err);
  ASSERT_TRUE(sink) << err;
  const AuditTicket r1 = sink->append(statement_record(1));
  const AuditTicket r2 = sink->append(statement_record(2));  // in flight: nobody waits yet
  const SinkStats s0 = sink->stats();
  auto w1 = std::async(std::launch::async, [&] { return sink->wait_durable(r1); });
  ASSERT_TRUE(eventually([&] { return sink->stats().group_delays == s0.group_delays + 1; }))
      << "the wait for r1 did not open a window although r2 was in flight";
  const AuditTicket r3 = sink->append(statement_record(3));  // joins the open group
  auto w2 = std::async(std::launch::async, [&] { return sink->wait_durable(r2); });
  auto w3 = std::async(std::launch::async, [&] { return sink->wait_durable(r3); });
  EXPECT_TRUE(w1.get());
  EXPECT_TRUE(w2.get());
  EXPECT_TRUE(w3.get());
  const SinkStats s1 = sink->stats();
  EXPECT_EQ(s1.syncs - s0.syncs, 1u) << "r1, r2 and r3 share one fdatasync";
  EXPECT_EQ(s1.group_delays - s0.group_delays, 1u);
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

// A record in flight that nobody ever waits for holds the group at most group_delay.
TEST(GroupWindow, AWindowForARecordNobodyWaitsForEndsAfterTheDelayAndTheGroupIsWritten) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(window_config(dir.path(), 2ms), err);
  ASSERT_TRUE(sink) << err;
  const AuditTicket r1 = sink->append(statement_record(1));
  const AuditTicket r2 = sink->append(statement_record(2));
  const SinkStats s0 = sink->stats();
  EXPECT_TRUE(sink->wait_durable(r1));
  EXPECT_EQ(sink->state(r2), DurableState::durable) << "taken with the group it held open";
  EXPECT_EQ(sink->stats().group_delays - s0.group_delays, 1u);
}

struct FlagListener final : DurableListener {
  std::atomic<int> calls{0};
  void durable_advanced() noexcept override { ++calls; }
};

// An I/O thread's waiter registers its lowest seq and declares the highest one its
// sessions wait for in the same call (wait_async(lowest, highest_seq, listener)): the
// records up to the highest are waited for, so the writer holds no window for them (10 s
// here: a window would be counted, and stall). Declaring only the lowest leaves the later
// record in flight and opens one (2 ms): the declaration is what ends it. An attempt whose
// records the writer's tick took before the wait (wait_async false) proves nothing and is
// repeated.
TEST(GroupWindow, AWaitThatDeclaresItsThreadsHighestSeqHoldsNoWindowForTheRecordsUpToIt) {
  for (const bool declare_highest : {true, false}) {
    bool tested = false;
    for (int attempt = 0; attempt < 20 && !tested; ++attempt) {
      TempDir dir;
      std::string err;
      auto sink = FileSink::open(window_config(dir.path(), declare_highest ? 10s : 2ms), err);
      ASSERT_TRUE(sink) << err;
      FlagListener l;
      sink->add_listener(l);
      const AuditTicket r1 = sink->append(statement_record(1));
      const AuditTicket r2 = sink->append(statement_record(2));
      const SinkStats s0 = sink->stats();
      const bool registered = declare_highest ? sink->wait_async(r1, r2.seq, l) : sink->wait_async(r1, l);
      if (registered) {
        tested = true;
        EXPECT_TRUE(eventually([&] { return l.calls.load() > 0; })) << "the listener was never called";
        EXPECT_EQ(sink->state(r1), DurableState::durable);
        EXPECT_EQ(sink->stats().group_delays - s0.group_delays, declare_highest ? 0u : 1u)
            << (declare_highest ? "a window was held for a record the wait declared" : "no window for r2 in flight");
      }
      sink->remove_listener(l);
    }
    EXPECT_TRUE(tested) << "the writer's tick took the records before every wait";
  }
}

// fsync_each and interval never hold a window.
TEST(GroupWindow, OnlyDurabilityGroupHoldsAWindow) {
  for (const Durability d : {Durability::fsync_each, Durability::interval}) {
    TempDir dir;
    std::string err;
    AuditConfig cfg = window_config(dir.path(), 10s);
    cfg.durability = d;
    auto sink = FileSink::open(cfg, err);
    ASSERT_TRUE(sink) << err;
    const AuditTicket r1 = sink->append(statement_record(1));
    sink->append(statement_record(2));
    EXPECT_TRUE(sink->wait_durable(r1));
    EXPECT_EQ(sink->stats().group_delays, 0u);
  }
}

}  // namespace
}  // namespace segproxy::audit
