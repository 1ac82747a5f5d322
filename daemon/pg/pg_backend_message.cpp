// Typed backend messages of a PostgreSQL session (protocols/pg/backend_callbacks.hpp):
// BackendDispatch types each message the session follows once; here each one updates
// the session: the request it ends, the COPY / name state (FrontendState), the
// transaction status, lexing settings, the window grace, and statement.result records.
// Protocol reference: PostgreSQL 15 docs 55.2.2, 55.2.3, 55.7 "Message Formats".
#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_wal_state.hpp"

namespace segproxy::proxy {

// 'Z': one request (Query, Sync, or a raised refusal) is answered.
void PgSession::on_ready_for_query(char status) {
  ++rfq_seen_;  // the answer of request number rfq_seen_ - 1 ends here
  if (!trims_.empty()) {
    // The raises standing in for a Sync whose answers are complete (pg_reply_trim.cpp).
    while (!trims_.empty() && trims_.front().request < rfq_seen_) trims_.pop_front();
    if (trims_.empty()) backend_dispatch_.report_completions(false);
  }
  if (!results_.empty()) result_done();
  if (wal_gated_) {
    // The backend confirms the transaction state; a held message may go now (or be
    // refused): wait_wal_held executes the actions.
    wal_state_->rule.on_pg_ready(status, std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now().time_since_epoch()).count(),
                                 wal_actions_);
    if (!wal_actions_.empty()) wal_wake();
  }
  frontend_state_.ready_for_query(status);
  txn_status_ = status;
  if (outstanding_ > 0) wal_settle_forgets();  // the names its request closed or deallocated
  if (outstanding_ > 0 && --outstanding_ == 0) wake_waiters();  // wait_backend_idle
  if (outstanding_ == 0 && txn_status_ == 'I') lexing_.txn_dirty = false;
  if (statement_timeout_.count() > 0) {
    if (outstanding_ == 0) statement_timer_.disarm();
    else statement_timer_.arm(statement_timeout_);  // the next pipelined request's turn
  }
  if (ddl_pending_ && txn_status_ == 'I') {
    ddl_pending_ = false;
    if (wal_state_) wal_state_->last_ddl = std::chrono::steady_clock::now();  // catalogs loaded before now miss it
    rt_->on_ddl();  // committed (or rolled back): the catalog now shows it
  }
  // The access window closed during a transaction (finish_transaction): it has ended.
  const bool ending = state_ == State::Ending || closed();
  if (gate_->window_grace() && !ending && outstanding_ == 0 && txn_status_ == 'I') {
    close_reason_ = "access window closed";
    spawn_terminate("57P01", "terminating connection: segproxy access window for segment \"" + segment_ + "\" closed");
  }
}

// A Query / FunctionCall (or a raise standing in for one) that the backend skipped: it
// had failed the extended batch the request was sent into and discards everything up to
// the Sync (protocols/pg/request_skips.hpp). No ReadyForQuery answers it, so its
// accounting ends here, as at a ReadyForQuery that says nothing about the transaction:
// otherwise the session would wait for ever for an answer that never comes (a lexing
// hold, wait_backend_idle) and the idle timeout would never end it.
void PgSession::on_request_skipped() {
  if (!results_.empty()) result_done();  // its outcome: the batch's error, recorded already
  if (wal_gated_) {
    wal_state_->rule.on_pg_skipped(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now().time_since_epoch()).count(),
                                   wal_actions_);
    if (!wal_actions_.empty()) wal_wake();
  }
  frontend_state_.request_skipped();
  if (outstanding_ > 0) {
    // Names it would have closed or deallocated stay: the backend did not run it, nor
    // anything else up to the Sync.
    if (wal_state_) wal_state_->request_failed = true;
    wal_settle_forgets();
    if (wal_state_) wal_state_->request_failed = true;
  }
  if (outstanding_ > 0 && --outstanding_ == 0) wake_waiters();  // wait_backend_idle
  if (statement_timeout_.count() > 0 && outstanding_ == 0) statement_timer_.disarm();
}

// 'C'
void PgSession::on_command_complete(std::string_view tag) {
  if (!results_.empty()) result_rows(tag);
  frontend_state_.command_ended();
}

// 'E'
void PgSession::on_error_response(const protocols::pg::ErrorView& error) {
  if (!results_.empty()) result_error(error);
  if (error.severity == "FATAL" || error.severity == "PANIC") backend_fatal_ = std::string(error.sqlstate);
  frontend_state_.command_ended();
  // Names this request closed may still exist (wal_settle_forgets).
  if (wal_state_) wal_state_->request_failed = true;
  if (gate_->window_grace()) {
    // The backend refused something: whatever the unnamed statement or portal now is,
    // the proxy no longer knows it to be a COMMIT / ROLLBACK.
    grace_ = WindowGrace{};
  }
}

// 'S': client_encoding and standard_conforming_strings decide how statements are lexed.
void PgSession::on_parameter_status(std::string_view name, std::string_view value) {
  gate_->on_parameter_status(name, value);
}

// 'G'
void PgSession::on_copy_in_response() {
  frontend_state_.copy_in_started();
  wal_counts_trusted_ = false;  // Sync / Flush sent during COPY IN get no ReadyForQuery
}

}  // namespace segproxy::proxy
