// Metrics of a PostgreSQL session (refusal reasons, TLS failures, statement counters,
// policy evaluation time) and its state for `segproxyctl sessions`.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "audit/statement_text.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/pg/pg_session.hpp"

namespace segproxy::proxy {

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
  if (v.decision.allow && v.decision.shadow_deny) seg_metrics_->count_shadow_denial(v.decision.shadow_rule);
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

}  // namespace segproxy::proxy
