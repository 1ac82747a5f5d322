#include "daemon/catalog/refresh_loop.hpp"

#include <algorithm>
#include <optional>

namespace segproxy::proxy {
namespace {
constexpr auto kFirstLoadCap = std::chrono::seconds(60);
}  // namespace

void RefreshLoop::start(Load load, std::function<void(const std::function<void()>&)> around) {
  if (targets_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this, load = std::move(load), around = std::move(around)] {
    if (around) around([&] { run(load); });
    else run(load);
  });
}

bool RefreshLoop::wait_first_load(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable()) return true;
  return cv_.wait_for(lock, std::min<std::chrono::milliseconds>(timeout, kFirstLoadCap),
                      [this] { return first_done_ || stop_; });
}

void RefreshLoop::request_refresh() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    refresh_requested_ = true;
  }
  cv_.notify_all();
}

void RefreshLoop::stop() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RefreshLoop::run(const Load& load) {
  using Clock = std::chrono::steady_clock;
  bool everything = true;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stop_) return;
    const auto now = Clock::now();
    std::vector<Target*> due;
    for (auto& t : targets_) {
      if (everything || (t.refresh.count() > 0 && t.next_due <= now)) due.push_back(&t);
    }
    everything = false;
    refresh_requested_ = false;
    lock.unlock();
    for (Target* t : due) {
      load(*t);
      if (t->refresh.count() > 0) t->next_due = Clock::now() + t->refresh;
    }
    lock.lock();
    if (!first_done_) {
      first_done_ = true;
      cv_.notify_all();
    }
    std::optional<Clock::time_point> next;
    for (const auto& t : targets_) {
      if (t.refresh.count() > 0 && (!next || t.next_due < *next)) next = t.next_due;
    }
    const auto wake = [this] { return stop_ || refresh_requested_; };
    if (next) cv_.wait_until(lock, *next, wake);
    else cv_.wait(lock, wake);
    everything = refresh_requested_;
  }
}

}  // namespace segproxy::proxy
