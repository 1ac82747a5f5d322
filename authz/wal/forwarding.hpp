#pragma once
// The write-ahead forwarding rule of one session (issue 14, docs/audit.md "Write-ahead
// forwarding"): a small state object the session drives with events and whose answers
// are actions. Pure: no I/O, no clock (times are numbers the session passes in), no
// audit writer (records are sequence numbers; the writer's durable watermark is a number
// the session reports).
//
// Rules it keeps:
//  - strictly in order: messages leave the queue only from its head, so nothing overtakes
//    a held message;
//  - read-only and contained messages go at once; escaping ones wait until their own
//    record is durable; a commit point waits until every record of the session up to it
//    is durable, except a Sync / COMMIT whose only effect is ending a transaction that
//    holds only read-only records;
//  - only the backend confirms a transaction: PostgreSQL's last ReadyForQuery said T/E
//    (or the message is an Execute of an unsynced extended batch); MySQL's last OK/EOF
//    said autocommit off, or IN_TRANS with no request outstanding. Forwarding a commit
//    point or transaction-control statement, and a MySQL ERR, void it until the status
//    that answers it. A non-read-only message outside a confirmed transaction is a commit
//    point; so is a simple Query sent into an open extended batch outside a block (it
//    commits the batch);
//  - waiting is bounded: a held head asks for a flush (Flush action) and a wait longer
//    than max_wait counts as a write failure;
//  - fail closed: while records cannot be written nothing needing a durable record is
//    forwarded (Refuse); a refused commit point rolls its transaction back;
//  - a cancel for a held message cancels it in the proxy (it is never forwarded).
#include <cstdint>
#include <vector>

#include "authz/wal/write_class.hpp"

namespace segproxy::authz::wal {

enum class MessageKind : std::uint8_t {
  PgQuery,         // simple Query: answered by one ReadyForQuery
  PgExtended,      // Parse / Bind / Describe / Close / Flush: part of an extended batch.
                   // Bind plans the statement (and may fold its immutable functions then):
                   // submit it with the statement's class and decision record.
  PgExecute,       // Execute: runs a portal inside the batch (class: what it runs)
  PgSync,          // ends the batch: answered by one ReadyForQuery (class ignored)
  PgFunctionCall,  // fast-path call: answered by one ReadyForQuery
  PgCopyData,      // CopyData / CopyDone / CopyFail of a COPY in progress (no record)
  MyCommand,       // MySQL command answered by OK / EOF / ERR (COM_QUERY, COM_STMT_EXECUTE, ...)
  MyNoResponse,    // COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA: never answered
};

// What the rule needs of a message (no strings: submitting allocates nothing).
struct Submission {
  std::uint64_t id = 0;  // the session's handle, echoed in actions
  MessageKind kind = MessageKind::PgQuery;
  WriteClass klass = WriteClass::ReadOnly;  // ignored for PgSync / PgCopyData
  bool ends_transaction_only = false;
  bool transaction_control = false;
  std::uint64_t record = 0;  // sequence number of its (last) decision record; 0: none

  static Submission of(std::uint64_t id, MessageKind kind, const MessageClass& c, std::uint64_t record) {
    return Submission{id, kind, c.klass, c.ends_transaction_only, c.transaction_control, record};
  }
};

enum class ActionKind : std::uint8_t {
  Forward,        // write the message to the backend now
  Flush,          // ask the audit writer to make records up to `record` durable now
  Refuse,         // never forwarded: answer 58030 / ER_ERROR_ON_WRITE (1026)
  Cancel,         // never forwarded: answer 57014 / ER_QUERY_INTERRUPTED (1317)
  Discard,        // never forwarded, no answer of its own: an extended message after a
                  // refused / cancelled one in the same batch (the backend would skip it)
  ForwardCancel,  // the cancel is for work the backend already has: pass it on
};

struct Action {
  ActionKind kind = ActionKind::Forward;
  std::uint64_t id = 0;      // the message (0 for ForwardCancel)
  std::uint64_t record = 0;  // Flush: the record to make durable
  // Refuse / Cancel / Forward of a Sync: the backend's open transaction must fail to
  // match what the client is told. PostgreSQL: make the block fail (one failing Query,
  // its ReadyForQuery reported as a status) or, for a batch, fail it before its Sync;
  // a refused commit point: ROLLBACK. MySQL: ROLLBACK (its OK reported as a status).
  // For a Refuse / Cancel the session's own request counts as one status-producing
  // request; for a Sync the Sync's own ReadyForQuery answers it.
  bool abort_transaction = false;
  bool operator==(const Action&) const = default;
};

enum class Protocol : std::uint8_t { Postgres, Mysql };

class Forwarding {
 public:
  Forwarding(Protocol protocol, std::uint64_t max_wait_ms) : protocol_(protocol), max_wait_ms_(max_wait_ms) {}

