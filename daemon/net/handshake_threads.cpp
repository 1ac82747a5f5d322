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
  // Steps still queued are destroyed with queued_: their coroutines unwind through their
  // own executors (Asio posts the unwinding there), which outlive this object (Server).
}

void HandshakeThreads::push(std::string source, std::unique_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    auto& q = queued_[source];
    if (q.empty()) turns_.push_back(std::move(source));
    q.push_back(std::move(job));
  }
  asio::post(ctx_, [this] { run_next(); });
}

void HandshakeThreads::run_next() {
  std::unique_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    if (turns_.empty()) return;
    auto it = queued_.find(turns_.front());
    std::string source = std::move(turns_.front());
    turns_.pop_front();
    if (it == queued_.end() || it->second.empty()) return;  // (cannot happen: one token per step)
    job = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) queued_.erase(it);
    else turns_.push_back(std::move(source));  // its next step after every other source's
  }
  job->run();
}

namespace {

template <class Handler, class Work>
struct StepJob final : HandshakeThreads::Job {
  StepJob(SSL* s, SocketIo& i, const std::atomic<bool>& a, Handler&& h, Work&& w, std::atomic<std::uint64_t>& run,
          std::atomic<std::int64_t>& pending)
      : ssl(s), io(i), abandon(a), handler(std::move(h)), work(std::move(w)), steps_run(run), pending(pending) {}
  void run() override {
    HandshakeStep r;
    if (abandon.load(std::memory_order_acquire)) {
      r.abandoned = true;
    } else {
      r = handshake_step(ssl, io);
      steps_run.fetch_add(1, std::memory_order_relaxed);
    }
    pending.fetch_sub(1, std::memory_order_relaxed);
    auto ex = work.get_executor();
    asio::post(ex, [h = std::move(handler), r, w = std::move(work)]() mutable { std::move(h)(r); });
  }
  SSL* ssl;
  SocketIo& io;
  const std::atomic<bool>& abandon;
  Handler handler;
  Work work;
  std::atomic<std::uint64_t>& steps_run;
  std::atomic<std::int64_t>& pending;
};

}  // namespace

awaitable<HandshakeStep> HandshakeThreads::step(SSL* ssl, SocketIo& io, const std::atomic<bool>& abandon,
                                                std::string_view source) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(HandshakeStep)>(
      [this, ssl, &io, &abandon, key = std::string(source)](auto handler) mutable {
        pending_.fetch_add(1, std::memory_order_relaxed);
        // The session's executor: the step's result is handed to the coroutine there.
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        using Job = StepJob<decltype(handler), decltype(work)>;
        push(std::move(key),
             std::make_unique<Job>(ssl, io, abandon, std::move(handler), std::move(work), steps_run_, pending_));
      },
      use_awaitable);
}

}  // namespace segproxy::proxy
