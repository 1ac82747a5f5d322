#pragma once
// Helpers for the dynamic-credential integration tests (pg_/mysql_dynamic_credentials_
// test.cpp): a recorder for the service's hooks, a started service with test timings,
// and synchronous acquisitions.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/credentials/dynamic_credentials.hpp"

namespace segproxy::it {

// How long a test waits for a minted user to disappear or an event to be recorded: a
// generous deadline (the condition ends the wait), never a fixed sleep.
inline constexpr std::chrono::seconds kGone{60};

// What the hooks saw: audit events (event, user), close_sessions calls, admin failures.
struct DynHookRecorder {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> events;  // (event, user)
  std::vector<std::string> closed;                          // close_sessions calls
  std::atomic<int> admin_failures{0};

  int count(const std::string& event, const std::string& user = "") {
    const std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (const auto& [e, u] : events) n += (e == event && (user.empty() || u == user)) ? 1 : 0;
    return n;
  }
  // The audit record follows the last step of a drop: wait for it (bounded).
  int wait_count(const std::string& event, const std::string& user, int want,
                 std::chrono::seconds timeout = kGone) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count(event, user) < want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return count(event, user);
  }
  bool was_closed(const std::string& user) {
    const std::lock_guard<std::mutex> lock(mu);
    return std::find(closed.begin(), closed.end(), user) != closed.end();
  }

  proxy::DynamicCredentialHooks hooks() {
    proxy::DynamicCredentialHooks h;
    h.close_sessions = [this](const std::string& user) {
      const std::lock_guard<std::mutex> lock(mu);
      closed.push_back(user);
    };
    h.audit = [this](std::string_view event, const proxy::AuditDetails& d) {
      std::string user;
      for (const auto& [k, v] : d) {
        if (k == "user") user = v;
      }
      const std::lock_guard<std::mutex> lock(mu);
      events.emplace_back(std::string(event), user);
    };
    h.admin_failure = [this](const std::string&, const std::string&) { ++admin_failures; };
    return h;
  }
};

// One target, 2 workers, 30 s admin connect timeout (a loaded 2-core machine can take
// seconds to accept a PostgreSQL login; 3 s failed renewals there), 500 ms retry; started.
inline std::unique_ptr<proxy::DynamicCredentials> start_dynamic_service(proxy::DynamicTarget t,
                                                                        const std::string& instance,
                                                                        proxy::Logger* log, DynHookRecorder& rec) {
  using namespace std::chrono_literals;
  proxy::DynamicCredentialOptions o;
  o.instance = instance;
  o.workers = 2;
  o.connect_timeout = 30s;
  o.retry_interval = 500ms;
  o.log = log;  // stderr: shows why a mint/renew/drop failed
  std::vector<proxy::DynamicTarget> ts;
  ts.push_back(std::move(t));
  auto s = std::make_unique<proxy::DynamicCredentials>(std::move(ts), std::move(o), rec.hooks());
  s->start();
  return s;
}

// Runs `n` acquisitions for `key` (segment billing) at once and waits for all of them.
// `io` must outlive the service (a fixture member; the service is a local of the test):
// the service's worker thread is still inside asio::post (signalling the scheduler) after
// the result it posted has run here, and a timed-out acquisition posts later still. An
// io_context local to this function was destroyed under that post (ThreadSanitizer, issue
// 20: data race on the scheduler's condition variable, a use after free). Late results are
// dropped: they run in a later call, whose state is its own.
inline std::vector<proxy::AcquireResult> acquire_many(proxy::DynamicCredentials& s, proxy::asio::io_context& io,
                                                      const std::string& listener, const std::string& key, int n,
                                                      std::chrono::seconds timeout = std::chrono::seconds(20)) {
  struct Pending {
    std::vector<proxy::AcquireResult> out;
    bool open = true;
  };
  auto pending = std::make_shared<Pending>();
  io.restart();
  auto guard = proxy::asio::make_work_guard(io);
  for (int i = 0; i < n; ++i) {
    s.acquire(listener, "billing", key, io.get_executor(), [pending, n, &io](proxy::AcquireResult r) {
      if (!pending->open) return;
      pending->out.push_back(std::move(r));
      if (static_cast<int>(pending->out.size()) == n) io.stop();
    });
  }
  io.run_for(timeout);
  pending->open = false;
  return std::move(pending->out);
}

inline proxy::AcquireResult acquire_one(proxy::DynamicCredentials& s, proxy::asio::io_context& io,
                                        const std::string& listener, const std::string& key) {
  auto v = acquire_many(s, io, listener, key, 1);
  if (v.empty()) {
    proxy::AcquireResult r;
    r.error = "test: acquire timed out";
    return r;
  }
  return std::move(v.front());
}

}  // namespace segproxy::it
