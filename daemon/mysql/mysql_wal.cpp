// MySQL session: the write-ahead audit rule (issue 14, docs/audit.md "The guarantee").
// Each judged command's decision record is appended (audit::AuditSink::append) and the
// command, with its class (authz/wal/mysql_write_class.hpp, computed by the gate from
// the same analysis), is submitted to the session's one authz::wal::Forwarding, whose
// actions the session carries out in order: Forward (write the command), Flush (wait
// through the thread's AuditWaiter for the records it names), Refuse (ER_ERROR_ON_WRITE
// 1026), Cancel (ER_QUERY_INTERRUPTED 1317: a KILL QUERY for a held command; it is never
// forwarded) and, for a refused commit point, the proxy's ROLLBACK whose OK is reported
// back as a status. The backend's OK / EOF status flags and ERRs feed the rule. Answers
// are held until the records of everything forwarded before them are durable
// (relay_response, mysql_relay.cpp). Only `durability: group | fsync_each` with
// `on_failure: fail_closed` gives the guarantee; otherwise records are appended and
// nothing waits.
//
// Records are numbered per session (1, 2, ...) for the rule: after a failed write the
// log reuses seqs, the session's numbers never go back. A session waits for every record
// it appended before it reads its next command (the answer waits for it), so a failed
// record is always met by a wait: the command is refused (or its answer replaced) and the
// failure is then forgiven (wal_forgive) - the session stays usable and recovers with
// the log. The one exception is a command cancelled while held (KILL QUERY, answered at
// once): its record may still be pending when the next command is read, and is waited
// for with that command's.
#include <algorithm>

#include "authz/gate/mysql_errors.hpp"
#include "protocols/mysql/packets.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/session/session_audit.hpp"
#include "daemon/session/audit_waiter.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
namespace wal = authz::wal;

namespace {
constexpr std::uint16_t ER_QUERY_INTERRUPTED = 1317;
}  // namespace

void MysqlSession::wal_start() {
  wal_.reset();
  if (svc_.audit == nullptr || !rt_->config.audit) return;
  const auto& a = *rt_->config.audit;
  const bool guarantee = (a.durability == "group" || a.durability == "fsync_each") && a.on_failure == "fail_closed";
  if (!guarantee) return;  // interval / fail_open: append and never wait
  if (svc_.audit_waiter == nullptr) {
    // Every server worker has one; a session built without (a test harness) cannot wait.
    svc_.log.warn("audit.no_waiter", {{"session", id_text_}, {"protocol", "mysql"}});
    return;
  }
  const auto max_wait = static_cast<std::uint64_t>(svc_.audit->max_wait().count());
  wal_.emplace(wal::Protocol::Mysql, max_wait);
  wal_actions_.reserve(8);
  wal_pending_.reserve(8);
  // The login's OK: the session starts in autocommit (or what the backend said).
  const my::StatusFlags st = tracker_->status();
  wal_->on_mysql_status((st & my::SERVER_STATUS_IN_TRANS) != 0, (st & my::SERVER_STATUS_AUTOCOMMIT) != 0,
                        wal_now_ms(), wal_actions_);
  wal_actions_.clear();
}

wal::ClassContext MysqlSession::wal_context() const {
  wal::ClassContext c;
  // THE place the WalCatalog enters the MySQL session: the catalog the loader published
  // for this listener and database (daemon/catalog/wal_catalogs.hpp). Without one, no
  // table read is proven read-only and nothing is contained (stricter, never weaker).
  const auto listener = static_cast<std::size_t>(listener_ - rt_->listeners.data());
  // Copied out of the slot only when a loader published into it (or USE changed the slot;
  // adopt() resets the reader for a reloaded rt_); the reader keeps it alive: c.catalog
  // points into it.
  const WalCatalogView& view = wal_catalog_.view(rt_->wal_catalogs, listener, database_);
  c.catalog = view.catalog.get();
  // Not trusted while a DDL is forwarded and unanswered, nor when the catalog's load began
  // before this session's last DDL took effect.
  c.catalog_current = !wal_catalog_stale_ && view.current_after(last_ddl_);
  c.default_schema = database_;
  return c;
}

