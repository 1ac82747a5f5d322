#pragma once
// The write-ahead wait of one I/O thread (docs/audit.md "Durable watermark"): sessions on
// the thread append their records (audit::AuditSink::append) and await the durability of
// a seq here. The sink calls this thread back at most once per group commit, however
// many of its sessions wait; the first wait of a round starts the group flush (posted
// behind the handlers already queued, so the thread's other sessions join it). A wait is
// bounded by audit.max_wait; a longer one is reported to the sink as a write failure.
//
// One per worker io_context, created before and destroyed after its sessions (and after
// the io_context has stopped running: posted wake-ups refer to it).
#include <atomic>
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

  // Ends this thread's waits for `t` at once: they return false, as for a failure, but
  // the sink is told nothing (the record stays pending and a later wait still sees what
  // becomes of it). A MySQL KILL QUERY for a command held for its record (issue 14,
  // guarantee 4: the cancel takes effect without waiting for the writer). Call on this
  // waiter's thread only.
  void interrupt(const audit::AuditTicket& t);

  // Writer thread: one post to this thread per call (coalesced while one is pending).
  void durable_advanced() noexcept override;

  std::uint64_t wakeups() const { return wakeups_; }  // resolved rounds (tests, metrics)

 private:
  struct Waiting {
    audit::AuditTicket ticket;
    asio::steady_timer* timer;
  };
  // On the thread: resumes every session whose record is settled, registers the lowest
  // seq still pending with the sink (which starts the group flush).
  void start_flush();

  asio::any_io_executor ex_;
  audit::AuditSink& sink_;
  std::vector<Waiting> waiting_;
  bool flush_posted_ = false;
  std::atomic<bool> wake_posted_{false};
  std::uint64_t wakeups_ = 0;
};

}  // namespace segproxy::proxy
