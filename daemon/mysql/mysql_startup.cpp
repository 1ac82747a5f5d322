// MySQL session: from accept to the command phase (see mysql_session.hpp).
#include <openssl/ssl.h>

#include <algorithm>

#include "protocols/mysql/auth.hpp"
#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/handshake.hpp"
#include "protocols/mysql/packets.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/net/client_fill.hpp"
#include "daemon/net/idle_wait.hpp"
#include "daemon/net/peer_identity.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/admission.hpp"
#include "daemon/session/handshake_eviction.hpp"
#include "daemon/session/refusal_audit.hpp"
#include "daemon/session/session_audit.hpp"
#include "daemon/session/session_presence.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {

constexpr std::size_t kMaxLoginPacket = 64 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;

// Character set names the analyzer knows, from the collation id of the handshake.
std::string charset_name(std::uint8_t id) {
  if (id == 45 || id == 46 || (id >= 224 && id <= 247) || id == 255) return "utf8mb4";
  if (id == 33 || id == 83 || (id >= 192 && id <= 215)) return "utf8";
  if (id == 5 || id == 8 || id == 15 || id == 31 || id == 47 || id == 48 || id == 49 || id == 94) return "latin1";
  if (id == 11 || id == 65) return "ascii";
  if (id == 63) return "binary";
  return "unknown";  // every statement is then Unknown (fail closed)
}

}  // namespace

MysqlSession::MysqlSession(tcp::socket client, std::shared_ptr<const Runtime> rt, std::size_t listener_index,
                           Services services)
    : rt_(std::move(rt)),
      listener_(&rt_->listeners.at(listener_index)),
      svc_(services),
      id_(services.next_session_id.fetch_add(1) + 1),
      id_text_(std::to_string(id_)),
      started_(std::chrono::steady_clock::now()),
      backend_reader_(1024 * 1024),
      deadlines_(client.get_executor()),
      deadline_(deadlines_, this, [](MysqlSession& s) { s.close_all(State::Expired); }),
      idle_(deadlines_, this, [](MysqlSession& s) { s.on_idle_expired(); }),
      window_(deadlines_, this, [](MysqlSession& s) { s.on_window_closed(); }),
      statement_timer_(deadlines_, this, [](MysqlSession& s) { s.on_statement_timeout(); }),
      backend_stall_(deadlines_, this, [](MysqlSession& s) { s.on_backend_silent(); }) {
  client_addr_ = client_arrived(client, svc_, listener_->cfg->name, listener_metrics_);
  client_ = std::make_unique<Stream>(std::move(client));
}

MysqlSession::~MysqlSession() {
  client_departed(svc_, id_, listener_metrics_, seg_metrics_);
}

// Not a coroutine: run_phases' frame holds `self` (one frame less per session, issue 15).
awaitable<void> MysqlSession::run(std::shared_ptr<MysqlSession> self) {
  MysqlSession& s = *self;
  return s.run_phases(std::move(self));
}

awaitable<void> MysqlSession::run_phases(std::shared_ptr<MysqlSession> self) {
  [this, &self] {  // not in the coroutine frame (see the epilogue)
    if (svc_.registry != nullptr) svc_.registry->add(id_, self, client_->lowest().get_executor());
    arm_handshake_eviction(svc_, self, client_->lowest().get_executor());
  }();
  if (co_await greet_and_login()) {
    co_await command_phase();
  } else if (state_ == State::Expired && !opened_ && evicted_) {
    // Counted by the accept loop (handshake_evicted) when it made the room.
    audit_prelogin("handshake_evicted", "evicted for a connection from a lighter address at limits.max_concurrent_handshakes");
  } else if (state_ == State::Expired && !opened_) {
    if (listener_metrics_ != nullptr) listener_metrics_->refused(RefuseReason::StartupTimeout).inc();
    audit_prelogin("timeout", "no complete login within the startup timeout");
  }
  close_all();
  // The epilogue runs in a plain function: GCC keeps every local of a coroutine (here an
  // AuditRecord and the log fields) in its frame for the session's whole life, ~1.1 KiB
  // per idle session (issue 15).
  [this] {
    if (opened_) {
      audit_results();
      audit::AuditRecord rec = session_close_record(audit_record("session.close"), started_, close_reason_);
      audit_now(std::move(rec));
    }
    if (!segment_.empty()) {
      svc_.log.info("session.close", {{"session", id_text_},
                                      {"protocol", "mysql"},
                                      {"identity", identity().display()},
                                      {"segment", segment_},
                                      {"bytes_in", std::to_string(bytes_from_client_)},
                                      {"bytes_out", std::to_string(bytes_from_backend_)},
                                      {"reason", close_reason_.empty() ? "client" : close_reason_}});
    }
  }();
}

