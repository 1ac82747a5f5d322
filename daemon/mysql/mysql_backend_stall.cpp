// MySQL session: limits.backend_message_timeout (issue 20), a backend that stops sending
// in the middle of a response.
//
// What counts as stalled. The watch runs while relay_response waits for the backend
// between the first byte of a response and its end; before the first byte the query may
// take as long as it likes (statement_timeout's business). When the backend has sent
// nothing for the limit:
//  - in the middle of a packet, the backend is stalled: no server leaves a packet
//    half-written while it works;
//  - between packets, it may be stalled (MariaDB writes a row larger than its 16 KiB
//    net buffer up to the row's end, so a server stopped between two such rows leaves the
//    stream on a packet boundary: the first version of this watch, mid-packet only, never
//    fired for it) or thinking (a slow query sends its result in bursts: SLEEP per row, a
//    selective scan). A fresh login with the session's backend user tells them apart
//    (mysql_backend_answers, bounded by backend_connect_timeout): a server that logs it in
//    is working, and the watch starts again; one that does not is stalled. A stalled
//    server cannot log anyone in; a busy one can (a session whose own server thread hangs
//    while the server answers others is a slow query, not a stalled backend). A server
//    that refuses the probe with an ERR of its own (1040 Too many connections, 1045, a
//    dropped dynamic user) answers too: it is not stalled (mysql_backend_answers).
//    Probes are not pooled or capped: each silent session probes at most once per
//    backend_message_timeout (the watch is re-armed after an answer), so N sessions
//    waiting between packets make N short logins per period (docs/mysql.md Gaps).
// A stalled backend's connection is closed and the session ends: ERR 1159 (08S01) when what the
// client has is whole packets (nothing of the response yet, or a stall between packets),
// otherwise only the closed connection. Logged as backend.stalled; each probe as
// backend.probe.
#include "daemon/mysql/mysql_session.hpp"

#include "protocols/mysql/packets.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
using protocols::Bytes;

namespace {
// ER_NET_READ_INTERRUPTED, SQLSTATE 08S01 (communication link failure: drivers discard the
// connection). Not 2013: that is a client library's own code (CR_SERVER_LOST), and
// libmariadb reports an ERR packet carrying it as 2027 "Received malformed packet".
constexpr std::uint16_t kStallCode = 1159;
}  // namespace

void MysqlSession::watch_backend(bool on) {
  ++backend_watch_;  // ends the previous watch: a probe in flight for it is ignored
  const auto limit = rt_->config.limits.backend_message_timeout;
  if (on && limit.count() > 0) {
    backend_stall_.arm(limit);
  } else {
    // The time a slow client takes to read is not the backend's.
    backend_stall_.disarm();
  }
}

void MysqlSession::on_backend_silent() {
  if (closed() || !backend_ || !tracker_) return;
  if (tracker_->mid_packet()) {
    backend_stalled_ = true;
    backend_->close();  // relay_response ends the session (backend_stalled)
    return;
  }
  asio::co_spawn(client_->lowest().get_executor(), probe_backend(shared_from_this(), backend_watch_), asio::detached);
}

awaitable<void> MysqlSession::probe_backend(std::shared_ptr<MysqlSession> self, std::uint64_t watch) {
  const std::shared_ptr<const Runtime> rt = self->rt_;  // the credential login_request points into
  const MysqlLoginRequest req = self->login_request();
  const config::Endpoint ep = self->listener_->cfg->backend.endpoint;
  std::string error = "no backend credential to probe with";
  bool answers = false;
  if (req.password != nullptr) {
    error.clear();  // stays empty when the probe is logged in
    answers = co_await mysql_backend_answers(ep, req, error);
  }
  // Bytes arrived (the relay read completed) or the session ended meanwhile: moot.
  if (self->closed() || watch != self->backend_watch_ || !self->backend_) co_return;
  // A refusal the server sent (error set although it answers) stays in the log line.
  self->svc_.log.info("backend.probe", {{"session", self->id_text_},
                                        {"protocol", "mysql"},
                                        {"answers", answers ? "true" : "false"},
                                        {"error", error}});
  if (answers) {
    self->backend_stall_.arm(rt->config.limits.backend_message_timeout);  // still the same watch
    co_return;
  }
  self->backend_stalled_ = true;
  self->backend_->close();
}

awaitable<bool> MysqlSession::backend_stalled() {
  close_reason_ = "backend stalled in the middle of a response (limits.backend_message_timeout)";
  // Everything relayed so far ends on a packet boundary unless the stall is mid-packet: an
  // ERR then takes the next packet's place (a server does the same for a query that fails
  // in the middle of its rows) and the client reports it with the proxy's reason.
  const bool clean = state_ == State::Awaiting || !tracker_->mid_packet();
  svc_.log.error("backend.stalled", {{"session", id_text_},
                                     {"protocol", "mysql"},
                                     {"where", clean ? "between packets" : "mid-packet"},
                                     {"err_seq", std::to_string(state_ == State::Awaiting ? response_seq_ : tracker_->next_seq())}});
  if (clean && !closed()) {
    const std::uint8_t seq = state_ == State::Awaiting ? response_seq_ : tracker_->next_seq();
    Bytes out;
    my::encode_err_packet(out, seq, kStallCode, "08S01",
                          "Lost connection to server during query (segproxy: the backend stopped sending in the "
                          "middle of the response, limits.backend_message_timeout)",
                          client_caps_);
    co_await write_client(out);
  }
  co_return false;
}

}  // namespace segproxy::proxy
