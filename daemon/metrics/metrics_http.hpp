#pragma once
// The Prometheus endpoint: a small HTTP/1.1 server (Boost.Beast, C++20 coroutines) on a
// given io_context.
//
//   GET /metrics  200, text exposition format 0.0.4
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 "ready" (plus a warning line when the callback gives one with ok),
//                 or 503 with the readiness callback's reason
//   other paths 404; other methods on these paths 405 (HEAD is served like GET)
//
// Caps: request header size, request body size, a read/write deadline per request
// (beast::tcp_stream::expires_after), a maximum of concurrent connections (beyond it a
// new connection is closed at once) and requests per keep-alive connection.
//
// Threading: all I/O runs on a strand of the io_context. start() may be called from any
// thread before or while the context runs; stop() from any thread. After stop()
// returns, the render and readiness callbacks are never invoked again, so their
// targets may be destroyed. The destructor calls stop(); pending coroutines only hold
// the server's shared internal state, never `this`.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

class MetricsRegistry;

struct MetricsHttpOptions {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 0;                                  // GET needs none; a larger body gets 413 and close
  std::chrono::milliseconds io_timeout{std::chrono::seconds(10)};  // per request read / response write
  std::size_t max_connections = 64;
  std::size_t max_requests_per_connection = 1000;
};

class MetricsHttpServer {
 public:
  using RenderFn = std::function<std::string()>;
  // {true, ""} when ready; {false, reason} otherwise.
  using ReadinessFn = std::function<std::pair<bool, std::string>()>;

  MetricsHttpServer(asio::io_context& ctx, std::string host, std::uint16_t port, RenderFn render, ReadinessFn ready,
                    MetricsHttpOptions opts = {});
  // Renders `registry`, which must outlive this server (or stop()).
  MetricsHttpServer(asio::io_context& ctx, std::string host, std::uint16_t port, const MetricsRegistry& registry,
                    ReadinessFn ready, MetricsHttpOptions opts = {});
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Resolves `host`, binds and listens, then accepts in the background. Returns the
  // error (e.g. address in use, unresolvable host) instead of throwing. Once only.
  error_code start();
  // Closes the acceptor and every open connection. Idempotent.
  void stop();
  // The bound endpoint (port 0 at construction -> the port the kernel picked).
  tcp::endpoint local_endpoint() const;
  std::size_t active_connections() const;

  struct State;  // shared with the coroutines (metrics_http.cpp)

 private:
  std::string host_;
  std::uint16_t port_;
  std::shared_ptr<State> st_;
};

}  // namespace segproxy::proxy
