// The fate of one client message during the relay, one handler per state: forwarded
// unchanged, replaced by a refusal the backend raises (pg_deny.cpp), dropped
// (discard-until-Sync), or answered. The only place where policy is applied to a client
// message (via the PgGate). Protocol reference: PostgreSQL 15 docs 55.2.2 (Simple
// Query), 55.2.3 (Extended Query, error handling: discard until Sync), 55.2.6 (COPY),
// 55.2.8 (Termination).
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "protocols/common/utf8.hpp"
#include "daemon/pg/pg_deny.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_wal_state.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
namespace wal = authz::wal;
using wal::MessageKind;

namespace {
// Classes of messages whose statement or portal the session does not follow (no audit,
// or a full name table): constants, not built (a reason string allocated) per message.
const wal::MessageClass& unknown_statement_class() {
  static const wal::MessageClass c = wal::escaping("unknown prepared statement");
  return c;
}
const wal::MessageClass& unknown_portal_class() {
  static const wal::MessageClass c = wal::escaping("unknown portal");
  return c;
}
constexpr const char* kInvalidUtf8 = "segproxy: invalid byte sequence for encoding \"UTF8\" in the statement text";
constexpr const char* kLexingUnsettled =
    "segproxy: a statement that may change client_encoding or standard_conforming_strings was executed in this "
    "batch: send Sync before the next statement (the proxy judges statement text under the setting the server "
    "reports at ReadyForQuery)";
constexpr std::size_t kMaxLexingNames = 64;
constexpr std::size_t kMaxGrantedStatements = 256;

// The SQL text of a Query or Parse is valid UTF-8 (other messages carry none).
bool statement_text_is_utf8(const pg::FrontendMessage& m) {
  if (const auto* q = std::get_if<pg::Query>(&m)) return protocols::is_valid_utf8(q->sql);
  if (const auto* p = std::get_if<pg::Parse>(&m)) return protocols::is_valid_utf8(p->query);
  return true;
}
}  // namespace

// The dispatch: one handler per state. Refusals are raised by the backend itself
// (pg_deny.hpp), so their order and transaction effects are PostgreSQL's.
PgSession::Next PgSession::on_client_message(const pg::FrontendMessage& msg, std::span<const std::uint8_t> frame) {
  switch (state_) {
    case State::Relaying:
      return on_relaying(msg, frame);
    case State::Discarding:
      return on_discarding(msg, frame);
    case State::Ending:
      // Terminated (revoke, kill, reload, idle, window): nothing more goes through. The
      // relay goes on reading (and dropping) until terminate_with has written the FATAL
      // and closed the client, so the client hears why.
      return Next::Continue;
    case State::Negotiating:  // no client message is relayed before login
    case State::Starting:
    case State::Closed:
    case State::TimedOut:
      break;
  }
  return Next::Stop;
}

// Discarding (55.2.3): like a server after an error in extended protocol, everything up
// to Sync is ignored; the Sync itself becomes the raised refusal (which ends with
// ReadyForQuery), and the session relays again.
PgSession::Next PgSession::on_discarding(const pg::FrontendMessage& msg, std::span<const std::uint8_t> frame) {
  if (std::holds_alternative<pg::Sync>(msg)) {
    advance(State::Discarding, State::Relaying);
    raise_pending(MessageKind::PgSync);
    settle_lexing();
  } else if (std::holds_alternative<pg::Terminate>(msg)) {
    forward(frame);
    close_reason_ = "client terminated";
    return Next::Stop;
  }
  return Next::Continue;
}

