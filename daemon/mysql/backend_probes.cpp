// The per-backend cap on concurrent stall probes and their metrics (backend_probes.hpp).
#include "daemon/mysql/backend_probes.hpp"

#include <algorithm>

namespace segproxy::proxy {

ProbeResult probe_result(const ProbeVerdict& v) noexcept {
  if (!v.answers) return ProbeResult::Failed;
  return v.error.empty() ? ProbeResult::Answered : ProbeResult::Refused;
}

BackendProbes::BackendProbes(ProxyMetrics* metrics) : metrics_(metrics) {}

BackendProbes::~BackendProbes() = default;

BackendProbes::Probe::Probe(Probe&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), backend_(std::move(other.backend_)), id_(other.id_) {}

BackendProbes::Probe::~Probe() {
  // Torn down unfinished: the slot is freed; the waiters are dropped uncalled (their
  // sessions' executors may be going away with this coroutine's), outside the lock.
  if (owner_ != nullptr) owner_->end(backend_, id_, nullptr);
}

void BackendProbes::Probe::finish(const ProbeVerdict& v) {
  if (owner_ == nullptr) return;
  std::vector<Waiter> waiters = std::exchange(owner_, nullptr)->end(backend_, id_, &v);
  for (auto& w : waiters) w(v);  // outside the lock: a waiter posts to its session
}

BackendProbes::Backends::iterator BackendProbes::backend_locked(std::string_view name) {
  if (auto it = backends_.find(name); it != backends_.end()) return it;
  if (backends_.size() >= kMaxBackends) name = kOverflowLabelValue;
  if (auto it = backends_.find(name); it != backends_.end()) return it;
  Backend b;
  if (metrics_ != nullptr) b.metrics = metrics_->backend_probes(name);
  return backends_.emplace(std::string(name), std::move(b)).first;
}

std::optional<BackendProbes::Probe> BackendProbes::start_or_wait(std::string_view backend, std::size_t cap,
                                                                 Waiter waiter) {
  const std::lock_guard lock(mu_);
  const auto entry = backend_locked(backend);
  Backend& b = entry->second;
  if (b.running.size() < std::max<std::size_t>(cap, 1)) {
    const std::uint64_t id = next_id_++;
    b.running.push_back(Running{id, {}});
    if (b.metrics.in_flight != nullptr) b.metrics.in_flight->inc();
    return Probe(this, entry->first, id);  // the key used (kOverflowLabelValue past kMaxBackends)
  }
  b.running.front().waiters.push_back(std::move(waiter));
  if (b.metrics.waits != nullptr) b.metrics.waits->inc();
  return std::nullopt;
}

std::vector<BackendProbes::Waiter> BackendProbes::end(const std::string& backend, std::uint64_t id,
                                                      const ProbeVerdict* v) {
  std::vector<Waiter> waiters;
  const std::lock_guard lock(mu_);
  const auto bit = backends_.find(backend);
  if (bit == backends_.end()) return waiters;
  Backend& b = bit->second;
  const auto it = std::find_if(b.running.begin(), b.running.end(), [id](const Running& r) { return r.id == id; });
  if (it == b.running.end()) return waiters;
  waiters = std::move(it->waiters);
  b.running.erase(it);
  if (b.metrics.in_flight != nullptr) b.metrics.in_flight->dec();
  if (v != nullptr) {
    Counter* c = b.metrics.results[static_cast<std::size_t>(probe_result(*v))];
    if (c != nullptr) c->inc();
  }
  return waiters;
}

std::size_t BackendProbes::in_flight(std::string_view backend) const {
  const std::lock_guard lock(mu_);
  const auto it = backends_.find(backend);
  return it == backends_.end() ? 0 : it->second.running.size();
}

}  // namespace segproxy::proxy
