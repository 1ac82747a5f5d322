#include "daemon/metrics/metrics_http.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <thread>

#include "daemon/net/asio.hpp"
#include "daemon/metrics/metrics.hpp"

namespace segproxy::proxy {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

// A server on 127.0.0.1:0 whose io_context runs on a background thread.
class Served {
 public:
  explicit Served(MetricsHttpServer::RenderFn render, MetricsHttpServer::ReadinessFn ready = nullptr,
                  MetricsHttpOptions opts = {})
      : guard_(asio::make_work_guard(ctx_)) {
    server_ = std::make_unique<MetricsHttpServer>(ctx_, "127.0.0.1", 0, std::move(render), std::move(ready), opts);
    start_error = server_->start();
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~Served() {
    server_.reset();  // stop() + release
    guard_.reset();
    ctx_.stop();
    thread_.join();
  }
  MetricsHttpServer& server() { return *server_; }
  std::uint16_t port() const { return server_->local_endpoint().port(); }
  error_code start_error;

 private:
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<MetricsHttpServer> server_;
  std::thread thread_;
};

// Blocking loopback client; a 30 s receive timeout turns a hang into a failure.
class Client {
 public:
  explicit Client(std::uint16_t port) : sock_(ctx_) {
    sock_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{30, 0};
    ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& raw) { asio::write(sock_, asio::buffer(raw)); }
  http::response<http::string_body> read_response(error_code& ec) {
    http::response<http::string_body> res;
    http::read(sock_, buf_, res, ec);
    return res;
  }
  http::response<http::string_body> get(const std::string& target, const std::string& method = "GET") {
    send(method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    error_code ec;
    auto res = read_response(ec);
    EXPECT_FALSE(ec) << ec.message();
    return res;
  }
  // A response to HEAD: headers only, whatever Content-Length says.
  http::response<http::string_body> read_head_response(error_code& ec) {
    http::response_parser<http::string_body> p;
    p.skip(true);
    http::read(sock_, buf_, p, ec);
    return p.release();
  }
  // True when the server closed the connection (EOF or reset) rather than answering.
  bool closed_by_server() {
    char c;
    error_code ec;
    sock_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context ctx_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
};

std::string field(const http::response<http::string_body>& res, http::field f) {
  auto v = res[f];
  return std::string(v.data(), v.size());
}

TEST(MetricsHttp, MetricsEndpointServesRegistryWithVersionedContentType) {
  MetricsRegistry reg;
  reg.counter("segproxy_hits_total", "Hits.").get().inc(7);
  Served s([&reg] { return reg.render(); });
  ASSERT_FALSE(s.start_error) << s.start_error.message();
  Client c(s.port());
  auto res = c.get("/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(field(res, http::field::content_type), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res.body(), reg.render());
}

TEST(MetricsHttp, RegistryConstructorRendersTheRegistry) {
  MetricsRegistry reg;
  reg.gauge("segproxy_g", "G.").get().set(5);
  asio::io_context ctx;
  MetricsHttpServer server(ctx, "127.0.0.1", 0, reg, nullptr);
  ASSERT_FALSE(server.start());
  std::thread t([&] { ctx.run(); });
  {
    Client c(server.local_endpoint().port());
    auto res = c.get("/metrics?name[]=x");  // query strings are ignored
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_NE(res.body().find("segproxy_g 5"), std::string::npos) << res.body();
  }
  server.stop();
  t.join();  // stop() closed everything, so run() returns on its own
}

TEST(MetricsHttp, HealthzReturnsOkWhileServing) {
  Served s([] { return std::string(); }, [] { return std::pair<bool, std::string>{false, "x"}; });
  Client c(s.port());
  auto res = c.get("/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
}

TEST(MetricsHttp, ReadyzReturns200WhenReady) {
  Served s([] { return std::string(); }, [] { return std::pair<bool, std::string>{true, ""}; });
  Client c(s.port());
  auto res = c.get("/readyz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ready\n");
}

TEST(MetricsHttp, ReadyzReturns503WithReasonWhenNotReady) {
  Served s([] { return std::string(); }, [] { return std::pair<bool, std::string>{false, "audit sink cannot write"}; });
  Client c(s.port());
  auto res = c.get("/readyz");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res.body(), "audit sink cannot write\n");
}

TEST(MetricsHttp, ReadinessIsAskedOnEveryRequest) {
  std::atomic<bool> ready{false};
  Served s([] { return std::string(); }, [&] { return std::pair<bool, std::string>{ready.load(), "backend down"}; });
  Client c(s.port());
  EXPECT_EQ(c.get("/readyz").result(), http::status::service_unavailable);
  ready = true;
  EXPECT_EQ(c.get("/readyz").result(), http::status::ok);
}

TEST(MetricsHttp, UnknownPathIs404) {
  Served s([] { return std::string(); });
  Client c(s.port());
  EXPECT_EQ(c.get("/admin").result(), http::status::not_found);
  EXPECT_EQ(c.get("/metrics/extra").result(), http::status::not_found);
}

TEST(MetricsHttp, NonGetMethodIs405WithAllowHeader) {
  Served s([] { return std::string(); });
  Client c(s.port());
  c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  error_code ec;
  auto res = c.read_response(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(field(res, http::field::allow), "GET, HEAD");
}

TEST(MetricsHttp, HeadGetsGetHeadersWithoutBody) {
  const std::string body = "segproxy_x 1\n";
  Served s([&] { return body; });
  Client c(s.port());
  c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  error_code ec;
  auto head = c.read_head_response(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(field(head, http::field::content_length), std::to_string(body.size()));
  // No body bytes followed: the next response on the connection parses cleanly.
  auto next = c.get("/healthz");
  EXPECT_EQ(next.result(), http::status::ok);
  EXPECT_EQ(next.body(), "ok\n");
}

TEST(MetricsHttp, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> renders{0};
  Served s([&] {
    ++renders;
    return std::string("segproxy_x 1\n");
  });
  Client c(s.port());
  for (int i = 0; i < 3; ++i) {
    auto res = c.get("/metrics");
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(renders.load(), 3);
}

TEST(MetricsHttp, ConnectionCloseIsHonoured) {
  Served s([] { return std::string(); });
  Client c(s.port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  error_code ec;
  auto res = c.read_response(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closed_by_server());
}

TEST(MetricsHttp, OversizedHeaderGets431AndClose) {
  Served s([] { return std::string(); });
  Client c(s.port());
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10 * 1024, 'a') + "\r\n\r\n");
  error_code ec;
  auto res = c.read_response(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
  EXPECT_TRUE(c.closed_by_server());
}

TEST(MetricsHttp, RequestBodyBeyondLimitGets413) {
  Served s([] { return std::string(); });
  Client c(s.port());
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  error_code ec;
  auto res = c.read_response(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::payload_too_large);
}

TEST(MetricsHttp, GarbageRequestGets400) {
  Served s([] { return std::string(); });
  Client c(s.port());
  c.send("NOT HTTP AT ALL\r\n\r\n");
  error_code ec;
  auto res = c.read_response(ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::bad_request);
}

TEST(MetricsHttp, ConnectionsBeyondMaxAreClosedAtOnce) {
  MetricsHttpOptions opts;
  opts.max_connections = 1;
  Served s([] { return std::string(); }, nullptr, opts);
  Client first(s.port());
  EXPECT_EQ(first.get("/healthz").result(), http::status::ok);  // accepted and counted
  Client second(s.port());
  EXPECT_TRUE(second.closed_by_server());
  EXPECT_EQ(first.get("/healthz").result(), http::status::ok);  // the first one is unaffected
}

TEST(MetricsHttp, IdleConnectionIsClosedAfterReadTimeout) {
  MetricsHttpOptions opts;
  opts.io_timeout = std::chrono::milliseconds(100);
  Served s([] { return std::string(); }, nullptr, opts);
  Client c(s.port());
  c.send("GET /metr");  // an unfinished request never completes
  EXPECT_TRUE(c.closed_by_server());
}

TEST(MetricsHttp, StartReturnsErrorWhenPortIsTaken) {
  asio::io_context ctx;
  tcp::acceptor holder(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = holder.local_endpoint().port();
  MetricsHttpServer server(
      ctx, "127.0.0.1", port, [] { return std::string(); }, nullptr);
  const error_code ec = server.start();
  EXPECT_EQ(ec, asio::error::address_in_use) << ec.message();
}

TEST(MetricsHttp, StartReturnsErrorForUnresolvableHost) {
  asio::io_context ctx;
  MetricsHttpServer server(
      ctx, "no-such-host.invalid", 0, [] { return std::string(); }, nullptr);
  EXPECT_TRUE(server.start());
}

TEST(MetricsHttp, StopClosesOpenConnectionsAndTheListener) {
  std::atomic<int> renders{0};
  Served s([&] {
    ++renders;
    return std::string();
  });
  const auto port = s.port();
  Client c(port);
  EXPECT_EQ(c.get("/healthz").result(), http::status::ok);
  s.server().stop();
  EXPECT_TRUE(c.closed_by_server());
  // The listener was closed before the connections, so nobody accepts any more.
  asio::io_context ctx;
  tcp::socket probe(ctx);
  error_code ec;
  probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  EXPECT_EQ(renders.load(), 0);
}

}  // namespace
}  // namespace segproxy::proxy