// Relaying: protocol state first, then the message's own handler.
PgSession::Next PgSession::on_relaying(const pg::FrontendMessage& msg, std::span<const std::uint8_t> frame) {
  // Protocol state the backend must not be left to judge (issue 12 item 4.5): stray COPY
  // messages are dropped (PostgreSQL ignores them too), names this session never created
  // and statement text that is not UTF-8 are refused like a policy denial.
  if (const auto st = frontend_state_.check(msg); st.action != pg::FrontendCheck::Action::Forward) {
    if (st.action == pg::FrontendCheck::Action::Drop) return Next::Continue;
    refuse_protocol_state(msg, authz::Decision{false, "", st.message, st.sqlstate});
    if (std::holds_alternative<pg::Query>(msg)) raise_pending();
    return Next::Continue;
  }
  // Statement text must be UTF-8 while client_encoding is UTF8 (text in another
  // client_encoding is converted for the classifier, which refuses invalid sequences
  // with 22021 too: authz/sql/pg_lexing.hpp).
  if (gate_->client_encoding_utf8() && !statement_text_is_utf8(msg)) {
    refuse_protocol_state(msg, authz::Decision{false, "", kInvalidUtf8, "22021"});
    if (std::holds_alternative<pg::Query>(msg)) raise_pending();
    return Next::Continue;
  }
  if (lexing_.unsettled && (std::holds_alternative<pg::Query>(msg) || std::holds_alternative<pg::Parse>(msg) ||
                            std::holds_alternative<pg::FunctionCall>(msg))) {
    refuse_protocol_state(msg, authz::Decision{false, "", kLexingUnsettled, "0A000"});
    if (std::holds_alternative<pg::Query>(msg)) {
      raise_pending();
      settle_lexing();  // the Query ends the batch: its ReadyForQuery carries the setting
    }
    return Next::Continue;
  }

  if (const auto* q = std::get_if<pg::Query>(&msg)) return on_query(*q, msg, frame);
  if (const auto* p = std::get_if<pg::Parse>(&msg)) return on_parse(*p, msg, frame);
  if (const auto* b = std::get_if<pg::Bind>(&msg)) return on_bind(*b, msg, frame);
  if (const auto* e = std::get_if<pg::Execute>(&msg)) return on_execute(*e, msg, frame);
  if (const auto* fc = std::get_if<pg::FunctionCall>(&msg)) return on_function_call(*fc, frame);
  if (std::holds_alternative<pg::Sync>(msg)) {
    wal_submit(MessageKind::PgSync, wal::MessageClass::empty(), WalRecord{}, frame);
    request_sent();
    expect_result();
    note_forwarded(msg);
    settle_lexing();
    return Next::Continue;
  }
  if (std::holds_alternative<pg::Terminate>(msg)) {
    forward(frame);
    close_reason_ = "client terminated";
    return Next::Stop;
  }
  if (std::holds_alternative<pg::PasswordMessage>(msg)) {
    close_reason_ = "password message after authentication";
    return Next::StopUnexpectedPassword;
  }
  // Describe, Close, Flush (run nothing), CopyData, CopyDone, CopyFail (of a COPY whose
  // Query went through the rule): no record of their own.
  const bool copy = std::holds_alternative<pg::CopyData>(msg) || std::holds_alternative<pg::CopyDone>(msg) ||
                    std::holds_alternative<pg::CopyFail>(msg);
  wal_submit(copy ? MessageKind::PgCopyData : MessageKind::PgExtended, wal::MessageClass::empty(), WalRecord{}, frame);
  note_forwarded(msg);
  if (const auto* c = std::get_if<pg::Close>(&msg)) wal_forget_later(*c);
  return Next::Continue;
}

// 55.2.2 Simple Query: the statement text is judged as a whole (every statement of a
// multi-statement string must pass).
PgSession::Next PgSession::on_query(const pg::Query& q, const pg::FrontendMessage& msg,
                                    std::span<const std::uint8_t> frame) {
  const auto t0 = std::chrono::steady_clock::now();
  const authz::wal::ClassContext* wal = wal_gated_ ? &wal_context() : nullptr;
  GateVerdict& v = gate_->check_into(*verdict_, q.sql, std::chrono::system_clock::now(), wal);
  observe_policy(t0);
  const std::string_view shown = v.audit_text.empty() ? std::string_view(q.sql) : std::string_view(v.audit_text);
  const WalRecord rec = audit_decision(v, shown);
  note_statement(shown);
  if (v.decision.allow) {
    ddl_pending_ = ddl_pending_ || v.ddl;
    if (may_change_lexing(v)) {
      lexing_.txn_dirty = lexing_.txn_dirty || v.changes_lexing;
      lexing_.hold = true;
    }
    wal_remember(v);
    wal_forget_later(v);  // DEALLOCATE, DISCARD ALL
    wal_submit(MessageKind::PgQuery, v.write_class, rec, frame);
    request_sent();
    expect_result();
    note_forwarded(msg);
  } else {
    deny(v, "Query");
    raise_instead(v.decision, rec);
  }
  return Next::Continue;
}

