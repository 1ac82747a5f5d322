// Admission of a PostgreSQL session once its identity is known: revocations and the
// segment's connection limits (the registry counts atomically with the check), and the
// refusals before login (FATAL + session.refused audit record, rate-limited for
// connections dropped before a refusal could be sent).
#include "protocols/pg/encoder.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/session/refusal_audit.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;

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
    if (auto why = svc_.revocations->revoked(identity_, segment_)) {
      const std::string message = "segproxy: access for identity \"" + identity_.display() + "\" is revoked" +
                                  (why->empty() ? std::string() : ": " + *why);
      co_await refuse("28000", message, Refusal::Revoked);
      co_return false;
    }
  }
  co_return true;
}

void PgSession::audit_prelogin(const char* reason, std::string_view error, std::string_view sqlstate) {
  if (refusal_audited_ || refusals_ == nullptr) return;
  refusal_audited_ = true;
  refusals_->record(PreLoginRefusal{id_text_, listener_->cfg->name, "postgresql", client_addr_, reason, error, sqlstate},
                        std::chrono::steady_clock::now());
}

awaitable<void> PgSession::refuse(const std::string& sqlstate, const std::string& message, Refusal why) {
  const std::string reason(detail(why));
  close_reason_ = reason;
  refusal_audited_ = true;
  count_refusal(why);
  svc_.log.info("session.refused", {{"session", id_text_},
                                    {"client", client_addr_},
                                    {"identity", identity_.display()},
                                    {"sqlstate", sqlstate},
                                    {"reason", reason}});
  audit::AuditRecord rec = audit_record("session.refused");
  rec.sqlstate = sqlstate;
  rec.reason = message;
  rec.detail = reason;
  audit_now(std::move(rec));
  Bytes out;
  pg::encode_error_response(out, pg::ErrorInfo{"FATAL", sqlstate, message, "", ""});
  error_code ec;
  co_await client_->write(asio::buffer(out), ec);
}

}  // namespace segproxy::proxy
