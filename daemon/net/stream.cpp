// The connection stream: wait-then-read, and OpenSSL on the socket through a BIO that
// recv()s straight into OpenSSL's read-ahead buffer (stream.hpp has the why).
#include "daemon/net/stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <new>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon/net/read_readiness.hpp"
#include "daemon/net/socket_bio.hpp"

namespace segproxy::proxy {
namespace {

// Small TLS writes gather into one record up to this size (a TLS record's plaintext maximum).
constexpr std::size_t kGatherMax = 16 * 1024;

}  // namespace

void Stream::SslFree::operator()(SSL* s) const { SSL_free(s); }

Stream::Stream(tcp::socket socket)
    : socket_(std::move(socket)),
      pool_(&BufferPool::of(socket_.get_executor())),
      reactor_(&reactor_of(socket_.get_executor())) {
  io_.socket = &socket_;
  error_code ignored;
  socket_.non_blocking(true, ignored);  // reads and TLS calls never block the thread
  // Every read reports how much is still queued (recv_some): the proof that the socket is
  // empty, end of stream included, without a read that fails with EAGAIN.
  const int on = 1;
  io_.inq_hint = socket_.is_open() &&
                 ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_INQ, &on, sizeof(on)) == 0;
}

Stream::~Stream() = default;

void Stream::wrap_tls(ssl::context& ctx) {
  ssl_.reset(SSL_new(ctx.native_handle()));
  // One BIO_METHOD per thread's io_context, not one per connection (socket_bio.hpp).
  BIO* bio = ssl_ ? SocketBioMethod::of(socket_.get_executor()).make(io_) : nullptr;
  if (bio == nullptr) throw std::bad_alloc();
  SSL_set_bio(ssl_.get(), bio, bio);  // one reference, for both directions
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_read_ahead(ssl_.get(), 1);  // one recv() per readiness, not one per record header and body
}

error_code Stream::ssl_error(int ret) {
  const int e = SSL_get_error(ssl_.get(), ret);
  const unsigned long err = e == SSL_ERROR_SSL ? ERR_get_error() : 0;
  if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) ERR_clear_error();
  return ssl_error_of(e, err);
}

error_code Stream::ssl_error_of(int e, unsigned long err) const {
  if (e == SSL_ERROR_ZERO_RETURN) return asio::error::eof;  // close_notify
  if (e == SSL_ERROR_SSL) {
    if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return ssl::error::stream_truncated;
    return {static_cast<int>(err), asio::error::get_ssl_category()};
  }
  if (e == SSL_ERROR_SYSCALL) {
    if (io_.last_errno != 0) return {io_.last_errno, asio::error::get_system_category()};
    return ssl::error::stream_truncated;  // end of stream without close_notify
  }
  return ssl::error::unexpected_result;
}

// Not a coroutine: the caller awaits Asio's operation directly, one frame less per
// wait (issue 15: an idle session is parked in two of these).
awaitable<void> Stream::wait_socket(bool for_read, error_code& ec) {
  if (for_read) {
    // Only ever after a read found the socket empty (drained): the contract of
    // async_wait_readable, which then waits without an epoll_ctl. Readiness clears
    // io_.drained before the caller resumes; a closed socket completes with
    // operation_aborted.
    return async_wait_readable(socket_, *reactor_, &io_.drained, asio::redirect_error(use_awaitable, ec));
  }
  if (!socket_.is_open()) {
    ec = asio::error::operation_aborted;
    return done_now();
  }
  return socket_.async_wait(tcp::socket::wait_write, asio::redirect_error(use_awaitable, ec));
}

awaitable<void> Stream::done_now() { co_return; }

awaitable<void> Stream::handshake(ssl::stream_base::handshake_type type, error_code& ec, HandshakeThreads* offload,
                                  std::string_view source) {
  if (type == ssl::stream_base::client) SSL_set_connect_state(ssl_.get());
  else SSL_set_accept_state(ssl_.get());
  if (offload != nullptr && type == ssl::stream_base::server) {
    co_await handshake_offloaded(*offload, ec, source);
    co_return;
  }
  for (;;) {
    if (!begin_tls_call(ec)) co_return;
    const int r = SSL_do_handshake(ssl_.get());
    if (r == 1) co_return;
    const int e = SSL_get_error(ssl_.get(), r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ec = ssl_error(r);
      co_return;
    }
    co_await wait_socket(e == SSL_ERROR_WANT_READ, ec);
    if (ec) co_return;
  }
}