// 55.2.3 Parse: the statement is judged here; Bind / Execute of it are not judged again
// (only the access window is).
PgSession::Next PgSession::on_parse(const pg::Parse& p, const pg::FrontendMessage& msg,
                                    std::span<const std::uint8_t> frame) {
  const auto t0 = std::chrono::steady_clock::now();
  const authz::wal::ClassContext* wal = wal_gated_ ? &wal_context() : nullptr;
  GateVerdict& v = gate_->check_into(*verdict_, p.query, std::chrono::system_clock::now(), wal);
  observe_policy(t0);
  const std::string_view shown = v.audit_text.empty() ? std::string_view(p.query) : std::string_view(v.audit_text);
  note_statement(shown);
  if (v.decision.allow && may_change_lexing(v) && !lexing_.statement(p.statement) && lexing_.names &&
      lexing_.names->statements.size() >= kMaxLexingNames) {
    v.decision = authz::Decision{false, "", "segproxy: too many prepared statements that change lexing settings", "0A000"};
  }
  if (v.decision.allow && !v.decision.grant_id.empty() && granted_statements_ &&
      !granted_statements_->count(p.statement) && granted_statements_->size() >= kMaxGrantedStatements) {
    v.decision = authz::Decision{false, "", "segproxy: too many prepared statements allowed by emergency grants", "0A000"};
  }
  count_statement(v);
  // An allowed Parse runs nothing: its decision record is kept for the statement and
  // appended by each Bind of it (one record per execution, issue 14). A denial is
  // recorded now, durable before its error.
  std::shared_ptr<audit::AuditRecord> record;
  if (svc_.audit != nullptr) record = std::make_shared<audit::AuditRecord>(decision_record(v, shown));
  if (v.decision.allow) {
    if (!v.decision.grant_id.empty()) {
      if (!granted_statements_) granted_statements_ = std::make_unique<GrantedStatements>();
      granted_statements_->insert_or_assign(std::string(p.statement), std::string(p.query));
    } else if (granted_statements_) {
      if (const auto g = granted_statements_->find(p.statement); g != granted_statements_->end()) {
        granted_statements_->erase(g);
      }
    }
    ddl_pending_ = ddl_pending_ || v.ddl;
    if (may_change_lexing(v)) {
      lexing_.made().statements.emplace(p.statement);
    } else if (lexing_.names) {
      if (auto it = lexing_.names->statements.find(p.statement); it != lexing_.names->statements.end()) {
        lexing_.names->statements.erase(it);
      }
    }
    if (gate_->window_grace() && p.statement.empty()) grace_.statement_ok = true;  // COMMIT / ROLLBACK
    wal_remember(v);
    // Parse runs nothing (parse analysis only): read-only, without a record of its own,
    // unless the statement cannot be remembered (the name table is full): then its record
    // is appended here, so that its text is in the log before any Bind runs it.
    WalRecord rec;
    if (record != nullptr) {
      const std::shared_ptr<audit::AuditRecord> kept = record;
      if (!wal_remember_statement(p.statement, v.write_class, std::move(record))) rec = audit_append(*kept);
    }
    wal_submit(MessageKind::PgExtended, wal::MessageClass::empty(), rec, frame);
    note_forwarded(msg);
  } else {
    const WalRecord rec = record ? audit_append(*record) : WalRecord{};
    deny(v, "Parse");
    advance(State::Relaying, State::Discarding);
    pending_refusal_ = std::make_unique<authz::Decision>(v.decision);
    pending_refusal_record_ = rec;
    if (wal_gated_) wal_state_->rule.note_record(rec.local);
  }
  return Next::Continue;
}