std::uint64_t MysqlSession::wal_now_ms() const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::optional<std::uint64_t> MysqlSession::wal_append(const audit::AuditRecord& r) {
  if (svc_.audit == nullptr) return 0;
  const audit::AuditTicket t = svc_.audit->append(r);
  if (t.seq == 0) {
    if (t.accepted) return 0;  // fail_open dropped it (counted and audited by the sink)
    return std::nullopt;       // fail_closed: cannot be recorded, must not run
  }
  if (!wal_) return 0;  // no guarantee: nothing waits for it
  const std::uint64_t n = ++wal_next_;
  wal_pending_.push_back(WalPending{n, t});
  if (wal_->write_failed()) {  // the log takes records again
    wal_actions_.clear();
    wal_->on_write_recovered(wal_now_ms(), wal_actions_);
    wal_actions_.clear();
  }
  return n;
}

awaitable<bool> MysqlSession::wal_wait(std::uint64_t upto) {
  while (!wal_pending_.empty() && wal_pending_.front().n <= upto) {
    const audit::AuditTicket t = wal_pending_.front().ticket;
    audit::DurableState st = svc_.audit->state(t);
    if (st == audit::DurableState::pending) {
      const bool ok = co_await svc_.audit_waiter->wait(t);
      st = ok ? audit::DurableState::durable : audit::DurableState::failed;
    }
    if (st != audit::DurableState::durable) co_return false;
    if (!wal_pending_.empty() && wal_pending_.front().ticket.seq == t.seq) wal_pending_.erase(wal_pending_.begin());
  }
  wal_durable_ = wal_pending_.empty() ? wal_next_ : wal_pending_.front().n - 1;
  co_return true;
}

// After a failed wait was answered (the command refused, its answer replaced and the
// transaction rolled back): the session's lost records are settled. Records still
// pending in a newer epoch stay.
void MysqlSession::wal_forgive() {
  std::erase_if(wal_pending_,
                [&](const WalPending& p) { return svc_.audit->state(p.ticket) == audit::DurableState::failed; });
  wal_durable_ = wal_pending_.empty() ? wal_next_ : wal_pending_.front().n - 1;
  if (!wal_) return;
  wal_actions_.clear();
  wal_->on_durable(wal_durable_, wal_now_ms(), wal_actions_);
  wal_actions_.clear();
}

// A denial's record is durable before its ERR goes out (false: it is not; the caller
// answers ER_ERROR_ON_WRITE instead). An allowed command's record is appended and its
// session number put in `record` for the write-ahead rule (false: the log refused it).
awaitable<bool> MysqlSession::audit_decision(const Verdict& v, std::string_view text, std::string_view kind,
                                             std::uint64_t* record) {
  std::uint64_t wait = 0;
  const Audited a = audit_decision_now(v, text, kind, record, wait);
  if (a != Audited::Wait) co_return a == Audited::Recorded;
  if (co_await wal_wait(wait)) co_return true;
  wal_forgive();
  co_return false;
}

MysqlSession::Audited MysqlSession::audit_decision_now(const Verdict& v, std::string_view text, std::string_view kind,
                                                       std::uint64_t* record, std::uint64_t& wait) {
  if (seg_metrics_ != nullptr && !(v.allow && kind == "COM_STMT_EXECUTE")) {
    seg_metrics_->statements(statement_label(v.command), v.allow ? Decision::Allow : Decision::Deny).inc();
    if (v.allow && v.shadow_deny) seg_metrics_->count_shadow_denial(v.shadow_rule);
  }
  if (!v.allow) {
    svc_.log.info("statement.denied", {{"session", id_text_},
                                       {"protocol", "mysql"},
                                       {"segment", segment_},
                                       {"kind", std::string(kind)},
                                       {"code", std::to_string(v.code)},
                                       {"reason", v.message}});
  }
  if (svc_.audit == nullptr) return Audited::Recorded;
  audit::AuditRecord r = audit_record("statement.decision");
  r.statement = std::string(text);
  if (v.fingerprint != 0) r.fingerprint = fingerprint_hex(v.fingerprint);
  r.tables = v.tables;
  r.decision = v.allow ? "allow" : "deny";
  r.rule_id = v.rule_id;
  r.grant_id = v.allow ? v.grant_id : std::string();  // emergency grants
  r.reason = v.allow ? std::string() : (v.audit_reason.empty() ? v.message : v.audit_reason);
  if (!v.allow) r.sqlstate = v.sqlstate;
  if (v.allow && v.shadow_deny) {  // docs/policy.md "Shadow mode"
    r.shadow_decision = "deny";
    r.shadow_rule = v.shadow_rule;
  }
  const std::optional<std::uint64_t> n = wal_append(r);
  if (!n) return Audited::Refused;
  if (record != nullptr) *record = *n;
  if (v.allow || !wal_ || *n == 0) return Audited::Recorded;
  wal_->note_record(*n);  // commit points after it wait for it too
  wait = *n;
  return Audited::Wait;
}

