#pragma once
// Connects to a PostgreSQL backend and logs in with the segment's scoped credential:
// optional TLS (SSLRequest), StartupMessage, the methods backend.auth accepts
// (SCRAM-SHA-256, -PLUS with channel binding over TLS, MD5, cleartext), then
// ParameterStatus / BackendKeyData up to ReadyForQuery. Errors are values.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "protocols/common/byte_writer.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/pg/messages.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/stream.hpp"

namespace segproxy::proxy {

struct BackendLoginRequest {
  const config::Backend* backend = nullptr;
  ssl::context* tls = nullptr;  // null = plain TCP
  std::string user;
  const std::string* password = nullptr;  // not owned; never logged
  std::string database;
  std::vector<std::pair<std::string, std::string>> parameters;  // already filtered
  std::chrono::milliseconds timeout{5000};
  const protocols::Limits* limits = nullptr;
};

// Pinned: the backend asked for an authentication method that backend.auth does not
// accept (`error` is the client-safe refusal text).
enum class BackendFailure { None, Connect, Tls, Auth, Protocol, Server, Timeout, Pinned };

struct BackendLoginResult {
  BackendFailure failure = BackendFailure::None;
  std::string error;                         // for logs (no secrets)
  protocols::pg::ErrorFields server_error;   // when failure == Server or Auth
  std::unique_ptr<Stream> stream;            // set on success
  std::vector<std::pair<std::string, std::string>> parameter_status;
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  char transaction_status = 'I';
  std::string auth_method;  // what the proxy answered: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, md5, password
  protocols::Bytes leftover;  // bytes received after ReadyForQuery (normally none)
  bool ok() const { return failure == BackendFailure::None; }
};

awaitable<BackendLoginResult> backend_login(BackendLoginRequest req);

// Sends a CancelRequest to host:port over a fresh plain connection (as libpq does).
awaitable<void> send_backend_cancel(std::string host, std::uint16_t port, std::int32_t pid,
                                    std::int32_t secret, std::chrono::milliseconds timeout);

}  // namespace segproxy::proxy
