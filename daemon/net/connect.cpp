#include "daemon/net/connect.hpp"

#include <string>

#include "daemon/net/stream.hpp"

namespace segproxy::proxy {

// Resolves and connects within `timeout` (the watchdog cancels the resolver and
// closes the socket when it expires).
awaitable<tcp::socket> connect_tcp(const config::Endpoint& ep, std::chrono::milliseconds timeout, error_code& ec) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  tcp::socket sock(ex);
  Watchdog deadline(ex, [&] {
    resolver.cancel();
    error_code ignored;
    sock.close(ignored);
  });
  deadline.arm(timeout);
  auto results = co_await resolver.async_resolve(ep.host, std::to_string(ep.port),
                                                 asio::redirect_error(use_awaitable, ec));
  if (!ec) co_await asio::async_connect(sock, results, asio::redirect_error(use_awaitable, ec));
  deadline.disarm();
  if (!ec && deadline.expired()) ec = asio::error::timed_out;
  if (!ec) {
    error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
  }
  co_return sock;
}

}  // namespace segproxy::proxy