// The handshake with its CPU on a handshake thread: this thread only waits for the
// socket; a step goes out only when there is something to read (a step on a drained
// socket would only ask for input) or after OpenSSL asked to write.
awaitable<void> Stream::handshake_offloaded(HandshakeThreads& threads, error_code& ec, std::string_view source) {
  SSL* ssl = ssl_.get();
  for (;;) {
    if (!socket_.is_open() || io_.abandon.load(std::memory_order_relaxed)) {
      ec = asio::error::operation_aborted;
      co_return;
    }
    if (io_.drained) {
      co_await wait_socket(true, ec);
      if (ec) co_return;
      continue;
    }
    io_.step_out = true;
    const HandshakeStep r = co_await threads.step(ssl, io_, io_.abandon, source);
    io_.step_out = false;
    if (io_.abandon.load(std::memory_order_relaxed)) {  // close() came while it was out
      error_code ignored;
      socket_.close(ignored);
      ec = asio::error::operation_aborted;
      co_return;
    }
    if (r.ret == 1) co_return;
    if (r.ssl_error != SSL_ERROR_WANT_READ && r.ssl_error != SSL_ERROR_WANT_WRITE) {
      ec = ssl_error_of(r.ssl_error, r.error);
      co_return;
    }
    if (r.ssl_error == SSL_ERROR_WANT_WRITE) {
      co_await wait_socket(false, ec);
      if (ec) co_return;
    }
  }
}

awaitable<void> Stream::wait_readable(error_code& ec) {
  // A TLS read may hand over data and stop at the peer's close_notify received with it
  // (PostgreSQL sends FATAL, close_notify and FIN back to back when a backend is
  // terminated): no readiness edge follows, so report it by reading, never by waiting.
  if (ssl_ && (SSL_has_pending(ssl_.get()) || (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN))) return done_now();
  if (!io_.drained) return done_now();
  return wait_socket(true, ec);
}

bool Stream::read_now(asio::mutable_buffer buf, error_code& ec, std::size_t& n) {
  n = 0;
  if (buf.size() == 0) return true;
  if (!ssl_) {
    if (io_.drained) return false;  // read_some waits first
    if (!socket_.is_open()) {
      ec = asio::error::bad_descriptor;
      return true;
    }
    for (;;) {
      const ssize_t got = recv_some(io_, buf.data(), buf.size());
      if (got > 0) {
        n = static_cast<std::size_t>(got);
        return true;
      }
      if (got == 0) {  // end of stream: drained stays false, later reads report it again
        ec = asio::error::eof;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ec = error_code(errno, asio::error::get_system_category());
        return true;
      }
      io_.drained = true;
      return false;  // read_some waits, then reads
    }
  }
  // false: read_some calls SSL_read again (no system call while drained), then waits.
  return tls_read_now(buf, n, ec) == SSL_ERROR_NONE;
}

bool Stream::begin_tls_call(error_code& ec) {
  if (!socket_.is_open()) {
    ec = asio::error::operation_aborted;
    return false;
  }
  ERR_clear_error();  // SSL_get_error reads the queue: only this call's errors in it
  io_.last_errno = 0;
  return true;
}

int Stream::tls_read_now(asio::mutable_buffer buf, std::size_t& n, error_code& ec) {
  auto* out = static_cast<std::uint8_t*>(buf.data());
  for (;;) {
    if (!begin_tls_call(ec)) return SSL_ERROR_NONE;
    std::size_t got = 0;
    const int r = SSL_read_ex(ssl_.get(), out + n, buf.size() - n, &got);
    if (r == 1) {
      n += got;
      // Several records may have arrived in one recv(): hand over all complete ones.
      if (n == buf.size() || !SSL_has_pending(ssl_.get())) return SSL_ERROR_NONE;
      continue;
    }
    const int e = SSL_get_error(ssl_.get(), r);
    if (n > 0) return SSL_ERROR_NONE;  // the rest (or the error) comes with the next call
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ec = ssl_error(r);
      return SSL_ERROR_NONE;
    }
    return e;
  }
}

