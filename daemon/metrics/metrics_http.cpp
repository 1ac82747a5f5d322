#include "daemon/metrics/metrics_http.hpp"

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <mutex>
#include <string_view>
#include <unordered_set>

#include "daemon/metrics/metrics.hpp"

namespace segproxy::proxy {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";

struct Conn {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
};

// What to answer; turned into a Beast message by write_reply.
struct Reply {
  http::status status = http::status::ok;
  std::string_view content_type = kTextContentType;
  std::string body;
  bool allow_header = false;  // 405: "Allow: GET, HEAD"
  bool close = false;         // force Connection: close
};

}  // namespace

struct MetricsHttpServer::State {
  State(asio::io_context& ctx, RenderFn r, ReadinessFn rd, MetricsHttpOptions o)
      : strand(asio::make_strand(ctx)), acceptor(strand), opts(o), render(std::move(r)), ready(std::move(rd)) {}

  asio::any_io_executor strand;
  tcp::acceptor acceptor;  // strand-only once started
  const MetricsHttpOptions opts;

  // Guards the callbacks, `stopped` and `bound`: stop() waits for a running callback.
  std::mutex mu;
  bool stopped = false;
  bool started = false;
  RenderFn render;
  ReadinessFn ready;
  tcp::endpoint bound;

  std::atomic<std::size_t> active{0};
  // Strand-only.
  bool closing = false;
  std::unordered_set<Conn*> conns;
};

namespace {

using State = MetricsHttpServer::State;

std::string_view path_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

Reply text(http::status status, std::string body, bool close = false) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.close = close;
  return r;
}

// Runs the callbacks under the state mutex; once stop() has run they are not called.
Reply handle(State& st, http::verb method, std::string_view target) {
  const std::string_view path = path_of(target);
  const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
  if (!known) return text(http::status::not_found, "not found\n");
  if (method != http::verb::get && method != http::verb::head) {
    Reply r = text(http::status::method_not_allowed, "method not allowed\n");
    r.allow_header = true;
    return r;
  }
  std::lock_guard lock(st.mu);
  if (st.stopped) return text(http::status::service_unavailable, "stopping\n", true);
  try {
    if (path == "/healthz") return text(http::status::ok, "ok\n");
    if (path == "/readyz") {
      auto [ok, reason] = st.ready ? st.ready() : std::pair<bool, std::string>{true, ""};
      if (ok) return text(http::status::ok, reason.empty() ? std::string("ready\n") : "ready\n" + reason + "\n");
      return text(http::status::service_unavailable, (reason.empty() ? std::string("not ready") : reason) + "\n");
    }
    Reply r = text(http::status::ok, st.render ? st.render() : std::string());
    r.content_type = kMetricsContentType;
    return r;
  } catch (const std::exception& ex) {
    return text(http::status::internal_server_error, std::string("error: ") + ex.what() + "\n", true);
  }
}

template <class Body>
void fill(http::response<Body>& res, const Reply& r, bool keep_alive) {
  res.set(http::field::content_type, beast::string_view(r.content_type.data(), r.content_type.size()));
  res.set(http::field::cache_control, "no-store");
  if (r.allow_header) res.set(http::field::allow, "GET, HEAD");
  res.keep_alive(keep_alive);
}

