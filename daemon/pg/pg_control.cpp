// The operator's reach into a PostgreSQL session: admission (revocations, per-segment
// connection limits), configuration reload (adopting a new Runtime), the session's
// state for `segproxyctl sessions`, and the proxy-enforced statement_timeout.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "audit/statement_text.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {

awaitable<bool> PgSession::admit() {
  const config::SegmentLimits& lim = rt_->config.segments.at(segment_).limits;
  if (svc_.registry != nullptr) {
    SessionFacts facts;
    facts.listener = listener_->cfg->name;
    facts.protocol = "postgres";
    facts.client_addr = client_addr_;
    facts.identity = identity_;
    facts.segment = segment_;
    facts.database = database_;
    facts.backend_user = backend_user_;
    facts.started = std::chrono::system_clock::now();
    facts.backend_id = backend_pid_;
    const auto admission = svc_.registry->admit(id_, std::move(facts), lim.max_connections,
                                                lim.max_connections_per_identity);
    if (admission == SessionRegistry::Admission::SegmentFull) {
      const std::string message = "segproxy: too many connections for segment \"" + segment_ +
                                  "\" (max_connections " + std::to_string(lim.max_connections) + ")";
      if (svc_.metrics) svc_.metrics->segment(segment_).limit_exceeded(LimitKind::MaxConnections).inc();
      co_await refuse("53300", message, Refusal::SegmentMaxConnections);
      co_return false;
    }
    if (admission == SessionRegistry::Admission::IdentityFull) {
      const std::string message = "segproxy: too many connections for identity \"" + identity_.display() +
                                  "\" in segment \"" + segment_ + "\" (max_connections_per_identity " +
                                  std::to_string(lim.max_connections_per_identity) + ")";
      if (svc_.metrics) svc_.metrics->segment(segment_).limit_exceeded(LimitKind::MaxConnectionsPerIdentity).inc();
      co_await refuse("53300", message, Refusal::SegmentMaxConnectionsPerIdentity);
      co_return false;
    }
  }
  if (svc_.metrics != nullptr) {
    seg_metrics_ = &svc_.metrics->segment(segment_);
    seg_metrics_->sessions_active().inc();
  }
  // Checked after admission: a revocation published while this session was being
  // admitted either is seen here or finds this session in the registry.
  if (svc_.revocations != nullptr) {
    if (auto why = svc_.revocations->admission_refused()) {  // fleet view stale (docs/fleet.md)
      co_await refuse("57P03", *why, Refusal::ControlPlaneStale);
      co_return false;
    }
    if (auto why = svc_.revocations->revoked(identity_, segment_)) {
      const std::string message = "segproxy: access for identity \"" + identity_.display() + "\" is revoked" +
                                  (why->empty() ? std::string() : ": " + *why);
      co_await refuse("28000", message, Refusal::Revoked);
      co_return false;
    }
  }
  co_return true;
}

void PgSession::apply_segment_limits() {
  const config::SegmentLimits& lim = rt_->config.segments.at(segment_).limits;
  statement_timeout_ = lim.statement_timeout;
  idle_timeout_ = lim.idle_timeout ? *lim.idle_timeout : rt_->config.limits.idle_timeout;
  if (statement_timeout_.count() == 0) statement_timer_.disarm();
}

void PgSession::on_statement_timeout() {
  if (outstanding_ == 0 || closed_) return;
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

void PgSession::count_refusal(Refusal why) {
  if (listener_metrics_ != nullptr) listener_metrics_->refused(metric_reason(why)).inc();
}

void PgSession::count_tls_failure(const error_code& ec) {
  if (listener_metrics_ == nullptr) return;
  listener_metrics_->refused(RefuseReason::TlsHandshake).inc();
  TlsFailureReason why = TlsFailureReason::Other;
  const std::string text = ec.message();
  const long verify = client_ ? SSL_get_verify_result(client_->native_ssl()) : X509_V_OK;
  if (verify == X509_V_ERR_CERT_REVOKED) {
    why = TlsFailureReason::CertificateRevoked;
  } else if (verify != X509_V_OK) {
    why = TlsFailureReason::CertificateVerifyFailed;
  } else if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
    why = TlsFailureReason::PeerClosed;
  } else if (text.find("certificate") != std::string::npos) {
    why = TlsFailureReason::CertificateVerifyFailed;
  } else if (text.find("version") != std::string::npos || text.find("cipher") != std::string::npos) {
    why = TlsFailureReason::NoSharedCipherOrVersion;
  } else if (ec == asio::error::operation_aborted) {
    why = TlsFailureReason::Timeout;
  } else if (text.find("wrong version number") != std::string::npos || text.find("http") != std::string::npos) {
    why = TlsFailureReason::ProtocolError;
  }
  listener_metrics_->tls_handshake_failed(why).inc();
}

