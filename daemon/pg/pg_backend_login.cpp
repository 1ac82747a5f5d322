// Backend login of a PostgreSQL session (the end of Starting): the backend credential
// (a dynamic one is minted for the identity first), the login with our own SCRAM / MD5
// client code (daemon/net/backend_connector.hpp), the cancel key the client gets, the
// session.open audit record (durable before the client hears of its login), and
// AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery to the client.
// Protocol reference: PostgreSQL 15 docs 55.2.1 (Start-up).
#include "protocols/pg/encoder.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;

awaitable<bool> PgSession::login_backend(const authz::BackendCredential& cred,
                                         std::vector<std::pair<std::string, std::string>>& parameters) {
  const std::string* password = &cred.password.reveal();
  if (cred.is_dynamic()) {
    // A short-lived user minted for this identity (shared with its other sessions).
    if (svc_.dynamic == nullptr) {
      co_await refuse("08006", "segproxy: dynamic credentials are not available", Refusal::BackendLoginFailed);
      co_return false;
    }
    const std::string key = dynamic_identity_key(identity());
    const std::string& listener_name = listener_->cfg->name;
    auto ex = client_->lowest().get_executor();
    AcquireResult minted = co_await async_acquire(*svc_.dynamic, listener_name, segment_, key, ex, use_awaitable);
    if (!minted.ok()) {
      svc_.log.warn("credential.acquire_failed", {{"session", id_text_}, {"segment", segment_}, {"error", minted.error}});
      const std::string message = "segproxy: could not obtain a backend credential for segment \"" + segment_ + "\"";
      co_await refuse("08006", message, Refusal::BackendLoginFailed);
      co_return false;
    }
    minted_ = std::make_unique<MintedCredential>(std::move(*minted.credential));
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
  req.parameters = std::move(parameters);
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
  gate_ = std::make_unique<PgGate>(*rt_->policy, segment_, database_, svc_.enforce_policy, rt_->statement_limits,
                                   rt_->statement_hash_key);
  if (svc_.grants != nullptr) gate_->set_grants(authz::SessionGrants(svc_.grants, identity_));
  for (const auto& [name, value] : login.parameter_status) gate_->on_parameter_status(name, value);
  wal_start();
  backend_pid_ = login.process_id;
  txn_status_ = login.transaction_status;
  backend_leftover_ = std::move(login.leftover);
  proxy_secret_ = svc_.cancels.add(CancelTarget{listener_->cfg->backend.endpoint.host,
                                                listener_->cfg->backend.endpoint.port, login.process_id,
                                                login.secret_key, identity().sha256_hex});
  cancel_registered_ = true;
  // A CancelRequest for this key reaches the session (a held message is cancelled there).
  if (svc_.registry != nullptr) svc_.registry->set_backend_id(id_, static_cast<std::uint64_t>(backend_pid_));

  // The session exists for the auditors before it exists for the client.
  if (!co_await audit_session_open()) {
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
                                 {"identity", identity().display()},
                                 {"cert_sha256", identity().sha256_hex},
                                 {"segment", segment_},
                                 {"database", database_},
                                 {"backend_user", backend_user_},
                                 {"backend_auth", login.auth_method},
                                 {"backend_pid", std::to_string(backend_pid_)}});
  co_return true;
}

}  // namespace segproxy::proxy