// HEAD gets the GET headers (Content-Length of the GET body) and no body.
awaitable<error_code> write_reply(beast::tcp_stream& stream, const Reply& r, unsigned version, bool head,
                                  bool keep_alive, std::chrono::milliseconds timeout) {
  error_code ec;
  stream.expires_after(timeout);
  if (head) {
    http::response<http::empty_body> res{r.status, version};
    fill(res, r, keep_alive);
    res.content_length(r.body.size());
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  } else {
    http::response<http::string_body> res{r.status, version};
    fill(res, r, keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  }
  co_return ec;
}

// Keeps the connection count and the strand's connection set right however the
// coroutine ends (including destruction of a suspended frame).
class ConnGuard {
 public:
  ConnGuard(State& st, Conn* c) : st_(st), c_(c) {}
  ConnGuard(const ConnGuard&) = delete;
  ConnGuard& operator=(const ConnGuard&) = delete;
  ~ConnGuard() {
    st_.conns.erase(c_);
    st_.active.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  State& st_;
  Conn* c_;
};

bool is_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

awaitable<void> serve(std::shared_ptr<State> st, std::shared_ptr<Conn> conn) {
  ConnGuard guard(*st, conn.get());
  beast::flat_buffer buffer;
  for (std::size_t served = 0; served < st->opts.max_requests_per_connection && !st->closing; ++served) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->opts.max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(st->opts.max_body_bytes));
    conn->stream.expires_after(st->opts.io_timeout);
    error_code ec;
    co_await http::async_read(conn->stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      Reply refusal;
      if (ec == http::error::header_limit) {
        refusal = text(http::status::request_header_fields_too_large, "request header too large\n", true);
      } else if (ec == http::error::body_limit) {
        refusal = text(http::status::payload_too_large, "request body too large\n", true);
      } else if (is_parse_error(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
        refusal = text(http::status::bad_request, "bad request\n", true);
      } else {
        break;  // end of stream, timeout, reset, closed by stop()
      }
      const error_code wec = co_await write_reply(conn->stream, refusal, 11, false, false, st->opts.io_timeout);
      (void)wec;
      break;
    }
    const auto& req = parser.get();
    const beast::string_view target = req.target();
    const Reply reply = handle(*st, req.method(), std::string_view(target.data(), target.size()));
    const bool keep_alive =
        req.keep_alive() && !reply.close && !st->closing && served + 1 < st->opts.max_requests_per_connection;
    const bool head = req.method() == http::verb::head;
    const error_code wec =
        co_await write_reply(conn->stream, reply, req.version(), head, keep_alive, st->opts.io_timeout);
    if (wec || !keep_alive) break;
  }
  error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.close();
}

awaitable<void> accept_loop(std::shared_ptr<State> st) {
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await st->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (st->closing) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
      // Transient (e.g. out of file descriptors): back off instead of spinning.
      asio::steady_timer pause(st->strand, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (st->active.load(std::memory_order_relaxed) >= st->opts.max_connections) {
      error_code ignored;
      sock.shutdown(tcp::socket::shutdown_both, ignored);
      sock.close(ignored);
      continue;
    }
    st->active.fetch_add(1, std::memory_order_relaxed);
    auto conn = std::make_shared<Conn>(std::move(sock));
    st->conns.insert(conn.get());
    asio::co_spawn(st->strand, serve(st, std::move(conn)), asio::detached);
  }
}

// On the strand.
void close_all(State& st) {
  st.closing = true;
  error_code ignored;
  st.acceptor.close(ignored);
  for (Conn* c : st.conns) {
    c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->stream.close();  // cancels the pending read/write and the deadline
  }
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(asio::io_context& ctx, std::string host, std::uint16_t port, RenderFn render,
                                     ReadinessFn ready, MetricsHttpOptions opts)
    : host_(std::move(host)),
      port_(port),
      st_(std::make_shared<State>(ctx, std::move(render), std::move(ready), opts)) {}

MetricsHttpServer::MetricsHttpServer(asio::io_context& ctx, std::string host, std::uint16_t port,
                                     const MetricsRegistry& registry, ReadinessFn ready, MetricsHttpOptions opts)
    : MetricsHttpServer(
          ctx, std::move(host), port, [&registry] { return registry.render(); }, std::move(ready), opts) {}

MetricsHttpServer::~MetricsHttpServer() { stop(); }

error_code MetricsHttpServer::start() {
  State& st = *st_;
  {
    std::lock_guard lock(st.mu);
    if (st.started || st.stopped) return asio::error::already_started;
    st.started = true;
  }
  error_code ec;
  auto addr = asio::ip::make_address(host_, ec);
  if (ec) {
    tcp::resolver resolver(st.strand);
    auto results = resolver.resolve(host_, std::to_string(port_), ec);
    if (ec) return ec;
    if (results.empty()) return asio::error::host_not_found;
    addr = results.begin()->endpoint().address();
  }
  const tcp::endpoint ep(addr, port_);
  st.acceptor.open(ep.protocol(), ec);
  if (!ec) st.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(ep, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = st.acceptor.local_endpoint(ec);
  if (ec) {
    error_code ignored;
    st.acceptor.close(ignored);
    return ec;
  }
  {
    std::lock_guard lock(st.mu);
    st.bound = bound;
  }
  asio::co_spawn(st.strand, accept_loop(st_), asio::detached);
  return {};
}

void MetricsHttpServer::stop() {
  {
    std::lock_guard lock(st_->mu);  // waits for a callback in progress
    if (st_->stopped) return;
    st_->stopped = true;
  }
  // The acceptor and sockets belong to the strand; close them there (at once when
  // already on it, else when the context runs next or is destroyed).
  asio::dispatch(st_->strand, [st = st_] { close_all(*st); });
}

tcp::endpoint MetricsHttpServer::local_endpoint() const {
  std::lock_guard lock(st_->mu);
  return st_->bound;
}

std::size_t MetricsHttpServer::active_connections() const { return st_->active.load(std::memory_order_relaxed); }

}  // namespace segproxy::proxy