// On the session's thread (the registry posts it). The hold's wait (wal_wait, suspended
// in the waiter on the oldest pending record) ends at once: the command is answered 1317
// without waiting for the writer (a stalled disk must not make a KILL QUERY wait for
// audit.max_wait). Its record stays pending and is waited for by the session's next
// command; if it then fails, that command is refused (fail closed).
void MysqlSession::cancel_held() {
  if (!wal_holding_) return;
  wal_cancel_ = true;
  if (!wal_pending_.empty() && svc_.audit_waiter != nullptr) svc_.audit_waiter->interrupt(wal_pending_.front().ticket);
}

void MysqlSession::wal_status(const my::ResponseSummary& s) {
  if (!wal_) return;
  wal_actions_.clear();
  if (s.error) wal_->on_mysql_error(wal_now_ms(), wal_actions_);
  else wal_->on_mysql_status(s.in_transaction(), s.autocommit(), wal_now_ms(), wal_actions_);
  // One command at a time: nothing is held while a response is relayed.
  wal_actions_.clear();
}

wal::MessageClass MysqlSession::wal_command_class(const my::Command& cmd) {
  if (std::holds_alternative<my::ComResetConnection>(cmd)) {
    return wal::transaction_control("COM_RESET_CONNECTION rolls the transaction back");
  }
  if (std::holds_alternative<my::ComInitDb>(cmd)) return wal::escaping("USE changes the session");
  // PING, STATISTICS, FIELD_LIST (metadata), STMT_PREPARE (parses only), STMT_RESET,
  // STMT_FETCH (rows of an execution that had its own record), SET_OPTION.
  return wal::read_only(std::string());
}

awaitable<bool> MysqlSession::wal_answer_err(std::uint8_t seq, std::uint16_t code, const std::string& sqlstate,
                                             const std::string& message) {
  protocols::Bytes out;
  my::encode_err_packet(out, seq, code, sqlstate, message, client_caps_);
  co_return co_await write_client(out);
}

void MysqlSession::wal_submit(const wal::Submission& m) {
  if (!wal_) return;
  wal_actions_.clear();
  wal_->submit(m, wal_now_ms(), wal_actions_);
}

bool MysqlSession::wal_forwards_now(const wal::Submission& m) const {
  if (!wal_) return true;
  return std::any_of(wal_actions_.begin(), wal_actions_.end(),
                     [&](const wal::Action& a) { return a.kind == wal::ActionKind::Forward && a.id == m.id; });
}

