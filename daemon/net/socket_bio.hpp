#pragma once
// The OpenSSL BIO that runs TLS directly on a Stream's socket (docs/architecture.md "The
// hot path"): recv()/send() on the descriptor, "retry" without a system call while the
// socket is known to be empty. The BIO_METHOD is made once per io_context (an Asio
// service: no global) instead of once per TLS connection (issue 15: ~0.3 KB per idle
// session). The method must outlive every BIO made from it: the service frees it when
// the io_context is destroyed, after every handler (and so every session and its
// Stream) is gone; a Stream never outlives its io_context (its socket cannot either).
#include <atomic>
#include <memory>

#include <openssl/bio.h>

#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

// Socket state a Stream shares with its BIO.
struct SocketIo {
  tcp::socket* socket = nullptr;
  bool drained = true;  // the last recv() left the socket empty: wait before the next
  bool inq_hint = false;  // TCP_INQ is on: each recvmsg() says what is still queued
  // A handshake step runs on a handshake thread (daemon/net/handshake_threads.hpp): the
  // descriptor is not closed until it is back (Stream::close only sets `abandon`).
  bool step_out = false;
  std::atomic<bool> abandon{false};  // closed while a step was out: skip it, close after
  int last_errno = 0;
};

// One recvmsg() of up to `len` bytes: > 0 bytes read, 0 at end of stream, -1 with errno.
// After data it sets io.drained from the kernel's TCP_INQ hint (what is still queued,
// counted after this read; non-zero when the peer's FIN is pending or was just consumed,
// tcp_inq_hint in net/ipv4/tcp.c). A read that returns less than asked is NOT proof of an
// empty socket: the peer's last bytes and its FIN may come in one readiness edge, recv()
// returns the bytes and the end of stream only on the next call, and no edge follows to
// wake a wait (issue 15 follow-up: with edge-triggered epoll the session then hung).
// Without the hint (TCP_INQ refused) the next read is a recv() rather than a wait.
ssize_t recv_some(SocketIo& io, void* out, std::size_t len);

class SocketBioMethod : public asio::execution_context::service {
 public:
  using key_type = SocketBioMethod;  // Asio keys the service by this type (typeid)

  explicit SocketBioMethod(asio::execution_context& ctx);

  // A new BIO on `io` (which must outlive it); nullptr when OpenSSL is out of memory.
  BIO* make(SocketIo& io);

  // The method of the context `ex` runs on.
  template <class Executor>
  static SocketBioMethod& of(const Executor& ex) {
    return asio::use_service<SocketBioMethod>(asio::query(ex, asio::execution::context));
  }

 private:
  struct MethodFree {
    void operator()(BIO_METHOD* m) const { BIO_meth_free(m); }
  };
  // Not at shutdown(): the scheduler destroys pending handlers (sessions and their BIOs)
  // during its own shutdown, which may come after this service's.
  void shutdown() override {}

  std::unique_ptr<BIO_METHOD, MethodFree> method_;
};

}  // namespace segproxy::proxy
