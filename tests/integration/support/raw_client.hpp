#pragma once
// A hand-driven PostgreSQL wire client (plain TCP, optionally TLS via OpenSSL) for
// sending what libpq never would: garbage, oversized lengths, bytes injected before
// the TLS handshake, CancelRequests with chosen keys.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace segproxy::it {

// Frontend packets (protocol 3.0).
std::string ssl_request_packet();
std::string cancel_request_packet(std::int32_t pid, std::int32_t key);
std::string startup_packet(const std::vector<std::pair<std::string, std::string>>& params);
std::string be32(std::uint32_t v);

// Frontend messages after login (protocol 3.0): type, Int32 length, body.
std::string be16(std::uint16_t v);
std::string frontend_message(char type, const std::string& body);
std::string query_packet(const std::string& sql);
std::string parse_packet(const std::string& statement, const std::string& sql);  // no parameter types
std::string bind_packet(const std::string& portal, const std::string& statement);  // no parameters, text results
std::string describe_portal_packet(const std::string& portal);
std::string execute_packet(const std::string& portal);  // all rows
std::string sync_packet();
std::string terminate_packet();

struct BackendMessage {
  char type = 0;
  std::string body;
};

// Fields of an ErrorResponse/NoticeResponse body: 'S' severity, 'C' SQLSTATE, 'M' message.
std::map<char, std::string> parse_error_fields(const std::string& body);

class RawClient {
 public:
  enum class ReadStatus { Data, Closed, Timeout };

  RawClient() = default;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient();

  // From `source` (an IPv4 address such as "127.0.1.1": another host as far as per-address
  // caps go) when given.
  bool connect_tcp(std::uint16_t port, std::string* error, const char* source = nullptr);
  // Sends SSLRequest and reads the one-byte answer ('S' or 'N'); nullopt if the peer
  // closed or did not answer within the timeout.
  std::optional<char> ssl_request(std::chrono::milliseconds timeout);
  // TLS handshake on the connected socket, verifying the server against `ca` for
  // host "localhost"; presents cert/key when both are non-empty.
  bool tls_handshake(const std::string& ca, const std::string& cert, const std::string& key,
                     std::chrono::milliseconds timeout, std::string* error);
  // ssl_request() == 'S' followed by tls_handshake().
  bool start_tls(const std::string& ca, const std::string& cert, const std::string& key,
                 std::string* error);

  // Writes all bytes (through TLS once it is up). False if the peer is gone.
  bool send(std::string_view bytes);

  // Reads whatever arrives next (appended to `out`).
  ReadStatus read_some(std::string& out, std::chrono::milliseconds timeout);
  // Reads and keeps everything until the peer closes; true if it closed within timeout.
  bool wait_closed(std::chrono::milliseconds timeout, std::string* received = nullptr);
  // Reads one complete backend message; nullopt on close or timeout (see last_status()).
  std::optional<BackendMessage> read_message(std::chrono::milliseconds timeout);
  ReadStatus last_status() const { return last_status_; }

  // Sends a StartupMessage and reads until ReadyForQuery ('Z') or ErrorResponse ('E');
  // returns that message (nullopt on close/timeout).
  std::optional<BackendMessage> startup(
      const std::vector<std::pair<std::string, std::string>>& params,
      std::chrono::milliseconds timeout);
  // BackendKeyData seen during startup(), if any.
  std::optional<std::pair<std::int32_t, std::int32_t>> backend_key() const { return key_; }

  bool tls_active() const { return ssl_ != nullptr; }
  int fd() const { return fd_; }
  void close();

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;  // received, not yet consumed by read_message
  ReadStatus last_status_ = ReadStatus::Data;
  std::optional<std::pair<std::int32_t, std::int32_t>> key_;
};

// The start of most raw-wire tests, as gtest assertions (ASSERT_TRUE(open_session(raw,
// port_)); a failure says which step failed):
//   connect_tls: connect_tcp to 127.0.0.1:port, then start_tls with the test PKI's
//     client certificate `cert` (<pki>/<cert>.crt and .key; the proxy checked against
//     <pki>/ca.crt);
//   open_session: connect_tls, then startup as user "whatever" on the test database,
//     answered by ReadyForQuery within `timeout` (BackendKeyData in raw.backend_key()).
// The messages one request gets, up to and including its ReadyForQuery.
struct RawReply {
  std::string types;                  // message types in order
  std::map<char, std::string> error;  // fields of the first ErrorResponse
  std::vector<std::string> rows;      // DataRow bodies
  bool complete = false;              // ReadyForQuery seen
  bool closed = false;                // the peer closed the connection instead
};
// Reads until ReadyForQuery, the connection's end, or `timeout` without a message.
RawReply read_reply(RawClient& raw, std::chrono::milliseconds timeout);

::testing::AssertionResult connect_tls(RawClient& raw, std::uint16_t port, const std::string& cert = "client-spiffe");
::testing::AssertionResult open_session(RawClient& raw, std::uint16_t port, const std::string& cert = "client-spiffe",
                                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace segproxy::it
