// Negotiating and Starting, the phases before the relay: the plaintext first packet
// (SSLRequest -> TLS, GSSENCRequest -> 'N', CancelRequest), then inside TLS the
// StartupMessage -> identity -> segment -> database -> credential, admission
// (pg_admission.cpp) and the backend login (pg_backend_login.cpp).
// Protocol reference: PostgreSQL 15 docs, "Message Flow" 55.2.1 (Start-up),
// 55.2.10 (SSL Session Encryption), 55.2.7 (Canceling Requests in Progress).
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include "protocols/pg/frontend_decoder.hpp"
#include "protocols/pg/startup_params.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/net/peer_identity.hpp"
#include "daemon/pg/pg_session.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::DecodeStatus;

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
      // The handshake threads' queue of the client's address (a named local: GCC 12).
      const std::string_view source = svc_.address ? std::string_view(svc_.address->address()) : std::string_view();
      co_await client_->handshake(ssl::stream_base::server, ec, svc_.handshakes, source);
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
  if (svc_.registry != nullptr) {
    // The session decides (write-ahead rule): a message it holds for its audit record is
    // cancelled in the proxy and never forwarded; running work is cancelled on the backend.
    const auto pid = static_cast<std::uint64_t>(target->process_id);
    const std::int32_t secret = req.secret_key;
    const auto reached = svc_.registry->post_matching(
        [pid](std::uint64_t, const SessionFacts& f) { return f.protocol == "postgres" && f.backend_id == pid; },
        [secret](LiveSession& s) {
          auto* pg = dynamic_cast<PgSession*>(&s);
          if (pg != nullptr && pg->proxy_secret_ == secret) pg->cancel_requested();
        });
    if (!reached.empty()) co_return;
  }
  co_await send_backend_cancel(target->host, target->port, target->process_id, target->backend_secret,
                               rt_->config.limits.backend_connect_timeout);
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
    identity_ = std::make_shared<const authz::ClientIdentity>(std::move(*id));
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

  auto match = rt_->mapper->map(identity());
  if (!match) {
    co_await refuse("28000", "segproxy: client identity \"" + identity().display() + "\" is not mapped to any segment",
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

  // A named lvalue, no temporary in the co_await expression (GCC bug 100611).
  const bool logged_in = co_await login_backend(*cred, filtered.forward);
  co_return logged_in;
}

}  // namespace segproxy::proxy
