#pragma once
// Listeners and I/O threads. One io_context per worker thread (a session lives on one
// thread, so its two relay directions need no locks); acceptors run on the main
// context and hand each accepted socket to the next worker.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "audit/file_sink.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/log.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session_registry.hpp"

namespace segproxy::proxy {

class Server {
 public:
  Server(std::shared_ptr<const Runtime> rt, Logger& log, bool enforce_policy = true);
  ~Server();
  // Binds every listener, serves until SIGINT/SIGTERM; returns the process exit code.
  int run();

 private:
  awaitable<void> accept_loop(tcp::acceptor& acceptor, std::size_t listener_index);
  asio::io_context& next_worker();
  Services session_services();

  std::shared_ptr<const Runtime> rt_;
  Logger& log_;
  CancelRegistry cancels_;
  SessionRegistry sessions_;
  awaitable<void> graceful_stop(std::vector<std::unique_ptr<tcp::acceptor>>& acceptors, int signal);
  std::atomic<std::size_t> active_sessions_{0};
  std::atomic<std::uint64_t> next_session_id_{0};
  std::unique_ptr<audit::FileSink> audit_;  // declared before the workers: outlives sessions
  asio::io_context main_ctx_;
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  std::size_t next_worker_ = 0;
  bool enforce_policy_ = true;
};

}  // namespace segproxy::proxy
