// Startup phases of a PostgreSQL session: negotiate (plaintext) and startup (in TLS).
// Protocol reference: PostgreSQL 15 docs, "Message Flow" 55.2.1 (Start-up),
// 55.2.10 (SSL Session Encryption), 55.2.7 (Canceling Requests in Progress).
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>

#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "protocols/pg/startup_params.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/net/peer_identity.hpp"
#include <openssl/x509_vfy.h>

#include "daemon/pg/pg_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/refusal_audit.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;
using protocols::DecodeStatus;

PgSession::PgSession(tcp::socket client, std::shared_ptr<const Runtime> rt, std::size_t listener_index,
                     Services services)
    : rt_(std::move(rt)),
      first_rt_(rt_),
      listener_(&rt_->listeners.at(listener_index)),
      svc_(services),
      id_(services.next_session_id.fetch_add(1) + 1),
      id_text_(std::to_string(id_)),
      started_(std::chrono::steady_clock::now()),
      deadline_(client.get_executor(),
                [this] {
                  deadline_expired_ = true;
                  close_all();
                }),
      idle_(client.get_executor(), [this] { on_idle_expired(); }),
      window_(client.get_executor(), [this] { on_window_closed(); }),
      statement_timer_(client.get_executor(), [this] { on_statement_timeout(); }),
      write_gate_(client.get_executor()),
      idle_gate_(client.get_executor()),
      backend_stream_(rt_->limits, pg::BackendCheck::Structure) {
  error_code ec;
  auto ep = client.remote_endpoint(ec);
  if (!ec) client_addr_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  client.set_option(tcp::no_delay(true), ec);
  client_ = std::make_unique<Stream>(std::move(client));
  svc_.active_sessions.fetch_add(1);
  if (svc_.metrics != nullptr) {
    listener_metrics_ = &svc_.metrics->listener(listener_->cfg->name);
    listener_metrics_->connections_active->inc();
  }
}

awaitable<void> PgSession::run(std::shared_ptr<PgSession> self) {
  if (self->svc_.registry != nullptr)
    self->svc_.registry->add(self->id_, self, self->client_->lowest().get_executor());
  co_await self->run_phases();
}

void PgSession::terminate(std::string sqlstate, std::string message, std::string event) {
  if (closed_) return;
  ending_ = true;
  if (close_reason_.empty()) close_reason_ = message;
  if (event != "session.close" && backend_pid_ != 0) {
    audit::AuditRecord rec = audit_record(event.c_str());
    rec.reason = message;
    audit_now(std::move(rec));
  }
  if (!backend_) {
    close_all();
    return;
  }
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), std::move(sqlstate), std::move(message)), asio::detached);
}

PgSession::~PgSession() {
  if (svc_.registry != nullptr) svc_.registry->remove(id_);
  if (cancel_registered_) svc_.cancels.remove(backend_pid_, proxy_secret_);
  svc_.active_sessions.fetch_sub(1);
  if (listener_metrics_ != nullptr) listener_metrics_->connections_active->dec();
  if (seg_metrics_ != nullptr) seg_metrics_->sessions_active().dec();
}

void PgSession::close_all() {
  if (closed_) return;
  closed_ = true;
  deadline_.disarm();
  idle_.disarm();
  window_.disarm();
  statement_timer_.disarm();
  if (client_) client_->close();
  if (backend_) backend_->close();
  write_gate_.cancel();
  idle_gate_.cancel();
}

awaitable<void> PgSession::run_phases() {
  svc_.log.debug("session.accept", {{"session", id_text_}, {"listener", listener_->cfg->name}, {"client", client_addr_}});
  if (co_await negotiate() && co_await startup()) {
    co_await relay();
  } else if (deadline_expired_ && backend_pid_ == 0) {
    audit_prelogin("timeout", "no complete login within the handshake/startup timeout");
  }
  close_all();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  if (backend_pid_ != 0) {
    audit::AuditRecord rec = audit_record("session.close");
    rec.duration_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_).count());
    rec.detail = close_reason_.empty() ? "client" : close_reason_;
    audit_now(std::move(rec));
  }
  if (!segment_.empty()) {
    svc_.log.info("session.close", {{"session", id_text_},
                                    {"identity", identity_.display()},
                                    {"segment", segment_},
                                    {"duration_ms", std::to_string(ms.count())},
                                    {"bytes_in", std::to_string(bytes_from_client_)},
                                    {"bytes_out", std::to_string(bytes_from_backend_)},
                                    {"reason", close_reason_.empty() ? "client" : close_reason_}});
  }
}

