#pragma once
// One HTTPS/1.1 connection to one etcd member's JSON gateway, with a client certificate
// (Beast over Asio SSL; no Asio type leaks out of this header). Blocking calls with a
// deadline each: the connection owns a private io_context and runs it until the
// operation completes or the deadline passes (then the socket is closed, except for a
// pending stream read, which stays pending for the next read_stream call).
// Thread-confined: one thread uses a connection at a time.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::etcd {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string host;
  std::string port;
  std::string url;  // as configured, for messages
};

// "https://host:port" (IPv6 "[::1]:2379"). Only https: the control plane is never
// plaintext. Empty optional + `error` on anything else.
std::optional<Endpoint> parse_endpoint(std::string_view url, std::string& error);

struct TlsFiles {
  std::string ca;    // PEM CA that signed the etcd members' certificates
  std::string cert;  // this client's certificate (etcd --client-cert-auth)
  std::string key;
};

// A loaded client TLS context (verify_peer against `ca`, hostname checked against the
// endpoint's host), shared by every connection of a client.
class TlsContext;
std::shared_ptr<TlsContext> load_tls(const TlsFiles& files, std::string& error);

enum class Outcome {
  Ok,
  Unavailable,  // connect/TLS/IO error: try another member
  Timeout,      // deadline passed
  Protocol,     // not a valid HTTP answer
};

class HttpsConnection {
 public:
  HttpsConnection(std::shared_ptr<TlsContext> tls, Endpoint endpoint);
  ~HttpsConnection();
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;

  const Endpoint& endpoint() const;

  // POST `body` (application/json) to `path`; the answer's status and body (capped at
  // kMaxBody). Connects (TCP + TLS) first when not connected; keeps the connection.
  Outcome post(std::string_view path, std::string_view body, Clock::time_point deadline,
               unsigned& status, std::string& answer, std::string& error);

  // Streaming: sends the request and reads the answer's header (status 200 expected).
  Outcome start_stream(std::string_view path, std::string_view body,
                       Clock::time_point deadline, std::string& error);
  // Appends the next bytes of the streamed body to `out`. Timeout: nothing arrived yet,
  // the read stays pending and the stream usable. Unavailable: the stream ended.
  Outcome read_stream(Clock::time_point deadline, std::string& out, std::string& error);

  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segproxy::etcd
