#pragma once
// A TCP connection that may be upgraded to TLS in place, plus a watchdog timer that
// closes it when a deadline passes (Asio 1.74 has no per-operation cancellation).
#include <chrono>
#include <cstddef>
#include <functional>
#include <variant>

#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

class Stream {
 public:
  explicit Stream(tcp::socket socket) : s_(std::move(socket)) {}

  bool is_tls() const { return s_.index() == 1; }
  tcp::socket& lowest() {
    if (auto* t = std::get_if<ssl::stream<tcp::socket>>(&s_)) return t->next_layer();
    return std::get<tcp::socket>(s_);
  }
  SSL* native_ssl() {
    auto* t = std::get_if<ssl::stream<tcp::socket>>(&s_);
    return t ? t->native_handle() : nullptr;
  }

  // Converts the plain socket into a TLS stream (before the handshake).
  void wrap_tls(ssl::context& ctx) {
    tcp::socket sock = std::move(std::get<tcp::socket>(s_));
    s_.emplace<ssl::stream<tcp::socket>>(std::move(sock), ctx);
  }

  awaitable<void> handshake(ssl::stream_base::handshake_type type, error_code& ec) {
    co_await std::get<ssl::stream<tcp::socket>>(s_).async_handshake(
        type, asio::redirect_error(use_awaitable, ec));
  }

  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec) {
    if (auto* t = std::get_if<ssl::stream<tcp::socket>>(&s_))
      co_return co_await t->async_read_some(buf, asio::redirect_error(use_awaitable, ec));
    co_return co_await std::get<tcp::socket>(s_).async_read_some(buf, asio::redirect_error(use_awaitable, ec));
  }

  template <class ConstBufferSequence>
  awaitable<void> write(const ConstBufferSequence& buf, error_code& ec) {
    if (auto* t = std::get_if<ssl::stream<tcp::socket>>(&s_)) {
      co_await asio::async_write(*t, buf, asio::redirect_error(use_awaitable, ec));
    } else {
      co_await asio::async_write(std::get<tcp::socket>(s_), buf, asio::redirect_error(use_awaitable, ec));
    }
  }

  // Closes the TCP socket: every pending operation completes with an error.
  void close() {
    error_code ignored;
    lowest().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close(ignored);
  }

 private:
  std::variant<tcp::socket, ssl::stream<tcp::socket>> s_;
};

// Calls `on_expire` once when the armed deadline passes. Re-arming replaces the
// deadline; disarm() cancels it. The callback must not outlive its captures: owners
// keep the Watchdog as a member and capture only what they own.
class Watchdog {
 public:
  Watchdog(asio::any_io_executor ex, std::function<void()> on_expire)
      : timer_(std::move(ex)), on_expire_(std::move(on_expire)) {}

  void arm(std::chrono::milliseconds d) {
    ++generation_;
    if (d.count() <= 0) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(d);
    timer_.async_wait([this, gen = generation_](const error_code& ec) {
      if (ec) return;  // cancelled: `this` may already be gone, touch nothing
      if (gen == generation_ && on_expire_) {
        expired_ = true;
        on_expire_();
      }
    });
  }
  void disarm() {
    ++generation_;
    timer_.cancel();
  }
  bool expired() const { return expired_; }

 private:
  asio::steady_timer timer_;
  std::function<void()> on_expire_;
  unsigned generation_ = 0;
  bool expired_ = false;
};

}  // namespace segproxy::proxy
