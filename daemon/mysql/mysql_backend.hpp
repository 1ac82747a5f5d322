#pragma once
// The proxy as a MySQL/MariaDB client: connect and read the backend's greeting (the
// session needs it before it greets its own client), log in with the segment's scoped
// credential (optional TLS, mysql_native_password / caching_sha2_password /
// client_ed25519 / auth switches: protocols/mysql/auth), run small queries of its own
// (sql_mode at login), and send KILL QUERY on a fresh connection (statement_timeout,
// revoke of a running statement). Errors are values.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/mysql/messages.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/stream.hpp"

namespace segproxy::proxy {

// Reads whole MySQL messages from a stream with a byte buffer that survives between
// calls (bytes after a message stay for the next one).
class MysqlReader {
 public:
  explicit MysqlReader(std::size_t max_payload) : max_(max_payload) {}
  // Next message with sequence id `seq` (nullopt: any). On failure returns false and
  // sets `error`.
  awaitable<bool> next(Stream& s, std::optional<std::uint8_t> seq, protocols::Bytes& payload, std::uint8_t& next_seq,
                       std::string& error);
  // Bytes read past the last message.
  protocols::Bytes take_leftover();

 private:
  std::size_t max_;
  protocols::Bytes buf_;
  std::size_t start_ = 0;
};

struct MysqlBackendConnection {
  std::unique_ptr<Stream> stream;
  protocols::mysql::HandshakeV10 greeting;
};

// Connects and reads the greeting (a greeting that is an ERR, e.g. "Too many
// connections", is an error with its text).
// `refused_by_server` (optional) is set when the greeting was an ERR: the server answered.
awaitable<std::optional<MysqlBackendConnection>> mysql_backend_connect(const config::Endpoint& ep,
                                                                       std::chrono::milliseconds timeout,
                                                                       std::string& error,
                                                                       bool* refused_by_server = nullptr);

struct MysqlLoginRequest {
  ssl::context* tls = nullptr;  // backend TLS (null: plain)
  std::string server_name;      // SNI / verification name for verify-full
  const std::vector<std::string>* auth = nullptr;  // backend.auth (null or empty: the default three)
  std::string user;
  const std::string* password = nullptr;  // never logged
  std::optional<std::string> database;
  protocols::mysql::Capabilities client_caps = 0;  // what the client chose (format flags are relayed)
  std::uint8_t charset = protocols::mysql::kUtf8mb4GeneralCi;
  std::chrono::milliseconds timeout{5000};
  const protocols::Limits* limits = nullptr;
};

struct MysqlLoginResult {
  bool ok = false;
  std::string error;                                  // for logs (no secrets)
  bool pinned = false;  // the backend asked for a plugin backend.auth does not accept (error says which)
  std::optional<protocols::mysql::ErrPacket> server;  // the backend's ERR, when it sent one
  protocols::mysql::Capabilities caps = 0;            // negotiated with the backend
  protocols::mysql::OkPacket ok_packet;
};

// Logs in on `conn` (after mysql_backend_connect). On success the stream is in the
// command phase.
awaitable<MysqlLoginResult> mysql_backend_login(MysqlBackendConnection& conn, const MysqlLoginRequest& req);

// Runs one COM_QUERY on a logged-in connection and returns the first row's columns
// (text protocol; NULL as nullopt). For the proxy's own small queries.
awaitable<std::optional<std::vector<std::optional<std::string>>>> mysql_query_row(
    Stream& s, MysqlReader& reader, protocols::mysql::Capabilities caps, std::string_view sql, std::string& error);

// KILL QUERY `connection_id` over a fresh connection logged in as `req.user` (the same
// backend user may kill its own threads). Best effort, bounded by req.timeout.
awaitable<void> mysql_kill_query(config::Endpoint ep, MysqlLoginRequest req, std::uint32_t connection_id);

// Does the server answer? A fresh connection logged in as `req.user` (then COM_QUIT),
// each step bounded by req.timeout: true when the login succeeded, and also when the
// server refused it with an ERR of its own (a greeting that is an ERR, e.g. 1040 "Too
// many connections", or an authentication ERR): a server that composes an ERR is not
// stalled. The liveness probe of limits.backend_message_timeout
// (daemon/mysql/mysql_backend_stall.cpp); `error` says why not, or which ERR it sent.
awaitable<bool> mysql_backend_answers(config::Endpoint ep, MysqlLoginRequest req, std::string& error);

}  // namespace segproxy::proxy