// Reads one untyped startup-phase packet, buffering at most max_startup_packet bytes.
awaitable<std::optional<pg::StartupPacket>> PgSession::read_startup_packet() {
  for (;;) {
    auto d = pg::decode_startup(pending(), rt_->limits);
    if (d.status == DecodeStatus::Ok) {
      cstart_ += d.consumed;
      co_return std::move(d.value);
    }
    if (d.status == DecodeStatus::Malformed) {
      close_reason_ = "malformed startup packet: " + d.error;
      svc_.log.warn("session.protocol_violation", {{"session", id_text_}, {"client", client_addr_}, {"error", d.error}});
      audit_prelogin("malformed_startup", d.error, "08P01");
      co_return std::nullopt;
    }
    if (!co_await fill_client_buffer(rt_->limits.max_startup_packet)) co_return std::nullopt;
  }
}

awaitable<bool> PgSession::negotiate() {
  deadline_.arm(rt_->config.limits.handshake_timeout);
  bool gss_answered = false;
  for (;;) {
    auto packet = co_await read_startup_packet();
    if (!packet) co_return false;
    if (std::holds_alternative<pg::SslRequest>(*packet)) {
      // Bytes after the SSLRequest and before the handshake would be processed as if
      // they came over TLS (CVE-2021-23214 class): refuse the connection.
      if (cstart_ != cend_) {
        svc_.log.warn("session.protocol_violation",
                      {{"session", id_text_}, {"client", client_addr_}, {"error", "plaintext data after SSLRequest"}});
        audit_prelogin("plaintext_after_sslrequest", "plaintext data after SSLRequest", "08P01");
        co_return false;
      }
      cstart_ = cend_ = 0;
      static constexpr std::uint8_t yes = 'S';
      error_code ec;
      co_await client_->write(asio::buffer(&yes, 1), ec);
      if (ec) co_return false;
      client_->wrap_tls(*listener_->server_tls);
      co_await client_->handshake(ssl::stream_base::server, ec);
      if (ec) {
        const long verify = SSL_get_verify_result(client_->native_ssl());
        svc_.log.info("tls.handshake_failed",
                      {{"session", id_text_},
                       {"client", client_addr_},
                       {"error", ec.message()},
                       {"verify", verify == X509_V_OK ? "" : X509_verify_cert_error_string(verify)}});
        count_tls_failure(ec);
        audit_prelogin("handshake_failed",
                       verify == X509_V_OK ? ec.message() : ec.message() + ": " + X509_verify_cert_error_string(verify));
        co_return false;
      }
      co_return true;
    }
    if (std::holds_alternative<pg::GssEncRequest>(*packet) && !gss_answered) {
      gss_answered = true;
      static constexpr std::uint8_t no = 'N';
      error_code ec;
      co_await client_->write(asio::buffer(&no, 1), ec);
      if (ec) co_return false;
      continue;
    }
    if (auto* cancel = std::get_if<pg::CancelRequest>(&*packet)) {
      co_await handle_cancel(*cancel, std::nullopt);
      co_return false;
    }
    if (std::holds_alternative<pg::StartupMessage>(*packet)) {
      co_await refuse("28000",
                      "segproxy requires TLS with a client certificate (connect with sslmode=verify-full, "
                      "sslcert and sslkey)",
                      Refusal::NoTls);
      co_return false;
    }
    close_reason_ = "unexpected startup packet";
    audit_prelogin("malformed_startup", close_reason_, "08P01");
    co_return false;
  }
}

