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
//    Probes are capped per backend (one at a time, backend_probes.hpp): a
//    silent session over the cap takes the verdict of the probe already running for its
//    backend instead of starting its own, so N sessions silent at once make at most the
//    cap of logins, whatever N. Each silent session asks at most once per
//    backend_message_timeout (the watch is re-armed after an answer). Counted in
//    segproxy_backend_probes_total{result} and segproxy_backend_probe_waits_total.
// A stalled backend's connection is closed and the session ends: ERR 1159 (08S01) when what the
// client has is whole packets (nothing of the response yet, or a stall between packets),
// otherwise only the closed connection. Logged as backend.stalled; each verdict a
// session takes as backend.probe (shared=true: another session's probe).
#include "daemon/mysql/mysql_session.hpp"

#include "daemon/mysql/backend_probes.hpp"
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
  // No cap (tests that build no server), or no credential to log in with (the verdict,
  // "silent", is this session's alone and must not be handed to others): probe alone.
  if (svc_.probes == nullptr || login_request().password == nullptr) {
    asio::co_spawn(client_->lowest().get_executor(), probe_backend(shared_from_this(), backend_watch_, std::nullopt),
                   asio::detached);
    return;
  }
  const config::Endpoint& ep = listener_->cfg->backend.endpoint;
  const std::string backend = ep.host + ":" + std::to_string(ep.port);
  // Over the cap: the verdict of the running probe comes back on this session's thread.
  // A weak reference: a probe torn down at shutdown drops its waiters uncalled.
  auto waiter = [weak = weak_from_this(), watch = backend_watch_,
                 ex = client_->lowest().get_executor()](const ProbeVerdict& v) {
    auto self = weak.lock();
    if (!self) return;
    asio::post(ex, [self = std::move(self), watch, v] { self->take_probe_verdict(watch, v, true); });
  };
  std::optional<BackendProbes::Probe> probe =
      svc_.probes->start_or_wait(backend, BackendProbes::kPerBackend, std::move(waiter));
  if (!probe) return;
  asio::co_spawn(client_->lowest().get_executor(), probe_backend(shared_from_this(), backend_watch_, std::move(probe)),
                 asio::detached);
}

awaitable<void> MysqlSession::probe_backend(std::shared_ptr<MysqlSession> self, std::uint64_t watch,
                                            std::optional<BackendProbes::Probe> probe) {
  const std::shared_ptr<const Runtime> rt = self->rt_;  // the credential login_request points into
  const MysqlLoginRequest req = self->login_request();
  const config::Endpoint ep = self->listener_->cfg->backend.endpoint;
  ProbeVerdict verdict;
  verdict.error = "no backend credential to probe with";
  if (req.password != nullptr) {
    verdict.error.clear();  // stays empty when the probe is logged in
    verdict.answers = co_await mysql_backend_answers(ep, req, verdict.error);
  }
  if (probe) probe->finish(verdict);  // counted; the sessions that waited for it get it too
  self->take_probe_verdict(watch, verdict, false);
}

void MysqlSession::take_probe_verdict(std::uint64_t watch, const ProbeVerdict& v, bool shared) {
  // Bytes arrived (the relay read completed) or the session ended meanwhile: moot.
  if (closed() || watch != backend_watch_ || !backend_) return;
  // A refusal the server sent (error set although it answers) stays in the log line.
  svc_.log.info("backend.probe", {{"session", id_text_},
                                  {"protocol", "mysql"},
                                  {"answers", v.answers ? "true" : "false"},
                                  {"shared", shared ? "true" : "false"},
                                  {"error", v.error}});
  if (v.answers) {
    backend_stall_.arm(rt_->config.limits.backend_message_timeout);  // still the same watch
    return;
  }
  backend_stalled_ = true;
  backend_->close();
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
