#pragma once
// The write-ahead wait of one I/O thread (docs/audit.md "Durable watermark"): sessions on
// the thread append their records (audit::AuditSink::append) and await the durability of
// a seq here. The sink calls this thread back at most once per group commit, however
// many of its sessions wait; the first wait of a round starts the group flush (posted
// behind the handlers already queued, so the thread's other sessions join it). A wait is
// bounded by audit.max_wait; a longer one is reported to the sink as a write failure.
//
// Timers: a waiting session is suspended on a timer that never expires (it is cancelled
// when its record settles), so it never becomes the reactor's earliest timer and costs
// no timerfd_settime; ONE watchdog timer per thread enforces max_wait for all of them.
// It is armed for the oldest wait's deadline, at most kWatchdogTick ahead, re-armed only
// when it fires, and not cancelled when the waits drain: under load it costs one timer
// update per tick, not one per wait (issue 14: a timer per wait cost 0.5
// timerfd_settime per transaction). An io_context run to completion (tests) returns at
// most one tick after its last wait.
//
// One per worker io_context, created before and destroyed after its sessions (and after
// the io_context has stopped running: posted wake-ups refer to it).
#include <atomic>
#include <chrono>
#include <optional>
#include <vector>

#include "audit/sink.hpp"
#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

class AuditWaiter final : public audit::DurableListener {
 public:
  AuditWaiter(asio::any_io_executor ex, audit::AuditSink& sink);
  ~AuditWaiter() override;
  AuditWaiter(const AuditWaiter&) = delete;
  AuditWaiter& operator=(const AuditWaiter&) = delete;

  // true: the record is durable (fail_open: or accepted). false: it failed, or
  // audit.max_wait passed. Call on this waiter's thread only.
  awaitable<bool> wait(audit::AuditTicket t);

  // The same wait without a coroutine frame of its own (issue 14: the PostgreSQL relay's
  // held answer waits in its own frame): the caller owns a Slot (its timer on this
  // waiter's executor, reused wait after wait). begin(): the result at once when `t` is
  // settled (true: durable), otherwise nullopt - `slot` is registered, and the caller
  // co_awaits slot.timer.async_wait(...) and then calls finish(slot), which returns what
  // wait() would have. One wait per slot at a time; call on this waiter's thread only.
  struct Slot {
    explicit Slot(const asio::any_io_executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;  // never expires by itself
    audit::AuditTicket ticket;
    bool expired = false;
  };
  std::optional<bool> begin(Slot& slot, audit::AuditTicket t);
  bool finish(Slot& slot);

  // Ends this thread's waits for `t` at once: they return false, as for a failure, but
  // the sink is told nothing (the record stays pending and a later wait still sees what
  // becomes of it). A MySQL KILL QUERY for a command held for its record (issue 14,
  // guarantee 4: the cancel takes effect without waiting for the writer). Call on this
  // waiter's thread only.
  void interrupt(const audit::AuditTicket& t);

  // Writer thread: one post to this thread per call (coalesced while one is pending).
  void durable_advanced() noexcept override;

  std::uint64_t wakeups() const { return wakeups_; }  // resolved rounds (tests, metrics)
  std::uint64_t watchdog_arms() const { return watchdog_arms_; }  // tests

  static constexpr std::chrono::milliseconds kWatchdogTick{250};

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiting {
    audit::AuditTicket ticket;
    asio::steady_timer* timer;  // the session's suspension; cancelled to resume it
    Clock::time_point deadline;  // audit.max_wait after the wait began
    bool* expired;               // set by the watchdog before it resumes the session
  };
  // On the thread: resumes every session whose record is settled, registers the lowest
  // seq still pending with the sink (which starts the group flush).
  void start_flush();
  // The watchdog waits for `at` unless it already waits for an earlier time.
  void arm_watchdog(Clock::time_point at);
  // Resumes, as expired, every wait past its deadline; re-arms for the next deadline.
  void on_watchdog();

  asio::any_io_executor ex_;
  audit::AuditSink& sink_;
  std::vector<Waiting> waiting_;
  asio::steady_timer watchdog_;
  Clock::time_point watchdog_at_ = Clock::time_point::max();  // max: not armed
  bool flush_posted_ = false;
  std::atomic<bool> wake_posted_{false};
  std::uint64_t wakeups_ = 0;
  std::uint64_t watchdog_arms_ = 0;
};

// One record that a session must see durable before it goes on (session.open): through
// its thread's waiter when there is one; without one (tests that build no server) the
// sink's callback is posted back to `ex`, bounded by the sink's max_wait. true: durable
// (fail_open: or accepted); false: failed or timed out.
awaitable<bool> write_durably(audit::AuditSink& sink, AuditWaiter* waiter, asio::any_io_executor ex,
                              audit::AuditRecord record);

}  // namespace segproxy::proxy
