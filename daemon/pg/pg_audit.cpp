// Audit records of a PostgreSQL session (docs/audit.md). A statement's decision record is
// appended (audit::AuditSink::append: its seq at once, nothing written yet) before the
// statement goes through the write-ahead rule (pg_wal.cpp), which decides how long its
// forwarding and its answer wait for the record to be durable. Outcomes are folded into
// statement.result records that gate nothing.
#include <cstdio>

#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_wal_state.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/audit_waiter.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;

audit::AuditRecord PgSession::audit_record(const char* event) const {
  return session_audit_record(event, SessionAuditFields{id_text_, listener_->cfg->name, "postgresql", client_addr_, identity(),
                                                         segment_, database_, backend_user_});
}

audit::AuditRecord PgSession::decision_record(const GateVerdict& v, std::string_view sql) const {
  audit::AuditRecord r = audit_record("statement.decision");
  r.statement = std::string(sql);
  if (v.fingerprint != 0) r.fingerprint = fingerprint_hex(v.fingerprint);
  r.tables = v.tables;
  r.decision = v.decision.allow ? "allow" : "deny";
  r.rule_id = v.decision.rule_id;
  r.reason = v.decision.reason;
  if (v.decision.shadow_deny) {  // docs/policy.md "Shadow mode"
    r.shadow_decision = "deny";
    r.shadow_rule = v.decision.shadow_rule;
  }
  r.grant_id = v.decision.allow ? v.decision.grant_id : std::string();  // emergency grants
  r.sqlstate = v.decision.allow ? "" : v.decision.sqlstate;
  return r;
}

PgSession::WalRecord PgSession::audit_decision(const GateVerdict& v, std::string_view sql) {
  count_statement(v);
  if (svc_.audit == nullptr) return {};
  const audit::AuditRecord r = decision_record(v, sql);
  return audit_append(r);
}

PgSession::WalRecord PgSession::audit_append(const audit::AuditRecord& r) {
  if (svc_.audit == nullptr) return {};
  const audit::AuditTicket t = svc_.audit->append(r);
  WalRecord out;
  out.refused = svc_.audit->state(t) == audit::DurableState::failed;
  // Without the gate nothing waits for the record: it needs no number.
  if (wal_gated_) out.local = wal_state_->ledger.add(t);
  return out;
}

awaitable<bool> PgSession::audit_session_open() {
  if (svc_.audit == nullptr) co_return true;
  audit::AuditRecord rec = audit_record("session.open");
  auto ex = client_->lowest().get_executor();
  co_return co_await write_durably(*svc_.audit, svc_.audit_waiter, ex, std::move(rec));
}

void PgSession::audit_now(audit::AuditRecord record) {
  // Nobody waits for it: written with the next batch (or within the writer's tick).
  if (svc_.audit != nullptr) svc_.audit->submit_deferred(std::move(record), [](bool) {});
}

void PgSession::expect_result() {
  if (svc_.audit != nullptr || seg_metrics_ != nullptr) results_.push_back(PendingResult{std::chrono::steady_clock::now(), 0, {}, {}});
}

// CommandComplete: "SELECT 5", "INSERT 0 1", "UPDATE 3", "COPY 100000": the last word
// counts rows.
void PgSession::result_rows(std::string_view tag) {
  PendingResult& r = results_.front();
  auto sp = tag.rfind(' ');
  std::uint64_t n = 0;
  bool digits = sp != std::string_view::npos && sp + 1 < tag.size();
  for (std::size_t i = sp + 1; digits && i < tag.size(); ++i) {
    char c = tag[i];
    if (c < '0' || c > '9') digits = false;
    else n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (digits) r.rows += n;
}

// ErrorResponse: the first error of the request.
void PgSession::result_error(const protocols::pg::ErrorView& error) {
  PendingResult& r = results_.front();
  if (!r.sqlstate.empty()) return;
  r.sqlstate = std::string(error.sqlstate);
  r.error = std::string(error.message.substr(0, 256));  // may quote values: kept short
}

// ReadyForQuery: the request is answered.
void PgSession::result_done() {
  PendingResult& r = results_.front();
  const auto elapsed = std::chrono::steady_clock::now() - r.start;
  if (seg_metrics_ != nullptr) seg_metrics_->statement_duration().observe(std::chrono::duration<double>(elapsed).count());
  if (svc_.audit == nullptr) {
    results_.pop_front();
    return;
  }
  const auto us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  // Outcomes are folded (audit/result_fold.hpp): one statement.result per 32 requests
  // and at the session's end; they gate nothing.
  const bool full = result_fold_.add(std::nullopt, r.rows, us, r.sqlstate, r.error);
  results_.pop_front();
  if (full) audit_results();
}

void PgSession::audit_results() {
  if (svc_.audit == nullptr || result_fold_.empty()) return;
  audit::AuditRecord rec = audit_record("statement.result");
  result_fold_.take(rec);
  audit_now(std::move(rec));
}

}  // namespace segproxy::proxy
