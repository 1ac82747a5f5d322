// Limits of a PostgreSQL session while it relays: the idle timeout, the segment's access
// window (on_window_close: terminate, or finish_transaction with a grace in which only
// COMMIT / ROLLBACK run) and the proxy-enforced statement_timeout (a backend cancel).
#include <algorithm>

#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/session/window_close.hpp"

namespace segproxy::proxy {

void PgSession::touch_idle() {
  if (idle_timeout_.count() > 0) idle_.arm(idle_timeout_);
}

void PgSession::on_idle_expired() {
  // A statement still running is not idleness: the backend owes us an answer.
  if (outstanding_ > 0) {
    touch_idle();
    return;
  }
  close_reason_ = "idle timeout";
  if (seg_metrics_ != nullptr) seg_metrics_->limit_exceeded(LimitKind::IdleTimeout).inc();
  spawn_terminate("57P05", "terminating connection due to idle timeout (segproxy)");
}

void PgSession::schedule_window_close() {
  if (const auto delay = window_close_delay(*rt_->policy, segment_)) window_.arm(*delay);
}

void PgSession::on_window_closed() {
  auto now = std::chrono::system_clock::now();
  if (rt_->policy->check_window(segment_, now).allow) {
    if (gate_->window_grace()) gate_->set_window_grace(false);  // a window opened again during the grace: lift it
    schedule_window_close();  // still (or again) inside a window: look again at its end
    return;
  }
  const auto* pol = rt_->policy->policy(segment_);
  std::string message = "terminating connection: segproxy access window for segment \"" + segment_ + "\" closed";
  if (gate_->window_grace()) {
    // Armed below: the open transaction did not end within window_close_grace.
    message += " and its window_close_grace ran out before the open transaction ended";
  } else if (pol != nullptr && pol->on_window_close == config::WindowClose::FinishTransaction &&
             (txn_status_ != 'I' || outstanding_ > 0)) {
    // Let the transaction in progress end (COMMIT / ROLLBACK only), then terminate at
    // the next ReadyForQuery outside a transaction (on_ready_for_query)...
    gate_->set_window_grace(true);
    grace_ = WindowGrace{};
    window_.arm(pol->window_close_grace);  // ...but not forever
    return;
  }
  close_reason_ = "access window closed";
  spawn_terminate("57P01", std::move(message));
}

void PgSession::apply_segment_limits() {
  const config::SegmentLimits& lim = rt_->config.segments.at(segment_).limits;
  statement_timeout_ = lim.statement_timeout;
  idle_timeout_ = lim.idle_timeout ? *lim.idle_timeout : rt_->config.limits.idle_timeout;
  if (statement_timeout_.count() == 0) statement_timer_.disarm();
}

void PgSession::on_statement_timeout() {
  if (outstanding_ == 0 || closed()) return;
  svc_.log.warn("session.statement_timeout", {{"session", id_text_},
                                              {"segment", segment_},
                                              {"timeout_ms", std::to_string(statement_timeout_.count())}});
  if (seg_metrics_) seg_metrics_->limit_exceeded(LimitKind::StatementTimeout).inc();
  auto target = svc_.cancels.find(backend_pid_, proxy_secret_);
  if (!target) return;
  // The backend answers the running statement with 57014 (query_canceled); the session
  // stays usable, as with PostgreSQL's own statement_timeout.
  asio::co_spawn(client_->lowest().get_executor(),
                 send_backend_cancel(target->host, target->port, target->process_id, target->backend_secret,
                                     rt_->config.limits.backend_connect_timeout),
                 asio::detached);
}

}  // namespace segproxy::proxy
