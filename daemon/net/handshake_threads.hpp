#pragma once
// The TLS handshakes of client connections, computed on threads of their own at a lower
// scheduling priority (issue 20: a handshake flood must not starve established
// sessions). A session stays on its I/O thread and its socket in that thread's reactor;
// only each SSL_do_handshake() call - the signature, the key exchange, the client
// certificate's verification: milliseconds of CPU each - runs here, while the session's
// coroutine is suspended, and the session resumes on its own thread with the result. So
// the relays of established sessions never queue behind handshake work on their thread,
// and with `handshake_nice` the kernel runs them first when the cores are busy.
//
// Steps wait in one queue per source address and the threads take them round robin over
// the addresses (issue 20): a flood from a few hosts queues behind itself, and a step of
// another host waits for at most one step of each flooding host, not for the whole
// flood's backlog. (A flood from as many hosts as there are places in
// limits.max_concurrent_handshakes cannot be told from well-behaved clients this way.)
//
// Thread safety: OpenSSL's error queue is per thread, so a step reports its error here
// (StepResult::error) instead of leaving it in the queue. The SSL object and the SocketIo
// are touched by one thread at a time: the session does not use them while its step is
// out (Stream::handshake, Stream::close defers the descriptor's close until it is back).
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

#include "daemon/net/asio.hpp"
#include "daemon/net/socket_bio.hpp"

namespace segproxy::proxy {

// What one SSL_do_handshake() call said, carried back to the session's thread.
struct HandshakeStep {
  int ret = 0;              // SSL_do_handshake's return value (1: done)
  int ssl_error = 0;        // SSL_get_error of it (SSL_ERROR_NONE when ret == 1)
  unsigned long error = 0;  // the first OpenSSL error queued by the call (SSL_ERROR_SSL)
  bool abandoned = false;   // not run: the stream was closed while the step waited
};

// One SSL_do_handshake() call on the calling thread, the error queue emptied (any thread).
HandshakeStep handshake_step(SSL* ssl, SocketIo& io);

class HandshakeThreads {
 public:
  // `threads` threads (at least 1) at `nice` (0..19: setpriority of each thread; 0 keeps
  // the process's own). Throws std::system_error when a thread cannot start.
  HandshakeThreads(unsigned threads, int nice);
  ~HandshakeThreads();  // stops the threads; steps still queued are dropped unrun
  HandshakeThreads(const HandshakeThreads&) = delete;
  HandshakeThreads& operator=(const HandshakeThreads&) = delete;

  // Runs handshake_step(ssl, io) on a handshake thread and resumes the awaiting coroutine
  // on its own executor. `abandon` is read on the handshake thread before the step: when
  // set, nothing is touched and the step comes back `abandoned`. `source` (the client's
  // address) names the queue the step waits in.
  awaitable<HandshakeStep> step(SSL* ssl, SocketIo& io, const std::atomic<bool>& abandon, std::string_view source);

  // The executor the steps run on (tests: to hold the threads busy).
  asio::io_context::executor_type executor() { return ctx_.get_executor(); }
  std::uint64_t steps_run() const { return steps_run_.load(std::memory_order_relaxed); }
  // Steps handed over and not yet back (the queue a flood builds up; a metrics gauge).
  std::int64_t steps_pending() const { return pending_.load(std::memory_order_relaxed); }

  // A queued step: runs it and hands the result to its coroutine (or, destroyed unrun,
  // lets the coroutine unwind on its own executor).
  struct Job {
    virtual ~Job() = default;
    virtual void run() = 0;
  };
  // The nice value each thread set, or an empty string; else why it could not.
  const std::string& priority_error() const { return priority_error_; }

 private:
  // One queue per source, the sources with steps in round-robin order; each queued step
  // has one token posted to ctx_, and a token runs the next step in that order.
  void push(std::string source, std::unique_ptr<Job> job);
  void run_next();

  asio::io_context ctx_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<std::unique_ptr<Job>>> queued_;
  std::deque<std::string> turns_;  // the sources with queued steps, next first
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> steps_run_{0};
  std::atomic<std::int64_t> pending_{0};
  std::string priority_error_;
};

}  // namespace segproxy::proxy
