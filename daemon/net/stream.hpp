#pragma once
// A TCP connection that may be upgraded to TLS in place, plus a watchdog timer that
// closes it when a deadline passes (Asio 1.74 has no per-operation cancellation).
//
// The hot path (issue 15; docs/architecture.md "The hot path"): a read waits for
// readability first when the previous read left the socket empty, as the kernel's
// TCP_INQ hint on that read says (no read that is expected to fail with EAGAIN, an end of
// stream that came with the last data is read at once, and no buffer held by an idle connection:
// wait_readable), and the wait costs no system call (read_readiness.hpp: no
// epoll_ctl re-arm per wait, as Asio 1.74's async_wait does); TLS runs OpenSSL directly on the socket through a
// small BIO (no memory BIOs, no extra 17 KiB buffers, no copy per record) with
// read-ahead, so one recv() brings in every record that arrived and one read_some()
// hands over the plaintext of all complete records; SSL_MODE_RELEASE_BUFFERS frees
// OpenSSL's record buffers while the connection is idle; writes gather (sendmsg for
// plain, one record for small TLS pieces).
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <openssl/ssl.h>

#include "daemon/net/asio.hpp"
#include "daemon/net/buffer_pool.hpp"
#include "daemon/net/handshake_threads.hpp"
#include "daemon/net/socket_bio.hpp"

namespace segproxy::proxy {

class Stream {
 public:
  explicit Stream(tcp::socket socket);
  ~Stream();
  Stream(const Stream&) = delete;  // the TLS BIO points at this object
  Stream& operator=(const Stream&) = delete;

  bool is_tls() const { return ssl_ != nullptr; }
  tcp::socket& lowest() { return socket_; }
  SSL* native_ssl() { return ssl_.get(); }
  // The read-buffer pool of the thread this connection runs on.
  BufferPool& buffers() { return *pool_; }

  // Converts the plain socket into a TLS stream (before the handshake).
  void wrap_tls(ssl::context& ctx);
  // With `offload` (server side only), each SSL_do_handshake() call runs on a handshake
  // thread while this coroutine waits (handshake_threads.hpp), queued under `source` (the
  // client's address: the handshake threads take sources in turn; it must outlive the
  // handshake); readiness waits stay here.
  awaitable<void> handshake(ssl::stream_base::handshake_type type, error_code& ec,
                            HandshakeThreads* offload = nullptr, std::string_view source = {});

  // Completes when a read is expected to return data (at once when bytes are already
  // buffered, or the last read may have left some in the socket). Callers that borrow
  // their read buffer wait here first, so an idle connection holds no buffer. Not a
  // coroutine itself: an idle connection is parked in Asio's frame only (issue 15).
  awaitable<void> wait_readable(error_code& ec);
  // Reads what is available (at least one byte, or an error): for TLS the plaintext of
  // every complete record already received, up to buf.size().
  awaitable<std::size_t> read_some(asio::mutable_buffer buf, error_code& ec);

  // The synchronous part of read_some (issue 15: no coroutine frame per message): true
  // when it finished, with `n` bytes read (> 0) or an error in `ec`; false when nothing
  // could be read without waiting: then co_await read_some(buf, ec) (which waits first).
  // Call it only when a read is expected to return data (after wait_readable completed
  // or readable_now()).
  bool read_now(asio::mutable_buffer buf, error_code& ec, std::size_t& n);
  // wait_readable would complete at once.
  bool readable_now() const {
    if (ssl_ && (SSL_has_pending(ssl_.get()) || (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN))) return true;
    return !io_.drained;
  }