void PgSession::count_statement(const GateVerdict& v) {
  if (seg_metrics_ == nullptr) return;
  seg_metrics_->statements(statement_label(v.command), v.decision.allow ? Decision::Allow : Decision::Deny).inc();
}

void PgSession::observe_policy(std::chrono::steady_clock::time_point start) {
  if (svc_.metrics == nullptr) return;
  svc_.metrics->policy_evaluation_duration().observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

SessionState PgSession::state() const {
  SessionState s;
  if (!current_sql_.empty()) s.current_statement = audit::normalize_statement(current_sql_, "postgresql");
  s.active = outstanding_ > 0;
  s.bytes_in = bytes_from_client_;
  s.bytes_out = bytes_from_backend_;
  return s;
}

std::string PgSession::misfit(const Runtime& rt) const {
  auto match = rt.mapper->map(identity_);
  if (!match) return "identity \"" + identity_.display() + "\" is no longer mapped to any segment";
  if (match->segment != segment_) {
    return "identity \"" + identity_.display() + "\" now maps to segment \"" + match->segment + "\"; reconnect";
  }
  auto seg = rt.config.segments.find(segment_);
  if (seg == rt.config.segments.end()) return "segment \"" + segment_ + "\" no longer exists";
  const auto& dbs = seg->second.databases;
  if (std::find(dbs.begin(), dbs.end(), database_) == dbs.end()) {
    return "database \"" + database_ + "\" is no longer permitted for segment \"" + segment_ + "\"";
  }
  const bool has_listener = std::any_of(rt.listeners.begin(), rt.listeners.end(),
                                        [&](const ListenerRuntime& l) { return l.cfg->name == listener_->cfg->name; });
  if (!has_listener) return "listener \"" + listener_->cfg->name + "\" no longer exists";
  const auto* cred = rt.credentials->find(segment_, listener_->cfg->name);
  if (cred == nullptr || cred->is_dynamic() != minted_.has_value() || (!minted_ && cred->user != backend_user_)) {
    return "the backend credential of segment \"" + segment_ + "\" changed";
  }
  return {};
}

void PgSession::adopt(std::shared_ptr<const Runtime> rt) {
  if (closed_ || ending_) return;
  if (!gate_) {
    pending_rt_ = std::move(rt);  // still starting: applied when the relay begins
    return;
  }
  if (const std::string why = misfit(*rt); !why.empty()) {
    terminate("57P01", "terminating connection: segproxy configuration reloaded: " + why, "session.close");
    return;
  }
  rt_ = std::move(rt);
  for (const auto& l : rt_->listeners) {
    if (l.cfg->name == listener_->cfg->name) listener_ = &l;
  }
  gate_->rebind(*rt_->policy, rt_->statement_limits);
  apply_segment_limits();
  if (outstanding_ > 0 && statement_timeout_.count() > 0) statement_timer_.arm(statement_timeout_);
  touch_idle();
  if (!gate_->window_grace()) {  // during the grace window_ counts down window_close_grace
    window_.disarm();
    schedule_window_close();
  }
}

std::string PgSession::apply_pending_runtime() {
  if (!pending_rt_) return {};
  auto rt = std::move(pending_rt_);
  pending_rt_.reset();
  if (std::string why = misfit(*rt); !why.empty()) return why;
  adopt(std::move(rt));
  return {};
}

}  // namespace segproxy::proxy
