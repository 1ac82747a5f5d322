// daemon/session/audit_waiter: the I/O thread's side of the write-ahead wait (issue 14).
// Many sessions of one thread wait for their records; the thread is woken at most once
// per group commit; a wait past audit.max_wait is false and counts as a write failure.
#include "daemon/session/audit_waiter.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "audit/file_sink.hpp"
#include "tests/unit/audit/audit_test_support.hpp"

namespace segproxy::proxy {
namespace {

using namespace std::chrono_literals;
using audit::test::TempDir;

class HangingSyncOps : public audit::PosixFileOps {
 public:
  std::atomic<bool> hang{false};
  int fdatasync(int fd) override {
    while (hang.load()) std::this_thread::sleep_for(1ms);
    return audit::PosixFileOps::fdatasync(fd);
  }
};

// A sink whose fdatasync hangs while ops->hang is set (null when it cannot be opened).
std::unique_ptr<audit::FileSink> open_hanging_sink(const TempDir& dir, const std::shared_ptr<HangingSyncOps>& ops,
                                                   std::chrono::milliseconds max_wait) {
  auto cfg = audit::test::base_config(dir.path());
  cfg.max_wait = max_wait;
  std::string err;
  auto sink = audit::FileSink::open(cfg, err, {nullptr, ops, nullptr});
  EXPECT_TRUE(sink) << err;
  return sink;
}

awaitable<void> one_session(audit::FileSink& sink, AuditWaiter& waiter, int i, int& ok, int& failed) {
  const audit::AuditTicket t = sink.append(audit::test::statement_record(i));
  const bool durable = co_await waiter.wait(t);
  ++(durable ? ok : failed);
}

awaitable<void> wait_one(AuditWaiter& waiter, audit::AuditTicket t, std::optional<bool>& result) {
  result = co_await waiter.wait(t);
}

TEST(AuditWaiter, SessionsOfOneThreadSeeTheirRecordsDurableWithAtMostOneWakeUpPerGroupCommit) {
  TempDir dir;
  std::string err;
  auto sink = audit::FileSink::open(audit::test::base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  asio::io_context io;
  int ok = 0, failed = 0;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    const std::uint64_t batches0 = sink->stats().batches;
    for (int round = 0; round < 5; ++round) {
      for (int i = 0; i < 40; ++i) asio::co_spawn(io, one_session(*sink, waiter, i, ok, failed), asio::detached);
      io.restart();
      io.run();
    }
    const std::uint64_t commits = sink->stats().batches - batches0;
    EXPECT_EQ(ok, 200);
    EXPECT_EQ(failed, 0);
    EXPECT_GE(waiter.wakeups(), 1u);
    EXPECT_LE(waiter.wakeups(), commits) << "more wake-ups of the thread than group commits";
    EXPECT_LT(waiter.wakeups(), 200u / 4) << "woken per session, not per group";
  }
}

// The frame-free form the PostgreSQL relay uses (AuditWaiter::Slot): one slot, reused
// wait after wait, says what wait() would: pending -> resumed by the group commit ->
// durable; settled already -> the answer at once, nothing registered.
awaitable<void> slot_waits(audit::FileSink& sink, AuditWaiter& waiter, AuditWaiter::Slot& slot, int n, int& durable,
                           int& at_once) {
  for (int i = 0; i < n; ++i) {
    const audit::AuditTicket t = sink.append(audit::test::statement_record(i));
    std::optional<bool> now = waiter.begin(slot, t);
    if (!now) {
      error_code ignored;
      co_await slot.timer.async_wait(asio::redirect_error(use_awaitable, ignored));
      now = waiter.finish(slot);
    }
    durable += *now ? 1 : 0;
    // Settled now: a second begin answers at once.
    const std::optional<bool> again = waiter.begin(slot, t);
    at_once += again.has_value() && *again ? 1 : 0;
  }
}

TEST(AuditWaiter, OneSlotReusedWaitAfterWaitSeesEachRecordDurableAndASettledRecordAtOnce) {
  TempDir dir;
  std::string err;
  auto sink = audit::FileSink::open(audit::test::base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  asio::io_context io;
  int durable = 0, at_once = 0;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    AuditWaiter::Slot slot(io.get_executor());
    asio::co_spawn(io, slot_waits(*sink, waiter, slot, 5, durable, at_once), asio::detached);
    io.run();
  }
  EXPECT_EQ(durable, 5);
  EXPECT_EQ(at_once, 5);
}

TEST(AuditWaiter, ASlotWaitPastMaxWaitFinishesFalseAndCountsAsAWriteFailure) {
  TempDir dir;
  auto ops = std::make_shared<HangingSyncOps>();
  auto sink = open_hanging_sink(dir, ops, 100ms);
  ASSERT_TRUE(sink);
  asio::io_context io;
  int durable = 0, at_once = 0;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    AuditWaiter::Slot slot(io.get_executor());
    ops->hang = true;
    asio::co_spawn(io, slot_waits(*sink, waiter, slot, 1, durable, at_once), asio::detached);
    io.run();
    ops->hang = false;
  }
  EXPECT_EQ(durable, 0);
  EXPECT_GE(sink->stats().timeouts, 1u);
}

TEST(AuditWaiter, AWaitPastMaxWaitIsFalseAndCountsAsAWriteFailure) {
  TempDir dir;
  auto ops = std::make_shared<HangingSyncOps>();
  auto sink = open_hanging_sink(dir, ops, 100ms);
  ASSERT_TRUE(sink);
  asio::io_context io;
  int ok = 0, failed = 0;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    ops->hang = true;
    for (int i = 0; i < 3; ++i) asio::co_spawn(io, one_session(*sink, waiter, i, ok, failed), asio::detached);
    io.run();
    EXPECT_EQ(ok, 0);
    EXPECT_EQ(failed, 3);
    EXPECT_GE(sink->stats().timeouts, 1u);
    EXPECT_FALSE(sink->stats().healthy);
    ops->hang = false;
    for (int i = 0; i < 300 && !sink->stats().healthy; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(sink->stats().healthy);
    asio::co_spawn(io, one_session(*sink, waiter, 9, ok, failed), asio::detached);
    io.restart();
    io.run();
    EXPECT_EQ(ok, 1);
  }
}

// The per-thread watchdog (issue 14: a timer per wait cost a timerfd_settime per
// transaction): overlapping waits share one armed watchdog; max_wait still ends them.
TEST(AuditWaiter, OverlappingWaitsShareOneWatchdogAndStillEndAtMaxWait) {
  TempDir dir;
  auto ops = std::make_shared<HangingSyncOps>();
  auto sink = open_hanging_sink(dir, ops, 300ms);
  ASSERT_TRUE(sink);
  asio::io_context io;
  int ok = 0, failed = 0;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    ops->hang = true;
    for (int i = 0; i < 40; ++i) asio::co_spawn(io, one_session(*sink, waiter, i, ok, failed), asio::detached);
    io.poll();  // every session is now waiting
    EXPECT_EQ(ok + failed, 0);
    EXPECT_EQ(waiter.watchdog_arms(), 1u) << "one watchdog for all waits, not a timer each";
    io.run();  // the watchdog ends them at max_wait (a tick or two re-arms it)
    EXPECT_EQ(failed, 40);
    EXPECT_LT(waiter.watchdog_arms(), 40u);
    EXPECT_GE(sink->stats().timeouts, 1u);
    ops->hang = false;
  }
}

