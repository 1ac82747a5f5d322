#pragma once
// The schedule both catalog loaders (daemon/catalog/view_loader, daemon/catalog/mysql_view_loader) run on
// their own thread: a first pass over every target at start, then each target again
// every `refresh` (0: never on a timer), and a full pass soon after request_refresh().
// Blocking work (libpq, Connector/C++) happens in `load`, never on I/O threads.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace segproxy::proxy {

class RefreshLoop {
 public:
  struct Target {  // one listener with a metadata credential
    std::size_t listener = 0;
    std::vector<std::string> databases;
    std::chrono::milliseconds refresh{0};
    std::chrono::steady_clock::time_point next_due{};
  };
  using Load = std::function<void(Target&)>;

  RefreshLoop() = default;
  ~RefreshLoop() { stop(); }
  RefreshLoop(const RefreshLoop&) = delete;
  RefreshLoop& operator=(const RefreshLoop&) = delete;

  void add(Target t) { targets_.push_back(std::move(t)); }
  bool empty() const { return targets_.empty(); }
  bool running() const { return thread_.joinable(); }

  // Starts the thread; `around` (optional) wraps the whole loop on that thread (e.g. a
  // client library's per-thread init and end).
  void start(Load load, std::function<void(const std::function<void()>&)> around = {});
  // Waits until the first pass finished (or `timeout`, at most 60 s); true when it did.
  bool wait_first_load(std::chrono::milliseconds timeout);
  // Thread-safe, non-blocking, coalescing.
  void request_refresh();
  // Wakes and joins the thread (a running load finishes first). Idempotent.
  void stop();

 private:
  void run(const Load& load);

  std::vector<Target> targets_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool refresh_requested_ = false;
  bool first_done_ = false;
  std::thread thread_;
};

}  // namespace segproxy::proxy
