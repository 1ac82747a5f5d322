// Audit records of a PostgreSQL session (docs/audit.md). Decision records of a batch are
// submitted together and the batch is forwarded only once the sink says they are durable
// (group commit shares one fdatasync between sessions); if they cannot be recorded the
// batch is refused with 58030 (fail_closed) and the session stays usable.
#include <cstdio>

#include "daemon/pg/pg_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;

namespace {
// A sink that neither writes nor refuses within this time is treated as failed.
constexpr std::chrono::seconds kAuditWait{10};

}  // namespace

audit::AuditRecord PgSession::audit_record(const char* event) const {
  return session_audit_record(event, SessionAuditFields{id_text_, listener_->cfg->name, "postgresql", client_addr_, identity_,
                                                         segment_, database_, backend_user_});
}

void PgSession::audit_decision(const GateVerdict& v, std::string_view sql) {
  count_statement(v);
  if (svc_.audit == nullptr) return;
  audit::AuditRecord r = audit_record("statement.decision");
  r.statement = std::string(sql);
  if (v.fingerprint != 0) r.fingerprint = fingerprint_hex(v.fingerprint);
  r.tables = v.tables;
  r.decision = v.decision.allow ? "allow" : "deny";
  r.rule_id = v.decision.rule_id;
  r.reason = v.decision.reason;
  r.grant_id = v.decision.allow ? v.decision.grant_id : std::string();  // emergency grants
  r.sqlstate = v.decision.allow ? "" : v.decision.sqlstate;
  batch_audit_.push_back(std::move(r));
}

void PgSession::audit_now(audit::AuditRecord record) {
  // Nobody waits for it: written with the next batch (or within the writer's tick).
  if (svc_.audit != nullptr) svc_.audit->submit_deferred(std::move(record), [](bool) {});
}

awaitable<bool> PgSession::audit_durably() {
  if (svc_.audit == nullptr || batch_audit_.empty()) {
    batch_audit_.clear();
    co_return true;
  }
  struct Wait {
    explicit Wait(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::size_t pending = 0;
    bool ok = true;
  };
  auto ex = client_->lowest().get_executor();
  auto w = std::make_shared<Wait>(ex);
  w->pending = batch_audit_.size();
  w->timer.expires_after(kAuditWait);
  std::vector<audit::AuditRecord> records;
  records.swap(batch_audit_);
  for (auto& r : records) {
    // Called on the thread that writes the batch: hop back to this session's thread.
    svc_.audit->submit_deferred(std::move(r), [w, ex](bool ok) {
      asio::post(ex, [w, ok] {
        if (!ok) w->ok = false;
        if (w->pending > 0 && --w->pending == 0) w->timer.cancel();
      });
    });
  }
  // Start the batch once the handlers already queued on this thread have run: sessions
  // on this thread whose statements arrived meanwhile join it (one sync for all).
  asio::post(ex, [sink = svc_.audit] { sink->lead(); });
  while (w->pending > 0) {
    error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!ec) {  // the deadline passed: not recorded in time
      svc_.log.error("audit.timeout", {{"session", id_text_}});
      co_return false;
    }
  }
  co_return w->ok;
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

void PgSession::refuse_batch_unaudited() {
  svc_.log.error("audit.refused_statements",
                 {{"session", id_text_}, {"segment", segment_}, {"reason", "audit log cannot record"}});
  out_pieces_.clear();
  out_owned_.clear();
  // Every request that would have produced a ReadyForQuery gets the refusal instead
  // (raised by the backend, so an open transaction fails as with any server error).
  for (std::size_t i = 0; i < batch_replies_; ++i)
    forward_raise("58030", "segproxy: the audit log cannot record this statement, so it was not run", "");
}

}  // namespace segproxy::proxy