  template <class ConstBufferSequence>
  awaitable<void> write(const ConstBufferSequence& buf, error_code& ec) {
    std::size_t progress = 0;
    if (write_now(buf, ec, progress)) co_return;
    co_await finish_write(buf, progress, ec);
  }
  // The synchronous first step of write() (issue 15: the common case, a socket that takes
  // everything, costs no coroutine frame): true when it finished (every byte written, or
  // an error in `ec`); false: co_await finish_write(buf, progress, ec) for the rest,
  // with the same buffers.
  template <class ConstBufferSequence>
  bool write_now(const ConstBufferSequence& buf, error_code& ec, std::size_t& progress) {
    progress = 0;
    if (!is_tls()) {
      // Send at once; only what the socket did not take goes through the reactor. An
      // async_write that completes at once still posts its completion, and a posted
      // handler makes the scheduler poll epoll once more (an extra epoll_wait).
      const std::size_t total = asio::buffer_size(buf);
      const std::size_t sent = socket_.write_some(buf, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
      progress = sent;
      return ec || sent == total;
    } else if constexpr (std::is_convertible_v<const ConstBufferSequence&, asio::const_buffer>) {
      const asio::const_buffer one(buf);
      return write_tls_now(std::span<const asio::const_buffer>(&one, 1), ec);
    } else {
      return write_tls_now(std::span<const asio::const_buffer>(buf), ec);
    }
  }
  // The rest of a write whose write_now returned false. For TLS the first SSL_write is
  // repeated with the same bytes, as OpenSSL requires after a "retry".
  template <class ConstBufferSequence>
  awaitable<void> finish_write(const ConstBufferSequence& buf, std::size_t progress, error_code& ec) {
    if (!is_tls()) {
      co_await write_rest(buf, progress, ec);
    } else if constexpr (std::is_convertible_v<const ConstBufferSequence&, asio::const_buffer>) {
      const asio::const_buffer one(buf);
      co_await write_tls(std::span<const asio::const_buffer>(&one, 1), ec);
    } else {
      const std::span<const asio::const_buffer> pieces(buf);
      co_await write_tls(pieces, ec);
    }
  }

  // Closes the TCP socket: every pending operation completes with an error, and no
  // TLS call touches the (possibly reused) descriptor number afterwards. While a
  // handshake step is out on a handshake thread the socket is shut down at once and
  // closed when the step is back (handshake() then reports operation_aborted).
  void close();

 private:
  struct SslFree {
    void operator()(SSL* s) const;
  };

  // The part of `buf` after its first `skip` bytes, written through the reactor.
  template <class ConstBufferSequence>
  awaitable<void> write_rest(const ConstBufferSequence& buf, std::size_t skip, error_code& ec) {
    std::vector<asio::const_buffer> rest;
    for (auto it = asio::buffer_sequence_begin(buf); it != asio::buffer_sequence_end(buf); ++it) {
      asio::const_buffer b(*it);
      if (skip >= b.size()) {
        skip -= b.size();
        continue;
      }
      rest.push_back(b + skip);
      skip = 0;
    }
    co_await asio::async_write(socket_, rest, asio::redirect_error(use_awaitable, ec));
  }
  awaitable<void> write_tls(std::span<const asio::const_buffer> pieces, error_code& ec);
  // write_tls's first SSL_write when it finishes everything: one piece, or small pieces
  // gathered into one record. False (nothing finished, or more than one SSL_write
  // needed): write_tls does it all, repeating that first SSL_write with the same bytes.
  bool write_tls_now(std::span<const asio::const_buffer> pieces, error_code& ec);
  // One SSL_write_ex of all of `data`: true when finished (written, or an error in ec).
  // Before each SSL_* call on this stream: false (ec = operation_aborted) when the socket
  // was closed; else the thread's OpenSSL error queue and the BIO's errno are cleared.
  bool begin_tls_call(error_code& ec);
  bool ssl_write_once(const std::uint8_t* data, std::size_t size, error_code& ec);
  awaitable<void> write_tls_bytes(const std::uint8_t* data, std::size_t size, error_code& ec);
  // TLS reads into buf from offset n until nothing more can be read without waiting, the
  // buffer is full or no record is pending: SSL_ERROR_NONE when done (n advanced, or an
  // error in ec with n == 0 or the stream closed); SSL_ERROR_WANT_READ / _WANT_WRITE when
  // nothing was read and the socket must be waited for (read_now and read_some share it).
  int tls_read_now(asio::mutable_buffer buf, std::size_t& n, error_code& ec);
  // Waits for the socket after OpenSSL asked for input (read) or output (write), or
  // after a plain read found the socket empty. Not a coroutine (no frame of its own).
  awaitable<void> wait_socket(bool for_read, error_code& ec);
  awaitable<void> handshake_offloaded(HandshakeThreads& threads, error_code& ec, std::string_view source);
  static awaitable<void> done_now();  // an awaitable that completes at once
  error_code ssl_error(int ret);
  // `e` (SSL_get_error) and the first queued OpenSSL error as an error_code.
  error_code ssl_error_of(int e, unsigned long err) const;

  tcp::socket socket_;
  BufferPool* pool_;
  asio::detail::reactor* reactor_;  // of the socket's io_context: readiness waits
  SocketIo io_;  // shared with the TLS BIO (socket_bio.hpp)
  std::unique_ptr<SSL, SslFree> ssl_;
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