awaitable<bool> MysqlSession::read_client_message(std::optional<std::uint8_t> seq, std::size_t max, Bytes& payload,
                                                  std::uint8_t& next_seq) {
  for (;;) {
    auto view = std::span<const std::uint8_t>(cbuf_.data() + cstart_, cend_ - cstart_);
    auto d = my::decode_message(view, seq, max);
    if (d.status == DecodeStatus::Ok) {
      const auto p = d.value.payload();
      payload.assign(p.begin(), p.end());
      next_seq = d.value.next_seq();
      cstart_ += d.consumed;
      co_return true;
    }
    if (d.status == DecodeStatus::Malformed) {
      close_reason_ = "malformed packet: " + d.error;
      if (!opened_) audit_prelogin("malformed_startup", close_reason_, "08S01");
      co_return false;
    }
    if (!co_await read_client_more(kReadChunk)) co_return false;
  }
}

awaitable<bool> MysqlSession::read_client_more(std::size_t chunk) {
  // Nothing buffered: the buffer goes back to the thread's pool while the client is idle
  // and is borrowed again once there is something to read (issue 15).
  error_code ec;
  const std::size_t n = co_await fill_client(*client_, cbuf_, cstart_, cend_, chunk, 0, ec);
  if (ec) {
    client_read_failed(ec);
    co_return false;
  }
  client_read(n);
  co_return true;
}

void MysqlSession::audit_prelogin(const char* reason, std::string_view error, std::string_view sqlstate) {
  if (refusal_audited_ || refusals_ == nullptr) return;
  refusal_audited_ = true;
  refusals_->record(PreLoginRefusal{id_text_, listener_->cfg->name, "mysql", client_addr_, reason, error, sqlstate},
                        std::chrono::steady_clock::now());
}

awaitable<void> MysqlSession::refuse(std::uint8_t seq, std::uint16_t code, const std::string& sqlstate,
                                     const std::string& message, Refusal why) {
  const std::string reason(detail(why));
  close_reason_ = reason;
  refusal_audited_ = true;
  svc_.log.info("session.refused", {{"session", id_text_},
                                    {"protocol", "mysql"},
                                    {"client", client_addr_},
                                    {"identity", identity().display()},
                                    {"code", std::to_string(code)},
                                    {"reason", reason}});
  audit::AuditRecord rec = audit_record("session.refused");
  rec.sqlstate = sqlstate;
  rec.error = std::to_string(code);
  rec.reason = message;
  rec.detail = reason;
  audit_now(std::move(rec));
  if (listener_metrics_ != nullptr) listener_metrics_->refused(metric_reason(why)).inc();
  Bytes out;
  my::encode_err_packet(out, seq, code, sqlstate, message, client_caps_ | my::CLIENT_PROTOCOL_41);
  co_await write_client(out);
}

