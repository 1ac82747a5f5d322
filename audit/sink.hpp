#pragma once
// Where sessions hand audit records. The proxy must not act on a statement before the
// sink has said the statement's decision record is durable (fail_closed).
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>

#include "audit/record.hpp"

namespace segproxy::audit {

// Completion of one submission, for callers that may block (tests, tools, shutdown).
class Ticket {
 public:
  explicit Ticket(std::shared_future<bool> f) : f_(std::move(f)) {}
  bool wait() const { return f_.get(); }  // true: recorded (or accepted under fail_open)
  bool ready() const {
    return f_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

 private:
  std::shared_future<bool> f_;
};

// One appended record: its seq and the sink's failure epoch at the time (a failed write
// ends an epoch; seqs after the epoch's durable watermark are then lost and reused).
struct AuditTicket {
  std::uint64_t seq = 0;     // 0: nothing was appended (see `accepted`)
  std::uint64_t epoch = 0;
  bool accepted = false;     // seq 0 and accepted: fail_open dropped it (counts as durable)
};

enum class DurableState { pending, durable, failed };

// The waiter of one I/O thread (daemon/session/audit_waiter.hpp): the sink calls
// durable_advanced() from its writer thread at most once per group commit (or failure)
// while the listener waits for a seq (wait_async), however many sessions wait behind it.
// Must be cheap and never block (post to the thread's executor).
class DurableListener {
 public:
  virtual ~DurableListener() = default;
  virtual void durable_advanced() noexcept = 0;

 private:
  friend class FileSink;
  std::uint64_t want_seq_ = 0;  // guarded by the sink: lowest seq waited for (0: none)
};

class AuditSink {
 public:
  // ok=true: the record is durable per audit.durability (fail_open: or it was accepted
  // while the log could not be written; such losses are audited on recovery).
  // ok=false: the record was not and will not be written; the caller must refuse.
  using OnDurable = std::function<void(bool ok)>;

  virtual ~AuditSink() = default;

  // Never blocks on I/O. `on_durable` is invoked exactly once, from the sink's writer
  // thread, never inline from submit: an Asio caller posts it back to its executor.
  // The sink assigns seq, ts, instance, prev_hash, hash and applies statement_text.
  virtual void submit(AuditRecord record, OnDurable on_durable) = 0;

  // Same contract as submit(), but the sink need not start writing yet: the record goes
  // out with the next batch, which the caller starts with lead() when it waits for the
  // answer (so records of many sessions submitted meanwhile share that batch); records
  // nobody waits for are written with the next batch or within the writer's tick.
  virtual void submit_deferred(AuditRecord record, OnDurable on_durable) {
    submit(std::move(record), std::move(on_durable));
  }
  // Starts writing what is queued: wakes the writer thread. Never blocks on I/O.
  virtual void lead() {}

  // The write-ahead API (docs/audit.md "Durable watermark"). append() encodes and queues
  // the record on the caller's thread and returns its seq at once (never blocks on I/O, no
  // allocation in the steady state); the record is durable when the watermark reaches it.
  // The defaults serve test doubles: everything is durable at once.
  virtual AuditTicket append(const AuditRecord& record) {
    submit_deferred(record, [](bool) {});
    return AuditTicket{0, 0, true};
  }
  virtual DurableState state(const AuditTicket& t) const {
    return t.accepted ? DurableState::durable : DurableState::failed;
  }
  // Registers `l` to be told (durable_advanced) once `lowest` is no longer pending, and
  // starts the group flush (a held wait never waits for a timer). `highest_seq` is the
  // highest seq the listener's sessions wait for (>= lowest.seq; the waiter knows it from
  // the same scan): the writer holds no group commit window for records up to it, since
  // their waits are already here (audit/group_window.hpp). A listener registers one range
  // per call; a new call replaces its registration. false: `lowest` is not pending (check
  // state()); `l` will not be called for it and nothing is noted.
  virtual bool wait_async(const AuditTicket& /*lowest*/, std::uint64_t /*highest_seq*/, DurableListener&) {
    return false;
  }
  // One session's wait: lowest and highest are the same record.
  bool wait_async(const AuditTicket& t, DurableListener& l) { return wait_async(t, t.seq, l); }
  // A waiter gave up on `t` after audit.max_wait: counts as a write failure (every pending
  // record fails, new ones are refused until the writer has finished its flush).
  virtual void timed_out(const AuditTicket&) {}
  virtual void add_listener(DurableListener&) {}
  virtual void remove_listener(DurableListener&) {}
  virtual std::chrono::milliseconds max_wait() const { return std::chrono::seconds(10); }

  // Same, for callers that can wait.
  Ticket submit(AuditRecord record) {
    auto p = std::make_shared<std::promise<bool>>();
    Ticket t(p->get_future().share());
    submit(std::move(record), [p](bool ok) { p->set_value(ok); });
    return t;
  }
};

}  // namespace segproxy::audit
