#include "daemon/mysql/mysql_backend.hpp"

#include <openssl/ssl.h>

#include "protocols/mysql/auth.hpp"
#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/commands.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/handshake.hpp"
#include "protocols/mysql/packets.hpp"
#include "protocols/mysql/wire.hpp"
#include "daemon/net/connect.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kMaxLoginMessage = 1024 * 1024;  // greeting / auth packets
}  // namespace

awaitable<bool> MysqlReader::next(Stream& s, std::optional<std::uint8_t> seq, Bytes& payload, std::uint8_t& next_seq,
                                  std::string& error) {
  for (;;) {
    auto view = std::span<const std::uint8_t>(buf_.data() + start_, buf_.size() - start_);
    auto d = my::decode_message(view, seq, max_);
    if (d.status == DecodeStatus::Ok) {
      const auto p = d.value.payload();
      payload.assign(p.begin(), p.end());
      next_seq = d.value.next_seq();
      start_ += d.consumed;
      if (start_ == buf_.size()) {
        buf_.clear();
        start_ = 0;
      }
      co_return true;
    }
    if (d.status == DecodeStatus::Malformed) {
      error = "malformed packet from the backend: " + d.error;
      co_return false;
    }
    if (start_ > 0) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
      start_ = 0;
    }
    const std::size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    error_code ec;
    const std::size_t n = co_await s.read_some(asio::buffer(buf_.data() + old, kReadChunk), ec);
    buf_.resize(old + n);
    if (ec) {
      error = ec == asio::error::eof ? "the backend closed the connection" : "backend read: " + ec.message();
      co_return false;
    }
  }
}

Bytes MysqlReader::take_leftover() {
  Bytes out(buf_.begin() + static_cast<std::ptrdiff_t>(start_), buf_.end());
  Bytes().swap(buf_);  // the login is over: an idle session keeps no read buffer (issue 15)
  start_ = 0;
  return out;
}

awaitable<std::optional<MysqlBackendConnection>> mysql_backend_connect(const config::Endpoint& ep,
                                                                       std::chrono::milliseconds timeout,
                                                                       std::string& error, bool* refused_by_server) {
  auto ex = co_await asio::this_coro::executor;
  error_code ec;
  tcp::socket sock = co_await connect_tcp(ep, timeout, ec);
  if (ec) {
    error = "connect to " + ep.host + ":" + std::to_string(ep.port) + ": " + ec.message();
    co_return std::nullopt;
  }
  MysqlBackendConnection conn;
  conn.stream = std::make_unique<Stream>(std::move(sock));
  Watchdog deadline(ex, [s = conn.stream.get()] { s->close(); });
  deadline.arm(timeout);
  MysqlReader reader(kMaxLoginMessage);
  Bytes payload;
  std::uint8_t next_seq = 0;
  const bool got = co_await reader.next(*conn.stream, std::uint8_t{0}, payload, next_seq, error);
  deadline.disarm();
  if (!got) co_return std::nullopt;
  auto g = my::decode_greeting(payload);
  if (g.status != DecodeStatus::Ok) {
    error = "malformed greeting from the backend: " + g.error;
    co_return std::nullopt;
  }
  if (auto* err = std::get_if<my::ErrPacket>(&g.value)) {
    error = "the backend refused the connection: " + std::to_string(err->code) + " " + err->message;
    if (refused_by_server != nullptr) *refused_by_server = true;
    co_return std::nullopt;
  }
  conn.greeting = std::get<my::HandshakeV10>(std::move(g.value));
  co_return conn;
}