// 55.2.3 Bind: follows which portals may change lexing settings and, during the window
// grace, whether the unnamed portal holds the COMMIT / ROLLBACK parsed during it.
PgSession::Next PgSession::on_bind(const pg::Bind& b, const pg::FrontendMessage& msg,
                                   std::span<const std::uint8_t> frame) {
  // Parse'd only because of an emergency grant: judged again, the grant may have ended.
  const auto granted = granted_statements_ ? granted_statements_->find(b.statement) : GrantedStatements::iterator{};
  if (granted_statements_ && granted != granted_statements_->end()) {
    GateVerdict again = gate_->check(granted->second, std::chrono::system_clock::now());
    if (!again.decision.allow) {
      refuse_protocol_state(msg, std::move(again.decision));
      return Next::Continue;
    }
  }
  // Bound to a statement that may change lexing: its Execute unsettles the batch.
  if (lexing_.statement(b.statement)) {
    if (!lexing_.portal(b.portal) && lexing_.names->portals.size() >= kMaxLexingNames) {
      refuse_protocol_state(msg, authz::Decision{false, "", "segproxy: too many portals bound to statements that "
                                                            "change lexing settings", "0A000"});
      return Next::Continue;
    }
    lexing_.names->portals.emplace(b.portal);
  } else if (lexing_.names) {
    if (auto it = lexing_.names->portals.find(b.portal); it != lexing_.names->portals.end()) {
      lexing_.names->portals.erase(it);
    }
  }
  if (gate_->window_grace() && b.portal.empty()) grace_.portal_ok = b.statement.empty() && grace_.statement_ok;
  // Bind plans the statement (and may fold its functions then): the statement's class,
  // and its decision record appended now, before the Bind goes out. The portal's first
  // Execute in this batch is recorded by it (one record per execution, issue 14).
  const WalStatement* st = svc_.audit != nullptr ? wal_statement(b.statement) : nullptr;
  const WalRecord rec = st != nullptr && st->record ? audit_append(*st->record) : WalRecord{};
  if (WalPortal* portal = svc_.audit != nullptr ? wal_bind_portal(st, b.portal) : nullptr) {
    portal->local = rec.local;
    portal->batch = wal_batch_;
    portal->unclaimed = st != nullptr && st->record && !rec.refused;
  }
  wal_submit(MessageKind::PgExtended, st != nullptr ? st->klass : unknown_statement_class(), rec, frame);
  note_forwarded(msg);
  return Next::Continue;
}

// 55.2.3 Execute: the statement was judged at Parse; the access window (and its grace)
// is checked at every execution.
PgSession::Next PgSession::on_execute(const pg::Execute& e, const pg::FrontendMessage& msg,
                                       std::span<const std::uint8_t> frame) {
  auto w = gate_->check_window(std::chrono::system_clock::now());
  if (w.allow && gate_->window_grace() && !(e.portal.empty() && grace_.portal_ok)) w = gate_->grace_refusal();
  if (w.allow) {
    // Every execution is recorded (issue 14), before the Execute goes out: by its Bind's
    // record (the portal's first Execute in the Bind's batch) or the statement's record
    // appended again; the Execute takes the class of what it runs.
    WalPortal* portal = svc_.audit != nullptr ? wal_portal(e.portal) : nullptr;
    const WalRecord rec = wal_execution_record(portal, w);
    wal_submit(MessageKind::PgExecute, portal != nullptr ? portal->klass : unknown_portal_class(), rec, frame);
    note_forwarded(msg);
    if (lexing_.portal(e.portal)) {
      lexing_.unsettled = true;
      lexing_.txn_dirty = true;
    }
  } else {
    GateVerdict v;
    v.decision = w;
    v.command = "EXECUTE";
    const WalRecord rec = audit_decision(v, "");
    deny(v, "Execute");
    advance(State::Relaying, State::Discarding);
    pending_refusal_ = std::make_unique<authz::Decision>(w);
    pending_refusal_record_ = rec;
    if (wal_gated_) wal_state_->rule.note_record(rec.local);
  }
  return Next::Continue;
}