awaitable<std::size_t> Stream::read_some(asio::mutable_buffer buf, error_code& ec) {
  if (buf.size() == 0) co_return 0;
  if (!ssl_) {
    for (;;) {
      if (!io_.drained) {
        // Data (or the end of stream) is expected: readiness was reported, or the last
        // read left something queued (recv_some).
        if (!socket_.is_open()) {
          ec = asio::error::bad_descriptor;
          co_return 0;
        }
        const ssize_t n = recv_some(io_, buf.data(), buf.size());
        if (n > 0) co_return static_cast<std::size_t>(n);
        if (n == 0) {  // end of stream: drained stays false, later reads report it again
          ec = asio::error::eof;
          co_return 0;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          ec = error_code(errno, asio::error::get_system_category());
          co_return 0;
        }
        io_.drained = true;
      }
      co_await wait_socket(true, ec);  // the socket is empty: wait for the next data, then read
      if (ec) co_return 0;
    }
  }
  std::size_t total = 0;
  for (;;) {
    const int e = tls_read_now(buf, total, ec);
    if (e == SSL_ERROR_NONE) co_return ec ? 0 : total;
    co_await wait_socket(e == SSL_ERROR_WANT_READ, ec);
    if (ec) co_return 0;
  }
}

awaitable<void> Stream::write_tls_bytes(const std::uint8_t* data, std::size_t size, error_code& ec) {
  while (size > 0) {
    if (!begin_tls_call(ec)) co_return;
    std::size_t written = 0;
    const int r = SSL_write_ex(ssl_.get(), data, size, &written);
    if (r == 1) {
      data += written;
      size -= written;
      continue;
    }
    const int e = SSL_get_error(ssl_.get(), r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ec = ssl_error(r);
      co_return;
    }
    co_await wait_socket(e == SSL_ERROR_WANT_READ, ec);  // then the same write again
    if (ec) co_return;
  }
}

bool Stream::ssl_write_once(const std::uint8_t* data, std::size_t size, error_code& ec) {
  if (size == 0) return true;
  if (!begin_tls_call(ec)) return true;
  std::size_t written = 0;
  // Without SSL_MODE_ENABLE_PARTIAL_WRITE success means every byte was written.
  const int r = SSL_write_ex(ssl_.get(), data, size, &written);
  if (r == 1) return true;
  const int e = SSL_get_error(ssl_.get(), r);
  if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
    ec = ssl_error(r);
    return true;
  }
  return false;
}

bool Stream::write_tls_now(std::span<const asio::const_buffer> pieces, error_code& ec) {
  std::size_t total = 0;
  for (const auto& p : pieces) total += p.size();
  if (pieces.size() == 1) return ssl_write_once(static_cast<const std::uint8_t*>(pieces[0].data()), total, ec);
  if (total == 0) return true;
  if (total > kGatherMax) return false;
  // Gather as write_tls does (the same bytes, should write_tls have to repeat the call).
  protocols::Bytes staging = pool_->take(total);
  std::size_t at = 0;
  for (const auto& p : pieces) {
    if (p.size() == 0) continue;
    std::memcpy(staging.data() + at, p.data(), p.size());
    at += p.size();
  }
  const bool done = ssl_write_once(staging.data(), total, ec);
  pool_->give_back(staging);
  return done;
}

awaitable<void> Stream::write_tls(std::span<const asio::const_buffer> pieces, error_code& ec) {
  std::size_t total = 0;
  for (const auto& p : pieces) total += p.size();
  if (pieces.size() > 1 && total <= kGatherMax) {
    // Gather: one record (one send()) for the batch instead of one per piece.
    protocols::Bytes staging = pool_->take(total);
    std::size_t at = 0;
    for (const auto& p : pieces) {
      if (p.size() == 0) continue;
      std::memcpy(staging.data() + at, p.data(), p.size());
      at += p.size();
    }
    co_await write_tls_bytes(staging.data(), total, ec);
    pool_->give_back(staging);
    co_return;
  }
  for (const auto& p : pieces) {
    co_await write_tls_bytes(static_cast<const std::uint8_t*>(p.data()), p.size(), ec);
    if (ec) co_return;
  }
}

void Stream::close() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  if (io_.step_out) {  // a handshake thread may be in a recv()/send() on the descriptor
    io_.abandon.store(true, std::memory_order_release);
    return;
  }
  socket_.close(ignored);
}

}  // namespace segproxy::proxy