awaitable<MysqlSession::WalOutcome> MysqlSession::wal_forward(const wal::Submission& m,
                                                              std::span<const std::uint8_t> frame,
                                                              std::uint8_t reply_seq, bool submitted) {
  if (!submitted) wal_submit(m);
  bool failed_wait = false;
  for (int rounds = 0;; ++rounds) {
    bool forwarded = !wal_;
    bool answered = false;
    bool cancel = false;
    bool abort = false;
    std::uint64_t flush = 0;
    for (const wal::Action& a : wal_actions_) {
      switch (a.kind) {
        case wal::ActionKind::Forward: forwarded = forwarded || a.id == m.id; break;
        case wal::ActionKind::Flush: flush = std::max(flush, a.record); break;
        case wal::ActionKind::Refuse:
        case wal::ActionKind::Cancel:
          if (a.id == m.id) {
            answered = true;
            cancel = a.kind == wal::ActionKind::Cancel;
            abort = a.abort_transaction;
          }
          break;
        case wal::ActionKind::Discard:
        case wal::ActionKind::ForwardCancel: break;  // PostgreSQL batches / the KILL itself reaches the backend
      }
    }
    if (forwarded) {
      if (wal_) wal_answer_needs_ = wal_->answer_needs();
      error_code ec;
      co_await backend_->write(asio::buffer(frame.data(), frame.size()), ec);
      if (ec) {
        close_reason_ = "backend write: " + ec.message();
        co_return WalOutcome::Failed;
      }
      co_return WalOutcome::Forwarded;
    }
    if (answered) {
      std::string message;
      std::uint16_t code = ER_ERROR_ON_WRITE;
      std::string sqlstate = "HY000";
      if (cancel) {
        code = ER_QUERY_INTERRUPTED;
        sqlstate = "70100";
        message = "Query execution was interrupted (segproxy: cancelled while it waited for its audit record; it "
                  "was not run)";
      } else {
        message = "segproxy: the audit log cannot record this statement, so it was not run";
      }
      if (abort) {
        // A refused commit point: the transaction must not commit without its records.
        if (!co_await rollback_backend()) {
          message += " (segproxy could not roll the transaction back and closes the connection; the server rolls "
                     "it back)";
          co_await wal_answer_err(reply_seq, code, sqlstate, message);
          co_return WalOutcome::Failed;
        }
        if (!m.ends_transaction_only) {
          txn_aborted_ = true;
          message += " (segproxy rolled the transaction back; statements are refused until ROLLBACK)";
        } else {
          message += " (segproxy rolled the transaction back; nothing was committed)";
        }
      }
      if (failed_wait) wal_forgive();
      if (!co_await wal_answer_err(reply_seq, code, sqlstate, message)) co_return WalOutcome::Failed;
      co_return WalOutcome::Answered;
    }
    // Held: wait for the records the rule named (every record appended so far at most).
    const std::uint64_t target = flush != 0 ? flush : wal_next_;
    if (rounds > 0 && flush == 0 && wal_durable_ >= wal_next_ && !wal_cancel_) {
      // Everything is durable and the rule still holds it: cannot happen; fail closed.
      svc_.log.error("audit.hold_stuck", {{"session", id_text_}, {"protocol", "mysql"}});
      wal_actions_.clear();
      wal_->on_write_failure(wal_now_ms(), wal_actions_);
      failed_wait = true;
      continue;
    }
    wal_holding_ = true;
    const bool ok = co_await wal_wait(target);
    wal_holding_ = false;
    if (state_ != State::Idle) co_return WalOutcome::Failed;  // terminated while it waited
    wal_actions_.clear();
    const std::uint64_t now = wal_now_ms();
    if (wal_cancel_) {
      wal_cancel_ = false;
      wal_->on_cancel(now, wal_actions_);
      if (!ok) failed_wait = true;
      continue;
    }
    if (ok) {
      wal_->on_durable(wal_durable_, now, wal_actions_);
    } else {
      failed_wait = true;
      const std::uint64_t deadline = wal_->next_deadline();
      if (deadline != 0 && now >= deadline) wal_->on_timer(now, wal_actions_);
      if (!wal_->write_failed()) wal_->on_write_failure(now, wal_actions_);
    }
  }
}

// An answer whose record failed (relay_response withheld it and read the rest of the
// response): replaced by ER_ERROR_ON_WRITE, the backend transaction rolled back to match.
awaitable<bool> MysqlSession::wal_replace_answer() {
  wal_answer_withheld_ = false;
  const std::string sqlstate = "HY000";
  std::string message = "segproxy: the audit log cannot record this statement; its answer was withheld";
  if (tracker_->in_transaction()) {
    if (!co_await rollback_backend()) {
      message += " (segproxy could not roll the transaction back and closes the connection)";
      co_await wal_answer_err(response_seq_, ER_ERROR_ON_WRITE, sqlstate, message);
      co_return false;
    }
    txn_aborted_ = true;
    message += " (segproxy rolled the transaction back; statements are refused until ROLLBACK)";
  }
  wal_forgive();
  co_return co_await wal_answer_err(response_seq_, ER_ERROR_ON_WRITE, sqlstate, message);
}

}  // namespace segproxy::proxy
