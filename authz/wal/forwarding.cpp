// The per-session write-ahead forwarding rule (forwarding.hpp).
#include "authz/wal/forwarding.hpp"

#include <algorithm>

namespace segproxy::authz::wal {

void Forwarding::submit(const Submission& m, std::uint64_t now_ms, std::vector<Action>& out) {
  queue_.push_back(Entry{m, last_record_});
  last_record_ = std::max(last_record_, m.record);
  pump(now_ms, out);
}

void Forwarding::note_record(std::uint64_t record) { last_record_ = std::max(last_record_, record); }

void Forwarding::on_durable(std::uint64_t watermark, std::uint64_t now_ms, std::vector<Action>& out) {
  watermark_ = std::max(watermark_, watermark);
  if (failed_ && watermark_ >= last_record_) failed_ = false;  // writing works again
  pump(now_ms, out);
}

bool Forwarding::explicit_block() const { return protocol_ == Protocol::Postgres && tx_ == Tx::Open; }

bool Forwarding::in_confirmed_transaction(const Entry& e) const {
  switch (e.m.kind) {
    case MessageKind::PgExecute:
    case MessageKind::PgExtended:
      // Held by the backend until the batch's Sync (or a block's COMMIT) in any case.
      return true;
    case MessageKind::PgQuery:
    case MessageKind::PgFunctionCall: return explicit_block();
    case MessageKind::MyCommand:
    case MessageKind::MyNoResponse:
      // IN_TRANS alone is trusted only with nothing outstanding: an ERR (deadlock) of an
      // earlier request may have rolled the transaction back, and the next statement
      // would then run in autocommit.
      return tx_ == Tx::Open && (!autocommit_ || outstanding() == 0);
    default: return false;
  }
}

Forwarding::Need Forwarding::need_of(const Entry& e) const {
  const auto commit = [&](bool ends_only, std::uint64_t own) {
    Need n;
    n.commit_point = true;
    n.waits = !(ends_only && !txn_writes_);
    n.record = std::max(e.prior, own);
    return n;
  };
  switch (e.m.kind) {
    case MessageKind::PgCopyData:
    case MessageKind::MyNoResponse: return Need{};
    case MessageKind::PgSync:
      if (explicit_block()) return Need{};  // ends no transaction
      return commit(true, e.m.record);
    default: break;
  }
  WriteClass k = e.m.klass;
  bool ends_only = e.m.ends_transaction_only;
  if (e.m.kind == MessageKind::PgQuery && batch_open_ && !explicit_block()) {
    // A simple Query commits the open batch's implicit transaction.
    if (k == WriteClass::ReadOnly) ends_only = true;
    else if (k != WriteClass::CommitPoint) ends_only = false;
    k = WriteClass::CommitPoint;
  }
  if ((k == WriteClass::Contained || k == WriteClass::Escaping) && !in_confirmed_transaction(e)) {
    k = WriteClass::CommitPoint;  // commits by itself (autocommit / implicit transaction)
    ends_only = false;
  }
  switch (k) {
    case WriteClass::ReadOnly:
    case WriteClass::Contained: return Need{};
    case WriteClass::Escaping: return Need{true, e.m.record, false};
    case WriteClass::CommitPoint: return commit(ends_only, e.m.record);
  }
  return Need{true, std::max(e.prior, e.m.record), true};
}

void Forwarding::void_until_next_status(bool own_status) {
  tx_ = Tx::Unknown;
  void_until_ = own_status ? requests_forwarded_ : requests_forwarded_ + 1;
}

void Forwarding::forward(const Entry& e, std::vector<Action>& out) {
  Action a{ActionKind::Forward, e.m.id, 0, false};
  const MessageKind kind = e.m.kind;
  if (kind == MessageKind::PgSync && batch_failed_) {
    a.abort_transaction = batch_abort_;  // make the batch fail before its Sync
    batch_failed_ = false;
    batch_abort_ = false;
  }
  out.push_back(a);
  forwarded_high_ = std::max(forwarded_high_, e.m.record);
  if (produces_status(kind)) request_forwarded();
  if (kind == MessageKind::PgSync) {
    batch_open_ = false;
    batch_executes_ = false;
    return;
  }
  if (kind == MessageKind::PgCopyData) return;
  if (extended(kind)) {
    batch_open_ = true;
    batch_executes_ = batch_executes_ || kind == MessageKind::PgExecute;
  }
  const Submission& c = e.m;
  if (c.klass != WriteClass::ReadOnly && !c.ends_transaction_only) txn_writes_ = true;
  if (c.transaction_control || c.klass == WriteClass::CommitPoint) void_until_next_status(produces_status(kind));
}

void Forwarding::fail_head(const Entry& e, const Need& need, bool cancel, std::vector<Action>& out) {
  Action a{cancel ? ActionKind::Cancel : ActionKind::Refuse, e.m.id, 0, false};
  if (extended(e.m.kind)) {
    // The backend would skip the rest of the batch; the Sync makes it fail if part of
    // it (or a block around it) is already open there.
    batch_failed_ = true;
    batch_abort_ = batch_abort_ || batch_open_ || explicit_block() || tx_ == Tx::Unknown;
    out.push_back(a);
    return;
  }
  if (protocol_ == Protocol::Postgres)
    a.abort_transaction = explicit_block() || tx_ == Tx::Unknown || batch_open_;  // an error fails the block
  else
    a.abort_transaction = !cancel && need.commit_point && tx_ != Tx::Idle;  // a refused commit rolls back
  out.push_back(a);
  // PostgreSQL: the session always answers a refused / cancelled request with a request
  // of its own (a Query raising the error, so it is answered in order): it produces a
  // status whether or not it aborts a transaction.
  if (protocol_ == Protocol::Postgres && !a.abort_transaction) request_forwarded();
  if (a.abort_transaction) {
    request_forwarded();  // the session's own ROLLBACK / failing request
    void_until_next_status(true);
    if (protocol_ == Protocol::Postgres && batch_open_) {
      batch_open_ = false;  // the session's request ends the batch too
      batch_executes_ = false;
    }
  }
}

void Forwarding::pump(std::uint64_t now_ms, std::vector<Action>& out) {
  while (!queue_.empty()) {
    const Entry& e = queue_.front();
    if (batch_failed_ && extended(e.m.kind)) {
      out.push_back(Action{ActionKind::Discard, e.m.id, 0, false});
    } else if (batch_failed_ && e.m.kind == MessageKind::PgSync) {
      forward(e, out);  // nothing of the batch commits
    } else {
      const Need n = need_of(e);
      if (!n.waits || n.record <= watermark_) {
        forward(e, out);
      } else if (failed_) {
        fail_head(e, n, false, out);
      } else {
        if (!head_waiting_) {
          head_waiting_ = true;
          held_since_ = now_ms;
        }
        if (n.record > flush_asked_) {
          flush_asked_ = n.record;
          out.push_back(Action{ActionKind::Flush, e.m.id, n.record, false});
        }
        return;
      }
    }
    queue_.pop_front();
    head_waiting_ = false;
  }
}

void Forwarding::status_received(Tx tx, bool idle_confirmed) {
  // One status per forwarded request (the last OK / EOF / ERR of a MySQL response); one
  // without a request (PostgreSQL's ReadyForQuery after startup) only sets the state.
  if (statuses_received_ < requests_forwarded_) ++statuses_received_;
  if (statuses_received_ < void_until_) return;  // answers a request before the voiding one
  tx_ = tx;
  if (idle_confirmed && outstanding() == 0 && !batch_open_) txn_writes_ = false;
}

void Forwarding::on_pg_ready(char status, std::uint64_t now_ms, std::vector<Action>& out) {
  status_received(status == 'I' ? Tx::Idle : status == 'T' || status == 'E' ? Tx::Open : Tx::Unknown,
                  status == 'I');
  pump(now_ms, out);
}

void Forwarding::on_pg_skipped(std::uint64_t now_ms, std::vector<Action>& out) {
  if (statuses_received_ < requests_forwarded_) ++statuses_received_;
  else ++skipped_ahead_;  // the skipped request is still held here: answered once it goes
  pump(now_ms, out);
}

void Forwarding::request_forwarded() {
  ++requests_forwarded_;
  if (skipped_ahead_ > 0) {
    --skipped_ahead_;
    ++statuses_received_;
  }
}

void Forwarding::on_mysql_status(bool in_transaction, bool autocommit, std::uint64_t now_ms,
                                 std::vector<Action>& out) {
  const bool trusted = std::min(statuses_received_ + 1, requests_forwarded_) >= void_until_;
  status_received(in_transaction || !autocommit ? Tx::Open : Tx::Idle, !in_transaction);
  if (trusted) autocommit_ = autocommit;
  pump(now_ms, out);
}

void Forwarding::on_mysql_error(std::uint64_t now_ms, std::vector<Action>& out) {
  if (statuses_received_ < requests_forwarded_) ++statuses_received_;
  tx_ = Tx::Unknown;
  void_until_ = std::max(void_until_, statuses_received_ + 1);
  pump(now_ms, out);
}

void Forwarding::on_write_failure(std::uint64_t now_ms, std::vector<Action>& out) {
  failed_ = true;
  pump(now_ms, out);
}

void Forwarding::on_write_recovered(std::uint64_t now_ms, std::vector<Action>& out) {
  failed_ = false;
  pump(now_ms, out);
}

void Forwarding::on_timer(std::uint64_t now_ms, std::vector<Action>& out) {
  if (head_waiting_ && now_ms >= held_since_ + max_wait_ms_) on_write_failure(now_ms, out);
}

std::uint64_t Forwarding::next_deadline() const { return head_waiting_ ? held_since_ + max_wait_ms_ : 0; }

void Forwarding::on_cancel(std::uint64_t now_ms, std::vector<Action>& out) {
  // Work the backend has (an unanswered request or an Execute of the open batch) is what
  // a cancel interrupts: pass it on; held messages stay held.
  if (queue_.empty() || outstanding() > 0 || batch_executes_) {
    out.push_back(Action{ActionKind::ForwardCancel, 0, 0, false});
    return;
  }
  const Entry& e = queue_.front();
  if (e.m.kind == MessageKind::PgSync) return;  // runs nothing: PostgreSQL ignores it too
  const Need n = need_of(e);
  Entry copy = e;
  queue_.pop_front();
  head_waiting_ = false;
  fail_head(copy, n, true, out);
  pump(now_ms, out);
}

}  // namespace segproxy::authz::wal