awaitable<MysqlLoginResult> mysql_backend_login(MysqlBackendConnection& conn, const MysqlLoginRequest& req) {
  MysqlLoginResult res;
  auto ex = co_await asio::this_coro::executor;
  Stream& s = *conn.stream;
  Watchdog deadline(ex, [&s] { s.close(); });
  deadline.arm(req.timeout);
  const my::HandshakeV10& g = conn.greeting;
  const bool tls = req.tls != nullptr;
  if (tls && !my::has(g.capabilities, my::CLIENT_SSL)) {
    res.error = "backend TLS is configured but the backend does not offer TLS";
    co_return res;
  }
  res.caps = my::backend_login_capabilities(g.capabilities, req.client_caps, tls, req.database.has_value());
  std::uint8_t seq = 1;
  error_code ec;
  if (tls) {
    Bytes out;
    my::encode_ssl_request(out, my::SslRequest{res.caps, my::kDefaultMaxPacket, req.charset});
    Bytes framed;
    seq = my::encode_message(framed, seq, out);
    co_await s.write(asio::buffer(framed), ec);
    if (ec) {
      res.error = "backend write: " + ec.message();
      co_return res;
    }
    s.wrap_tls(*req.tls);
    if (!req.server_name.empty()) SSL_set_tlsext_host_name(s.native_ssl(), req.server_name.c_str());
    co_await s.handshake(ssl::stream_base::client, ec);
    if (ec) {
      res.error = "backend TLS handshake: " + ec.message();
      co_return res;
    }
  }
  // backend.auth; none given (or empty): the loader's default, never "everything".
  static const std::vector<std::string> kDefaultPlugins{"mysql_native_password", "caching_sha2_password",
                                                        "client_ed25519"};
  my::AuthClient auth(*req.password, g.auth_plugin, g.scramble, tls, {},
                      req.auth != nullptr && !req.auth->empty() ? *req.auth : kDefaultPlugins);
  my::HandshakeResponse41 hr;
  hr.capabilities = res.caps;
  hr.charset = req.charset;
  hr.username = req.user;
  hr.auth_response = auth.initial_response();
  hr.database = req.database;
  if (my::has(res.caps, my::CLIENT_PLUGIN_AUTH)) hr.auth_plugin = auth.plugin();
  if (my::has(res.caps, my::CLIENT_CONNECT_ATTRS)) hr.attributes = {{"_client_name", "segproxy"}};
  {
    Bytes out;
    my::encode_handshake_response(out, hr);
    Bytes framed;
    seq = my::encode_message(framed, seq, out);
    co_await s.write(asio::buffer(framed), ec);
    if (ec) {
      res.error = "backend write: " + ec.message();
      co_return res;
    }
  }
  MysqlReader reader(kMaxLoginMessage);
  for (int round = 0; round < 8; ++round) {
    Bytes payload;
    std::uint8_t next_seq = 0;
    if (!co_await reader.next(s, seq, payload, next_seq, res.error)) co_return res;
    auto reply = my::decode_auth_reply(payload, res.caps);
    if (reply.status != DecodeStatus::Ok) {
      res.error = "malformed authentication reply: " + reply.error;
      co_return res;
    }
    my::AuthAction action = auth.on_reply(reply.value);
    switch (action.kind) {
      case my::AuthAction::Kind::Send: {
        Bytes framed;
        seq = my::encode_message(framed, next_seq, action.payload);
        co_await s.write(asio::buffer(framed), ec);
        if (ec) {
          res.error = "backend write: " + ec.message();
          co_return res;
        }
        break;
      }
      case my::AuthAction::Kind::Wait:
        seq = next_seq;
        break;
      case my::AuthAction::Kind::Done:
        deadline.disarm();
        res.ok = true;
        res.ok_packet = action.ok;
        co_return res;
      case my::AuthAction::Kind::Fail:
        res.server = action.err;
        res.error = action.err ? std::to_string(action.err->code) + " " + action.err->message : action.error;
        res.pinned = !action.err && action.error.rfind("segproxy: backend asked for ", 0) == 0;
        co_return res;
    }
  }
  res.error = "too many authentication rounds";
  co_return res;
}