// 55.2.5 Function Call (fast path, large objects): judged as a call of the function its
// OID names.
PgSession::Next PgSession::on_function_call(const pg::FunctionCall& fc, std::span<const std::uint8_t> frame) {
  const auto t0 = std::chrono::steady_clock::now();
  GateVerdict v = gate_->check_function_call(fc.function_oid, std::chrono::system_clock::now());
  observe_policy(t0);
  const std::string shown = "-- fast-path function call: OID " + std::to_string(fc.function_oid);
  const WalRecord rec = audit_decision(v, shown);
  note_statement(shown);
  if (v.decision.allow) {
    wal_submit(MessageKind::PgFunctionCall, wal::escaping("fast-path function call"), rec, frame);
    request_sent();
    expect_result();
    note_forwarded(pg::FrontendMessage{fc});
  } else {
    deny(v, "FunctionCall");
    raise_instead(v.decision, rec);
  }
  return Next::Continue;
}

// The pending refusal (refuse_protocol_state, or a batch discarded to its Sync) is raised
// and forgotten: an idle session keeps none (issue 15).
void PgSession::raise_pending(MessageKind kind) {
  // Every way into Discarding sets one; without one the refusal is still raised.
  const std::unique_ptr<authz::Decision> d = std::move(pending_refusal_);
  const WalRecord record = std::exchange(pending_refusal_record_, WalRecord{});
  raise_instead(d ? *d : authz::Decision{false, "", "segproxy: statement refused", "42501"}, record, kind);
}

// The denial's record is durable before its error reaches the client: the raise carries
// it, and answers wait for the records of everything forwarded before them.
// In place of a Sync the raise is an extended Parse / Bind / Execute / Sync
// (pg_raise_at_sync): the backend may have failed the batch already and then skips all
// but a Sync. In place of a Query or FunctionCall it is a Query, which is never skipped
// where they would not be.
void PgSession::raise_instead(const authz::Decision& d, WalRecord record, MessageKind kind) {
  const std::string_view sqlstate = d.sqlstate.empty() ? std::string_view("42501") : std::string_view(d.sqlstate);
  const std::string detail = d.rule_id.empty() ? std::string() : "rule: " + d.rule_id;
  protocols::Bytes q = kind == MessageKind::PgSync ? pg_raise_at_sync(pg_raise_statement(sqlstate, d.reason, detail))
                                                   : raise_query(sqlstate, d.reason, detail);
  // A refused record (the log cannot be written) turns it into a 58030 refusal.
  wal_submit(kind, wal::MessageClass::empty(), record, {}, &q);
  // Either form ends the batch with one ReadyForQuery, as a Query does (unless the backend
  // skips a Query: it failed the batch before), and replaces the unnamed statement and
  // portal (FrontendState forgets them: never bound again).
  request_sent();
  expect_result();
  frontend_state_.forwarded(pg::Query{});
  note_backend_bound(kind == MessageKind::PgSync ? pg::FrontendMessage{pg::Sync{}} : pg::FrontendMessage{pg::Query{}});
}

// A Query, or an Execute of a statement, that may change how the server lexes: SET /
// RESET of client_encoding or standard_conforming_strings, RESET ALL, DISCARD ALL, and,
// once such a change ran in the open transaction, transaction control (a ROLLBACK [TO
// SAVEPOINT] reverts it).
bool PgSession::may_change_lexing(const GateVerdict& v) const {
  return v.changes_lexing || (lexing_.txn_dirty && v.transaction_control);
}

// The batch ends (Sync, or a Query standing in for it): after an Execute that may have
// changed lexing, the frames behind it wait for the backend's ReadyForQuery.
void PgSession::settle_lexing() {
  if (!lexing_.unsettled) return;
  lexing_.unsettled = false;
  lexing_.hold = true;
}

}  // namespace segproxy::proxy
