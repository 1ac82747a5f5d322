#pragma once
// Where sessions hand audit records. The proxy must not act on a statement before the
// sink has said the statement's decision record is durable (fail_closed).
#include <chrono>
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

  // Same, for callers that can wait.
  Ticket submit(AuditRecord record) {
    auto p = std::make_shared<std::promise<bool>>();
    Ticket t(p->get_future().share());
    submit(std::move(record), [p](bool ok) { p->set_value(ok); });
    return t;
  }
};

}  // namespace segproxy::audit