awaitable<std::optional<std::vector<std::optional<std::string>>>> mysql_query_row(Stream& s, MysqlReader& reader,
                                                                                  my::Capabilities caps,
                                                                                  std::string_view sql,
                                                                                  std::string& error) {
  Bytes cmd;
  my::encode_command(cmd, my::ComQuery{sql, 0});
  Bytes framed;
  my::encode_message(framed, 0, cmd);
  error_code ec;
  co_await s.write(asio::buffer(framed), ec);
  if (ec) {
    error = "backend write: " + ec.message();
    co_return std::nullopt;
  }
  Bytes payload;
  std::uint8_t seq = 0;
  if (!co_await reader.next(s, std::uint8_t{1}, payload, seq, error)) co_return std::nullopt;
  if (my::is_err(payload, payload.size())) {
    auto e = my::decode_err(payload, caps);
    error = "backend error: " + (e.status == DecodeStatus::Ok ? e.value.message : std::string("(malformed)"));
    co_return std::nullopt;
  }
  auto count = my::decode_column_count(payload);
  if (count.status != DecodeStatus::Ok || count.value == 0 || count.value > 64) {
    error = "unexpected reply to the proxy's own query";
    co_return std::nullopt;
  }
  const bool deprecate_eof = my::has(caps, my::CLIENT_DEPRECATE_EOF);
  for (std::uint64_t i = 0; i < count.value; ++i) {
    if (!co_await reader.next(s, seq, payload, seq, error)) co_return std::nullopt;
  }
  if (!deprecate_eof && !co_await reader.next(s, seq, payload, seq, error)) co_return std::nullopt;
  std::optional<std::vector<std::optional<std::string>>> row;
  for (;;) {
    if (!co_await reader.next(s, seq, payload, seq, error)) co_return std::nullopt;
    if (my::is_ok_eof_terminator(payload, payload.size()) || my::is_err(payload, payload.size())) break;
    if (row) continue;  // only the first row is kept; the rest are drained
    auto decoded = my::decode_text_row(payload, count.value);
    if (decoded.status != DecodeStatus::Ok) {
      error = "malformed row in the reply to the proxy's own query: " + decoded.error;
      co_return std::nullopt;
    }
    row = std::move(decoded.value);
  }
  if (!row) error = "the proxy's own query returned no row";
  co_return row;
}

namespace {

// A fresh connection logged in as req.user for the proxy's own commands (no database, no
// client format flags); nullopt with `error` when the connect or the login failed, and
// then `*server_answered` (when given) tells whether the server itself refused (an ERR it
// composed, at the greeting or the login) rather than not answering.
awaitable<std::optional<MysqlBackendConnection>> own_login(const config::Endpoint& ep, MysqlLoginRequest req,
                                                           std::string& error, bool* server_answered = nullptr) {
  bool refused = false;
  auto conn = co_await mysql_backend_connect(ep, req.timeout, error, &refused);
  if (!conn) {
    if (server_answered != nullptr) *server_answered = refused;
    co_return std::nullopt;
  }
  req.client_caps = my::CLIENT_PROTOCOL_41 | my::CLIENT_TRANSACTIONS;
  req.database.reset();
  auto login = co_await mysql_backend_login(*conn, req);
  if (!login.ok) {
    error = "login: " + login.error;
    conn->stream->close();
    if (server_answered != nullptr) *server_answered = login.server.has_value();
    co_return std::nullopt;
  }
  co_return conn;
}

}  // namespace

awaitable<bool> mysql_backend_answers(config::Endpoint ep, MysqlLoginRequest req, std::string& error) {
  // An ERR the server composed (at the greeting or the login) is an answer. Review
  // finding (h2): every such refusal used to count as a stall, so a server at
  // max_connections (1040 to each probe, which the probes of many slow sessions bring
  // about themselves) had every session that waited between two packets ended with 1159.
  bool answered = false;
  auto conn = co_await own_login(ep, req, error, &answered);
  if (!conn) co_return answered;
  Bytes cmd;
  my::encode_command(cmd, my::ComQuit{});
  Bytes framed;
  my::encode_message(framed, 0, cmd);
  error_code ec;
  co_await conn->stream->write(asio::buffer(framed), ec);  // a polite end: no "aborted connection" on the server
  conn->stream->close();
  co_return true;
}

awaitable<void> mysql_kill_query(config::Endpoint ep, MysqlLoginRequest req, std::uint32_t connection_id) {
  std::string error;
  auto conn = co_await own_login(ep, req, error);
  if (!conn) co_return;
  MysqlReader reader(kMaxLoginMessage);
  const std::string sql = "KILL QUERY " + std::to_string(connection_id);
  Bytes cmd;
  my::encode_command(cmd, my::ComQuery{sql, 0});
  Bytes framed;
  my::encode_message(framed, 0, cmd);
  error_code ec;
  co_await conn->stream->write(asio::buffer(framed), ec);
  if (!ec) {
    Bytes payload;
    std::uint8_t seq = 0;
    co_await reader.next(*conn->stream, std::uint8_t{1}, payload, seq, error);
  }
  conn->stream->close();
}

}  // namespace segproxy::proxy
