// Admission of a PostgreSQL session once its identity is known: revocations and the
// segment's connection limits (the registry counts atomically with the check), and the
// refusals before login (FATAL + session.refused audit record, rate-limited for
// connections dropped before a refusal could be sent).
#include "protocols/pg/encoder.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/session/admission.hpp"
#include "daemon/session/refusal_audit.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;

awaitable<bool> PgSession::admit() {
  const config::SegmentLimits& lim = rt_->config.segments.at(segment_).limits;
  SessionFacts facts{listener_->cfg->name, "postgres", client_addr_, identity_, segment_, database_, backend_user_, {},
                     static_cast<std::uint64_t>(backend_pid_)};
  if (auto refused = admit_session(svc_, id_, std::move(facts), lim, seg_metrics_)) {
    const std::string sqlstate = admission_sqlstate(refused->why);
    co_await refuse(sqlstate, refused->message, refused->why);
    co_return false;
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
                                    {"identity", identity().display()},
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