awaitable<bool> MysqlSession::greet_and_login() {
  deadline_.arm(rt_->config.limits.startup_timeout);
  // 1. The backend's greeting first: its connection id becomes ours.
  std::string error;
  const auto connect_start = std::chrono::steady_clock::now();
  auto conn = co_await mysql_backend_connect(listener_->cfg->backend.endpoint,
                                             rt_->config.limits.backend_connect_timeout, error);
  if (!conn) {
    svc_.log.warn("backend.connect_failed", {{"session", id_text_}, {"protocol", "mysql"}, {"error", error}});
    co_await refuse(0, 1158, "08S01", "segproxy: the database server is not reachable", Refusal::BackendUnavailable);
    co_return false;
  }
  backend_greeting_ = conn->greeting;
  connection_id_ = backend_greeting_.connection_id;

  // 2. The proxy's own greeting.
  my::HandshakeV10 hs;
  hs.server_version = backend_greeting_.server_version;
  hs.connection_id = backend_greeting_.connection_id;
  hs.scramble = my::generate_scramble();
  hs.capabilities = my::proxy_client_capabilities(backend_greeting_.capabilities);
  hs.charset = backend_greeting_.charset;
  hs.status = backend_greeting_.status;
  hs.auth_plugin = std::string(my::kNativePassword);
  {
    Bytes payload;
    my::encode_handshake_v10(payload, hs);
    Bytes framed;
    my::encode_message(framed, 0, payload);
    if (!co_await write_client(framed)) co_return false;
  }

  // 3. SSLRequest, TLS, HandshakeResponse41. The client starts its TLS handshake right
  // after the SSLRequest without waiting for an answer, so exactly that packet is read
  // here (header, then its length) and not one byte of the ClientHello behind it.
  Bytes payload;
  std::uint8_t next_seq = 0;
  {
    std::uint8_t header[4];
    error_code rec;
    co_await asio::async_read(client_->lowest(), asio::buffer(header, sizeof header),
                              asio::redirect_error(use_awaitable, rec));
    const std::size_t len = header[0] | (std::size_t{header[1]} << 8) | (std::size_t{header[2]} << 16);
    if (rec || header[3] != 1 || len == 0 || len > kMaxLoginPacket) {
      close_reason_ = rec ? "client read: " + rec.message() : "malformed login packet";
      if (!rec) audit_prelogin("malformed_startup", close_reason_, "08S01");
      co_return false;
    }
    payload.resize(len);
    co_await asio::async_read(client_->lowest(), asio::buffer(payload), asio::redirect_error(use_awaitable, rec));
    if (rec) {
      close_reason_ = "client read: " + rec.message();
      co_return false;
    }
    bytes_from_client_ += 4 + len;
    next_seq = 2;
  }
  auto login = my::decode_client_login(payload, rt_->limits);
  if (login.status != DecodeStatus::Ok) {
    co_await refuse(next_seq, 1043, "08S01", "Bad handshake", Refusal::ProtocolViolation);
    co_return false;
  }
  if (!std::holds_alternative<my::SslRequest>(login.value)) {
    co_await refuse(next_seq, 3159, "HY000",
                    "segproxy: connections using insecure transport are prohibited; connect with TLS and a "
                    "client certificate (--ssl-cert/--ssl-key)",
                    Refusal::NoTls);
    co_return false;
  }
  cstart_ = cend_ = 0;
  client_->wrap_tls(*listener_->server_tls);
  error_code ec;
  // The handshake threads' queue of the client's address (a named local: GCC 12).
  const std::string_view source = svc_.address ? std::string_view(svc_.address->address()) : std::string_view();
  co_await client_->handshake(ssl::stream_base::server, ec, svc_.handshakes, source);
  if (ec) {
    svc_.log.info("tls.handshake_failed", {{"session", id_text_}, {"client", client_addr_}, {"error", ec.message()}});
    audit_prelogin("handshake_failed", ec.message());
    if (listener_metrics_ != nullptr) {
      const long verify = SSL_get_verify_result(client_->native_ssl());
      listener_metrics_->refused(RefuseReason::TlsHandshake).inc();
      listener_metrics_
          ->tls_handshake_failed(verify == X509_V_ERR_CERT_REVOKED ? TlsFailureReason::CertificateRevoked
                                 : verify != X509_V_OK             ? TlsFailureReason::CertificateVerifyFailed
                                                                   : TlsFailureReason::Other)
          .inc();
    }
    co_return false;
  }
  if (!co_await read_client_message(std::uint8_t{2}, kMaxLoginPacket, payload, next_seq)) co_return false;
  login = my::decode_client_login(payload, rt_->limits);
  auto* resp = login.status == DecodeStatus::Ok ? std::get_if<my::HandshakeResponse41>(&login.value) : nullptr;
  if (resp == nullptr) {
    co_await refuse(next_seq, 1043, "08S01", "Bad handshake", Refusal::ProtocolViolation);
    co_return false;
  }
  client_caps_ = resp->capabilities & hs.capabilities;
  charset_ = resp->charset;
  const std::uint8_t ok_seq = next_seq;

  // 4. Who is it, and may it come in?
  std::string ambiguity;
  if (auto id = peer_identity(client_->native_ssl(), &ambiguity)) {
    identity_ = std::make_shared<const authz::ClientIdentity>(std::move(*id));
  } else if (!ambiguity.empty()) {
    co_await refuse(ok_seq, 1045, "28000", "segproxy: access denied: " + ambiguity, Refusal::AmbiguousIdentity);
    co_return false;
  } else {
    co_await refuse(ok_seq, 1045, "28000", "segproxy: connection requires a valid client certificate",
                    Refusal::NoClientCertificate);
    co_return false;
  }
  auto match = rt_->mapper->map(identity());
  if (!match) {
    const std::string message =
        "segproxy: access denied: client identity \"" + identity().display() + "\" is not mapped to any segment";
    co_await refuse(ok_seq, 1045, "28000", message, Refusal::UnknownIdentity);
    co_return false;
  }
  segment_ = match->segment;
  const auto seg_it = rt_->config.segments.find(segment_);
  if (seg_it == rt_->config.segments.end()) {
    co_await refuse(ok_seq, 1045, "28000", "segproxy: segment \"" + segment_ + "\" is not configured", Refusal::UnknownSegment);
    co_return false;
  }
  if (auto w = rt_->policy->check_window(segment_, std::chrono::system_clock::now()); !w.allow) {
    co_await refuse(ok_seq, 1045, "28000", w.reason, Refusal::OutsideWindow);
    co_return false;
  }
  const auto& dbs = seg_it->second.databases;
  if (resp->database && !resp->database->empty()) {
    if (std::find(dbs.begin(), dbs.end(), *resp->database) == dbs.end()) {
      const std::string message = "segproxy: access denied to database '" + *resp->database + "' for segment \"" +
                                  segment_ + "\"";
      co_await refuse(ok_seq, 1044, "42000", message, Refusal::DatabaseNotInSegment);
      co_return false;
    }
    database_ = *resp->database;
  }
  const auto* cred = rt_->credentials->find(segment_, listener_->cfg->name);
  if (cred == nullptr) {
    co_await refuse(ok_seq, 1045, "28000",
                    "segproxy: segment \"" + segment_ + "\" has no backend credential on this listener", Refusal::NoCredential);
    co_return false;
  }
  backend_user_ = cred->user;  // "" for a dynamic credential until one is minted
  const config::SegmentLimits& lim = seg_it->second.limits;
  SessionFacts facts{listener_->cfg->name, "mysql", client_addr_, identity_, segment_, database_, backend_user_, {},
                     connection_id_};
  if (auto refused = admit_session(svc_, id_, std::move(facts), lim, seg_metrics_)) {
    const MysqlRefusalCode answer = admission_mysql_code(refused->why);
    const std::string sqlstate = answer.sqlstate;
    co_await refuse(ok_seq, answer.code, sqlstate, refused->message, refused->why);
    co_return false;
  }

  // A dynamic credential: a short-lived user minted for this identity (shared with its
  // other sessions; daemon/credentials/dynamic_credentials), held for the session's life.
  if (cred->is_dynamic()) {
    if (!co_await acquire_dynamic_credential(ok_seq)) co_return false;
  }

  // 5. Backend login with the segment's credential.
  MysqlLoginRequest req = login_request();
  req.client_caps = client_caps_;
  req.charset = charset_;
  if (!database_.empty()) req.database = database_;
  auto result = co_await mysql_backend_login(*conn, req);
  if (listener_metrics_ != nullptr) {
    listener_metrics_->backend_connect_duration->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_start).count());
  }
  if (!result.ok) {
    svc_.log.warn("backend.login_failed", {{"session", id_text_},
                                           {"protocol", "mysql"},
                                           {"segment", segment_},
                                           {"backend_user", backend_user_},
                                           {"error", result.error}});
    if (result.pinned) {
      co_await refuse(ok_seq, 1045, "28000", result.error, Refusal::BackendLoginFailed);
    } else if (result.server && result.server->code != 1045 && result.server->code != 1698) {
      // e.g. 1049 unknown database: the client may know; authentication details stay private.
      co_await refuse(ok_seq, result.server->code, result.server->sqlstate, result.server->message, Refusal::BackendRefused);
    } else {
      co_await refuse(ok_seq, 1045, "28000",
                      "segproxy: could not establish the backend session for segment \"" + segment_ + "\"",
                      Refusal::BackendLoginFailed);
    }
    co_return false;
  }
  backend_ = std::move(conn->stream);
  backend_caps_ = result.caps;
  const auto version = authz::sql::parse_mysql_server_version(backend_greeting_.server_version);
  authz::sql::MysqlClassifierOptions options;
  options.server_is_mariadb = version.mariadb;
  options.server_version = version.version;
  options.charset = charset_name(charset_);
  options.current_database = database_;
  options.max_length = rt_->limits.max_mysql_client_message;  // judge what may be sent
  options.limits = rt_->statement_limits;
  options.hash_key = rt_->statement_hash_key;
  gate_ = std::make_unique<MysqlGate>(*rt_->policy, segment_, seg_it->second.databases, std::move(options),
                                      svc_.enforce_policy);
  if (svc_.grants != nullptr) gate_->set_grants(authz::SessionGrants(svc_.grants, identity_));
  if (!co_await learn_session_options()) {
    co_await refuse(ok_seq, 1045, "28000", "segproxy: could not read the session's sql_mode from the backend",
                    Refusal::BackendLoginFailed);
    co_return false;
  }
  tracker_ = std::make_unique<my::ResponseTracker>(backend_caps_, rt_->limits, result.ok_packet.status);
  const config::SegmentLimits& seg_limits = seg_it->second.limits;
  statement_timeout_ = seg_limits.statement_timeout;
  idle_timeout_ = seg_limits.idle_timeout ? *seg_limits.idle_timeout : rt_->config.limits.idle_timeout;

  // 6. Recorded before the client is served.
  if (!co_await audit_durably(audit_record("session.open"))) {
    co_await refuse(ok_seq, 1026, "HY000", "segproxy: the audit log is unavailable; no new sessions are accepted",
                    Refusal::AuditUnavailable);
    co_return false;
  }
  opened_ = true;
  // Logged in from here on: no longer a handshake of its address. Before the answer, so
  // a client that sees its login complete is never counted against the handshake cap.
  if (svc_.address) svc_.address->logged_in();
  my::OkPacket ok;
  ok.status = result.ok_packet.status;
  Bytes okp;
  my::encode_ok(okp, ok, client_caps_);
  Bytes framed;
  my::encode_message(framed, ok_seq, okp);
  if (!co_await write_client(framed)) co_return false;
  deadline_.disarm();
  if (state_ == State::Starting) state_ = State::Idle;  // (terminate() may have begun ending it)
  svc_.log.info("session.open", {{"session", id_text_},
                                 {"protocol", "mysql"},
                                 {"client", client_addr_},
                                 {"listener", listener_->cfg->name},
                                 {"identity", identity().display()},
                                 {"segment", segment_},
                                 {"database", database_},
                                 {"backend_user", backend_user_},
                                 {"connection_id", std::to_string(connection_id_)}});
  co_return true;
}