  // A decoded, judged and recorded client message. Actions are appended to `out`.
  void submit(const Submission& m, std::uint64_t now_ms, std::vector<Action>& out);
  // A decision record not tied to a forwarded message (a denial, session.open): commit
  // points after it wait for it too.
  void note_record(std::uint64_t record);
  // The audit writer's durable watermark (every record <= it is durable).
  void on_durable(std::uint64_t watermark, std::uint64_t now_ms, std::vector<Action>& out);
  // Backend statuses. PostgreSQL: ReadyForQuery's byte ('I', 'T', 'E'). MySQL: the
  // status flags of an OK / EOF, or an ERR.
  void on_pg_ready(char status, std::uint64_t now_ms, std::vector<Action>& out);
  // PostgreSQL: a forwarded request the backend skipped (a Query / FunctionCall sent into
  // an extended batch it had failed, discarded up to the Sync): it is answered without a
  // status, so the state stays as it was (the Sync's status follows). The session may
  // know it before the rule forwarded the request (still held): it counts when it goes.
  void on_pg_skipped(std::uint64_t now_ms, std::vector<Action>& out);
  void on_mysql_status(bool in_transaction, bool autocommit, std::uint64_t now_ms, std::vector<Action>& out);
  void on_mysql_error(std::uint64_t now_ms, std::vector<Action>& out);
  // Records cannot be written (fail_closed). Cleared by on_write_recovered or by the
  // watermark moving again.
  void on_write_failure(std::uint64_t now_ms, std::vector<Action>& out);
  void on_write_recovered(std::uint64_t now_ms, std::vector<Action>& out);
  // The session's timer: a head held for max_wait or longer counts as a write failure.
  void on_timer(std::uint64_t now_ms, std::vector<Action>& out);
  // A cancel request (PostgreSQL CancelRequest, MySQL KILL QUERY) for this session.
  void on_cancel(std::uint64_t now_ms, std::vector<Action>& out);

  // When the session's timer should fire next (0: no held message).
  std::uint64_t next_deadline() const;
  // Answers: backend bytes read now may reach the client once the watermark is at least
  // this (the highest record of every message forwarded so far).
  std::uint64_t answer_needs() const { return forwarded_high_; }
  std::size_t held() const { return queue_.size(); }
  bool write_failed() const { return failed_; }

 private:
  struct Entry {
    Submission m;
    std::uint64_t prior = 0;  // the session's last record before it (commit points wait for it)
  };
  enum class Tx : std::uint8_t { Idle, Open, Unknown };
  struct Need {
    bool waits = false;       // needs a durable record
    std::uint64_t record = 0;  // ... up to this one
    bool commit_point = false;
  };

  // The held messages: a ring that grows but never shrinks, so the steady state
  // allocates nothing per message.
  class Ring {
   public:
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    const Entry& front() const { return slots_[head_]; }
    void push_back(const Entry& e) {
      if (size_ == slots_.size()) grow();
      slots_[(head_ + size_) % slots_.size()] = e;
      ++size_;
    }
    void pop_front() {
      head_ = (head_ + 1) % slots_.size();
      --size_;
    }

   private:
    void grow() {
      std::vector<Entry> next(slots_.empty() ? 8 : slots_.size() * 2);
      for (std::size_t i = 0; i < size_; ++i) next[i] = slots_[(head_ + i) % slots_.size()];
      slots_ = std::move(next);
      head_ = 0;
    }
    std::vector<Entry> slots_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
  };

  Need need_of(const Entry& e) const;
  bool in_confirmed_transaction(const Entry& e) const;
  bool explicit_block() const;  // PostgreSQL: confirmed 'T' / 'E'
  void pump(std::uint64_t now_ms, std::vector<Action>& out);
  void forward(const Entry& e, std::vector<Action>& out);
  void fail_head(const Entry& e, const Need& need, bool cancel, std::vector<Action>& out);
  void status_received(Tx tx, bool idle_confirmed);
  void request_forwarded();  // a status-producing request goes (or the session's own stand-in)
  void void_until_next_status(bool own_status);
  std::uint64_t outstanding() const { return requests_forwarded_ - statuses_received_; }
  static bool produces_status(MessageKind k) {
    return k == MessageKind::PgQuery || k == MessageKind::PgSync || k == MessageKind::PgFunctionCall ||
           k == MessageKind::MyCommand;
  }
  static bool extended(MessageKind k) { return k == MessageKind::PgExtended || k == MessageKind::PgExecute; }

  Protocol protocol_;
  std::uint64_t max_wait_ms_;
  Ring queue_;
  std::uint64_t watermark_ = 0;
  std::uint64_t last_record_ = 0;     // the session's last decision record
  std::uint64_t forwarded_high_ = 0;  // highest record of a forwarded message
  std::uint64_t flush_asked_ = 0;     // highest record a Flush was emitted for
  std::uint64_t held_since_ = 0;      // when the current head began to wait
  bool head_waiting_ = false;
  bool failed_ = false;
  // Transaction state as the backend confirmed it.
  Tx tx_ = Tx::Idle;
  bool autocommit_ = true;
  std::uint64_t requests_forwarded_ = 0;  // status-producing requests forwarded
  std::uint64_t statuses_received_ = 0;
  std::uint64_t skipped_ahead_ = 0;       // PostgreSQL: skips reported before their request was forwarded
  std::uint64_t void_until_ = 0;          // statuses are trusted from this count on
  bool batch_open_ = false;               // PostgreSQL: extended messages forwarded since the last Sync
  bool batch_executes_ = false;           // ... and among them an Execute (the backend may be busy)
  bool batch_failed_ = false;             // a message of the current batch was refused / cancelled
  bool batch_abort_ = false;              // ... after part of the batch was forwarded: abort at Sync
  bool txn_writes_ = false;               // a non-read-only message forwarded since confirmed idle
};

}  // namespace segproxy::authz::wal