awaitable<void> PgSession::handle_cancel(pg::CancelRequest req, std::optional<std::string> tls_owner) {
  if (svc_.address_limits != nullptr) {
    const auto& lim = rt_->config.limits;
    const std::string ip = client_addr_.substr(0, client_addr_.rfind(':'));
    if (!svc_.address_limits->allow_cancel(ip, AddressCaps{0, 0, lim.cancel_requests_per_second},
                                           std::chrono::steady_clock::now())) {
      svc_.log.debug("cancel.rate_limited", {{"client", client_addr_}});
      co_return;
    }
  }
  // Wrong keys are dropped silently, as PostgreSQL does; so is a key sent inside TLS
  // under another identity's certificate than the session that owns it.
  auto target = svc_.cancels.find(req.process_id, req.secret_key);
  if (!target) {
    svc_.log.debug("cancel.unknown_key", {{"client", client_addr_}});
    co_return;
  }
  if (tls_owner && *tls_owner != target->owner_sha256) {
    svc_.log.warn("cancel.foreign_identity", {{"client", client_addr_}, {"backend_pid", std::to_string(target->process_id)}});
    co_return;
  }
  svc_.log.info("cancel.forward", {{"client", client_addr_}, {"backend_pid", std::to_string(target->process_id)}});
  co_await send_backend_cancel(target->host, target->port, target->process_id, target->backend_secret,
                               rt_->config.limits.backend_connect_timeout);
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

awaitable<bool> PgSession::startup() {
  deadline_.arm(rt_->config.limits.startup_timeout);
  auto packet = co_await read_startup_packet();
  if (!packet) co_return false;
  if (auto* cancel = std::get_if<pg::CancelRequest>(&*packet)) {
    auto id = peer_identity(client_->native_ssl());
    // A named local, not a temporary: GCC 12 may destroy temporaries of a full-expression
    // containing co_await twice (GCC bug 100611).
    std::optional<std::string> owner = id ? id->sha256_hex : std::string("(no client certificate)");
    co_await handle_cancel(*cancel, std::move(owner));
    co_return false;
  }
  // The handshake verified any certificate that was presented; a client that presented
  // none gets a clear FATAL (like PostgreSQL's clientcert=verify-full) rather than a
  // bare TLS alert.
  std::string ambiguity;
  if (auto id = peer_identity(client_->native_ssl(), &ambiguity)) {
    identity_ = std::move(*id);
  } else if (!ambiguity.empty()) {
    co_await refuse("28000", "segproxy: " + ambiguity + "; refused", Refusal::AmbiguousIdentity);
    co_return false;
  } else {
    co_await refuse("28000", "segproxy: connection requires a valid client certificate", Refusal::NoClientCertificate);
    co_return false;
  }
  auto* sm = std::get_if<pg::StartupMessage>(&*packet);
  if (sm == nullptr) {
    co_await refuse("08P01", "unexpected packet inside TLS: expected a StartupMessage", Refusal::ProtocolViolation);
    co_return false;
  }
  if (sm->protocol_version != pg::kProtocolVersion30) {
    co_await refuse("0A000", "unsupported frontend protocol " + std::to_string(sm->protocol_version >> 16) + "." +
                                 std::to_string(sm->protocol_version & 0xffff) + ": segproxy supports 3.0",
                    Refusal::ProtocolVersion);
    co_return false;
  }
  auto filtered = pg::filter_startup_parameters(sm->parameters);
  if (!filtered.ok) {
    co_await refuse(filtered.sqlstate, "segproxy: " + filtered.error, Refusal::StartupParameterRefused);
    co_return false;
  }
  if (svc_.active_sessions.load() > rt_->config.limits.max_connections) {
    co_await refuse("53300", "sorry, too many clients already", Refusal::MaxConnections);
    co_return false;
  }

  auto match = rt_->mapper->map(identity_);
  if (!match) {
    co_await refuse("28000", "segproxy: client identity \"" + identity_.display() + "\" is not mapped to any segment",
                    Refusal::UnknownIdentity);
    co_return false;
  }
  segment_ = match->segment;
  auto seg_it = rt_->config.segments.find(segment_);
  if (seg_it == rt_->config.segments.end()) {
    co_await refuse("28000", "segproxy: segment \"" + segment_ + "\" is not configured", Refusal::UnknownSegment);
    co_return false;
  }
  if (auto w = rt_->policy->check_window(segment_, std::chrono::system_clock::now()); !w.allow) {
    co_await refuse("28000", w.reason, Refusal::OutsideWindow);
    co_return false;
  }
  const auto& dbs = seg_it->second.databases;
  if (std::find(dbs.begin(), dbs.end(), filtered.database) == dbs.end()) {
    co_await refuse("28000",
                    "segproxy: database \"" + filtered.database + "\" is not permitted for segment \"" + segment_ + "\"",
                    Refusal::DatabaseNotInSegment);
    co_return false;
  }
  database_ = filtered.database;
  const auto* cred = rt_->credentials->find(segment_, listener_->cfg->name);
  if (cred == nullptr) {
    co_await refuse("28000", "segproxy: segment \"" + segment_ + "\" has no backend credential on this listener",
                    Refusal::NoCredential);
    co_return false;
  }
  backend_user_ = cred->user;
  if (!co_await admit()) co_return false;  // revocations, connection limits
  apply_segment_limits();

  const std::string* password = &cred->password.reveal();
  if (cred->is_dynamic()) {
    // A short-lived user minted for this identity (shared with its other sessions).
    if (svc_.dynamic == nullptr) {
      co_await refuse("08006", "segproxy: dynamic credentials are not available", Refusal::BackendLoginFailed);
      co_return false;
    }
    const std::string key = dynamic_identity_key(identity_);
    const std::string& listener_name = listener_->cfg->name;
    auto ex = client_->lowest().get_executor();
    AcquireResult minted = co_await async_acquire(*svc_.dynamic, listener_name, segment_, key, ex, use_awaitable);
    if (!minted.ok()) {
      svc_.log.warn("credential.acquire_failed", {{"session", id_text_}, {"segment", segment_}, {"error", minted.error}});
      const std::string message = "segproxy: could not obtain a backend credential for segment \"" + segment_ + "\"";
      co_await refuse("08006", message, Refusal::BackendLoginFailed);
      co_return false;
    }
    minted_ = std::move(*minted.credential);
    backend_user_ = minted_->user;
    password = &minted_->password->reveal();
    if (svc_.registry != nullptr) svc_.registry->set_backend_user(id_, backend_user_);
  }

  BackendLoginRequest req;
  req.backend = &listener_->cfg->backend;
  req.tls = listener_->backend_tls.get();
  req.user = backend_user_;
  req.password = password;
  req.database = database_;
  req.parameters = std::move(filtered.forward);
  req.timeout = rt_->config.limits.backend_connect_timeout;
  req.limits = &rt_->limits;
  const auto connect_start = std::chrono::steady_clock::now();
  auto login = co_await backend_login(std::move(req));
  if (listener_metrics_ != nullptr) {
    listener_metrics_->backend_connect_duration->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_start).count());
  }
  if (!login.ok()) {
    svc_.log.warn("backend.login_failed",
                  {{"session", id_text_}, {"segment", segment_}, {"backend_user", backend_user_}, {"error", login.error}});
    if (login.failure == BackendFailure::Pinned) {
      co_await refuse("28000", login.error, Refusal::BackendLoginFailed);
    } else if (login.failure == BackendFailure::Server && !login.server_error.sqlstate.empty() &&
        login.server_error.sqlstate != "28P01" && login.server_error.sqlstate != "28000") {
      // e.g. 3D000 database does not exist, 53300 too many connections: the client
      // may know; authentication details stay private.
      co_await refuse(login.server_error.sqlstate, login.server_error.message, Refusal::BackendRefused);
    } else {
      co_await refuse("08006", "segproxy: could not establish the backend session for segment \"" + segment_ + "\"",
                      Refusal::BackendLoginFailed);
    }
    co_return false;
  }
  backend_ = std::move(login.stream);
  gate_ = std::make_unique<StatementGate>(*rt_->policy, segment_, database_, svc_.enforce_policy,
                                          rt_->statement_limits, rt_->statement_hash_key);
  for (const auto& [name, value] : login.parameter_status) gate_->on_parameter_status(name, value);
  backend_pid_ = login.process_id;
  txn_status_ = login.transaction_status;
  backend_leftover_ = std::move(login.leftover);
  proxy_secret_ = svc_.cancels.add(CancelTarget{listener_->cfg->backend.endpoint.host,
                                                listener_->cfg->backend.endpoint.port, login.process_id,
                                                login.secret_key, identity_.sha256_hex});
  cancel_registered_ = true;

  // The session exists for the auditors before it exists for the client.
  batch_audit_.push_back(audit_record("session.open"));
  if (!co_await audit_durably()) {
    co_await refuse("58030", "segproxy: the audit log is unavailable; no new sessions are accepted", Refusal::AuditUnavailable);
    co_return false;
  }

  // Logged in from here on: no longer a handshake of its address. Before the answer, so
  // a client that sees its login complete is never counted against the handshake cap.
  if (svc_.address) svc_.address->logged_in();
  Bytes out;
  pg::encode_authentication_ok(out);
  for (const auto& [name, value] : login.parameter_status) pg::encode_parameter_status(out, name, value);
  pg::encode_backend_key_data(out, backend_pid_, proxy_secret_);
  pg::encode_ready_for_query(out, txn_status_);
  error_code ec;
  co_await client_->write(asio::buffer(out), ec);
  if (ec) co_return false;
  deadline_.disarm();
  svc_.log.info("session.open", {{"session", id_text_},
                                 {"client", client_addr_},
                                 {"listener", listener_->cfg->name},
                                 {"identity", identity_.display()},
                                 {"cert_sha256", identity_.sha256_hex},
                                 {"segment", segment_},
                                 {"database", database_},
                                 {"backend_user", backend_user_},
                                 {"backend_auth", login.auth_method},
                                 {"backend_pid", std::to_string(backend_pid_)}});
  co_return true;
}

}  // namespace segproxy::proxy