// A MySQL KILL QUERY of a command held for its record (issue 14, guarantee 4): the
// session's wait ends at once (false) without the writer, and without telling the sink
// anything: the record stays pending and becomes durable when the writer goes on.
TEST(AuditWaiter, AnInterruptedWaitEndsAtOnceWhileItsRecordStaysPendingAndLaterBecomesDurable) {
  TempDir dir;
  auto ops = std::make_shared<HangingSyncOps>();
  auto sink = open_hanging_sink(dir, ops, 10min);
  ASSERT_TRUE(sink);
  asio::io_context io;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    ops->hang = true;
    const audit::AuditTicket t = sink->append(audit::test::statement_record(1));
    std::optional<bool> result;
    asio::co_spawn(io, wait_one(waiter, t, result), asio::detached);
    asio::post(io, [&] { waiter.interrupt(t); });
    io.run();  // returns only once the wait has ended: the writer still hangs
    ASSERT_TRUE(result.has_value());
    EXPECT_FALSE(*result);
    EXPECT_EQ(sink->state(t), audit::DurableState::pending) << "the interrupt touched the record";
    EXPECT_EQ(sink->stats().timeouts, 0u) << "an interrupt is not a write failure";
    ops->hang = false;
    for (int i = 0; i < 3000 && sink->state(t) == audit::DurableState::pending; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(sink->state(t), audit::DurableState::durable);
  }
}

}  // namespace
}  // namespace segproxy::proxy

namespace segproxy::proxy {
namespace {

// The group commit window (audit.group_delay): the thread tells the sink the highest seq
// its sessions wait for, so records waited for by a later session of the same thread do
// not look "in flight" and hold no window (10 s here: it would be counted, and stall).
TEST(AuditWaiter, WaitsOfOneThreadCoverTheirRecordsSoTheWriterHoldsNoGroupWindowForThem) {
  TempDir dir;
  auto cfg = audit::test::base_config(dir.path());
  cfg.group_delay = std::chrono::seconds(10);
  std::string err;
  auto sink = audit::FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  asio::io_context io;
  {
    AuditWaiter waiter(io.get_executor(), *sink);
    const audit::AuditTicket r1 = sink->append(audit::test::statement_record(1));
    const audit::AuditTicket r2 = sink->append(audit::test::statement_record(2));
    const audit::SinkStats s0 = sink->stats();
    std::optional<bool> w1, w2;
    asio::co_spawn(io, wait_one(waiter, r1, w1), asio::detached);
    asio::co_spawn(io, wait_one(waiter, r2, w2), asio::detached);
    io.run();
    EXPECT_EQ(w1, std::optional<bool>(true));
    EXPECT_EQ(w2, std::optional<bool>(true));
    EXPECT_EQ(sink->stats().group_delays - s0.group_delays, 0u) << "the lowest seq alone was registered";
  }
}

}  // namespace
}  // namespace segproxy::proxy
