// The handshake threads (handshake_threads.hpp): SSL_do_handshake() calls of client
// connections away from the I/O threads, at a lower priority.
#include "daemon/net/handshake_threads.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include <openssl/err.h>

namespace segproxy::proxy {

HandshakeStep handshake_step(SSL* ssl, SocketIo& io) {
  HandshakeStep r;
  ERR_clear_error();
  io.last_errno = 0;
  r.ret = SSL_do_handshake(ssl);
  if (r.ret != 1) {
    r.ssl_error = SSL_get_error(ssl, r.ret);
    if (r.ssl_error == SSL_ERROR_SSL) r.error = ERR_get_error();
  }
  ERR_clear_error();  // this thread's queue: nothing may be left for the next step
  return r;
}

HandshakeThreads::HandshakeThreads(unsigned threads, int nice) : ctx_(1), guard_(asio::make_work_guard(ctx_)) {
  if (threads == 0) threads = 1;
  std::vector<std::future<std::string>> started;
  for (unsigned i = 0; i < threads; ++i) {
    std::promise<std::string> ready;
    started.push_back(ready.get_future());
    threads_.emplace_back([this, nice, ready = std::move(ready)]() mutable {
      pthread_setname_np(pthread_self(), "segproxy-tls-hs");
      std::string error;
      // Per thread: on Linux a thread's nice value is its own (setpriority with its tid).
      if (nice > 0 && ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice) != 0) {
        error = std::strerror(errno);
      }
      ready.set_value(std::move(error));
      ctx_.run();
    });
  }
  for (auto& f : started) {
    std::string e = f.get();
    if (!e.empty() && priority_error_.empty()) priority_error_ = std::move(e);
  }
}

HandshakeThreads::~HandshakeThreads() {
  guard_.reset();
  ctx_.stop();
  for (auto& t : threads_) t.join();
  // Steps still queued are destroyed with ctx_: their coroutines unwind through their own
  // executors (Asio posts the unwinding there), which outlive this object (Server).
}

awaitable<HandshakeStep> HandshakeThreads::step(SSL* ssl, SocketIo& io, const std::atomic<bool>& abandon) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(HandshakeStep)>(
      [this, ssl, &io, &abandon](auto handler) {
        pending_.fetch_add(1, std::memory_order_relaxed);
        // The session's executor: the step's result is handed to the coroutine there.
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(ctx_, [this, ssl, &io, &abandon, h = std::move(handler), work = std::move(work)]() mutable {
          HandshakeStep r;
          if (abandon.load(std::memory_order_acquire)) {
            r.abandoned = true;
          } else {
            r = handshake_step(ssl, io);
            steps_run_.fetch_add(1, std::memory_order_relaxed);
          }
          pending_.fetch_sub(1, std::memory_order_relaxed);
          auto ex = work.get_executor();
          asio::post(ex, [h = std::move(h), r, work = std::move(work)]() mutable { std::move(h)(r); });
        });
      },
      use_awaitable);
}

}  // namespace segproxy::proxy