awaitable<bool> MysqlSession::acquire_dynamic_credential(std::uint8_t ok_seq) {
  const std::string message = "segproxy: could not obtain a backend credential for segment \"" + segment_ + "\"";
  const Refusal reason = Refusal::BackendLoginFailed;
  if (svc_.dynamic == nullptr) {
    const std::string text = message + ": dynamic credentials are not available";
    co_await refuse(ok_seq, 1045, "28000", text, reason);
    co_return false;
  }
  const std::string key = dynamic_identity_key(identity());
  auto ex = client_->lowest().get_executor();
  AcquireResult minted = co_await async_acquire(*svc_.dynamic, listener_->cfg->name, segment_, key, ex, use_awaitable);
  if (!minted.ok()) {
    svc_.log.warn("credential.acquire_failed",
                  {{"session", id_text_}, {"protocol", "mysql"}, {"segment", segment_}, {"error", minted.error}});
    const std::string text = message + " (see the proxy log)";
    co_await refuse(ok_seq, 1045, "28000", text, reason);
    co_return false;
  }
  minted_ = std::move(*minted.credential);
  backend_user_ = minted_->user;
  if (svc_.registry != nullptr) svc_.registry->set_backend_user(id_, backend_user_);
  co_return true;
}

// sql_mode and character_set_client decide how the analyzer must lex (ANSI_QUOTES,
// NO_BACKSLASH_ESCAPES, multibyte character sets); a default sql_mode with a flag the
// analyzer cannot follow (ORACLE, MSSQL, ...) refuses the login (fail closed). Later
// changes are followed (mysql_lexing_follow.cpp).
awaitable<bool> MysqlSession::learn_session_options() {
  std::string error;
  auto row = co_await mysql_query_row(*backend_, backend_reader_, backend_caps_,
                                      "SELECT @@SESSION.sql_mode, @@lower_case_table_names, "
                                      "@@SESSION.character_set_client",
                                      error);
  if (!row || row->size() != 3 || !(*row)[0] || !(*row)[1] || !(*row)[2]) {
    svc_.log.warn("backend.session_options_failed", {{"session", id_text_}, {"error", error}});
    co_return false;
  }
  if (!gate_->apply_lexing_settings(*(*row)[0], *(*row)[2])) {
    svc_.log.warn("backend.sql_mode_refused", {{"session", id_text_}, {"sql_mode", (*row)[0]->substr(0, 256)}});
    co_return false;
  }
  gate_->set_lower_case_table_names(std::atoi((*row)[1]->c_str()));
  auto left = backend_reader_.take_leftover();
  if (!left.empty()) {
    svc_.log.warn("backend.protocol_violation", {{"session", id_text_}, {"error", "bytes after the proxy's query"}});
    co_return false;
  }
  co_return true;
}

awaitable<bool> MysqlSession::write_client(const Bytes& bytes) {
  error_code ec;
  co_await client_->write(asio::buffer(bytes), ec);
  if (ec && close_reason_.empty()) close_reason_ = "client write: " + ec.message();
  co_return !ec;
}

}  // namespace segproxy::proxy
