#include "daemon/net/address_limits.hpp"

#include <algorithm>

namespace segproxy::proxy {

AddressLimits::Lease::~Lease() {
  if (owner_) owner_->release(*this);
}

void AddressLimits::Lease::logged_in() {
  if (owner_) owner_->on_logged_in(*this);
}

void AddressLimits::Lease::set_evictor(std::function<void()> evict) {
  if (!owner_) return;
  std::lock_guard lock(owner_->mu_);
  if (logged_in_ || evicted_ || in_list_) return;
  evict_ = std::move(evict);
  auto& list = owner_->evictable_[listener_];
  evictable_ = list.insert(list.end(), this);
  in_list_ = true;
}

void AddressLimits::unlist(Lease& lease) {
  if (!lease.in_list_) return;
  auto l = evictable_.find(lease.listener_);
  if (l != evictable_.end()) l->second.erase(lease.evictable_);
  lease.in_list_ = false;
}

std::function<void()> AddressLimits::evict_for(const std::string& address, const std::string& listener) {
  auto l = evictable_.find(listener);
  if (l == evictable_.end() || l->second.empty()) return {};
  auto own = entries_.find(address);
  const std::size_t mine = own == entries_.end() ? 0 : own->second.handshakes;
  // Only the oldest few are looked at: a flood at the cap makes this check for every
  // connection it offers, so its cost must not grow with the cap. For a client from a
  // host that is not flooding (none or few in handshake) the first one qualifies.
  constexpr std::size_t kScanOldest = 64;
  std::size_t scanned = 0;
  for (Lease* lease : l->second) {
    if (++scanned > kScanOldest) break;
    auto e = entries_.find(lease->address_);
    if (e == entries_.end() || e->second.handshakes < mine + 2) continue;
    unlist(*lease);
    lease->evicted_ = true;  // its counts are given back now, not when it ends
    if (auto n = listener_handshakes_.find(listener); n != listener_handshakes_.end() && n->second > 0) --n->second;
    if (e->second.handshakes > 0) --e->second.handshakes;
    return std::move(lease->evict_);
  }
  return {};
}

AddressLimits::Admission AddressLimits::admit(const std::string& address, const std::string& listener,
                                              const AddressCaps& caps) {
  std::lock_guard lock(mu_);
  std::size_t& in_listener = listener_handshakes_[listener];  // one entry per listener name: bounded
  auto [it, inserted] = entries_.try_emplace(address);
  Entry& e = it->second;
  auto refuse = [&](Refusal r) {
    if (inserted) entries_.erase(it);
    return Admission{nullptr, r, {}};
  };
  if (caps.max_handshakes != 0 && e.handshakes >= caps.max_handshakes) return refuse(Refusal::Handshakes);
  if (caps.max_connections != 0 && e.connections >= caps.max_connections) return refuse(Refusal::Connections);
  std::function<void()> evicted;
  if (caps.max_listener_handshakes != 0 && in_listener >= caps.max_listener_handshakes) {
    evicted = evict_for(address, listener);
    if (!evicted) return refuse(Refusal::ListenerHandshakes);
  }
  if (!inserted && e.connections == 0) --idle_entries_;
  ++e.handshakes;
  ++e.connections;
  ++in_listener;
  return {std::make_shared<Lease>(shared_from_this(), address, listener), Refusal::None, std::move(evicted)};
}

void AddressLimits::on_logged_in(Lease& lease) {
  std::lock_guard lock(mu_);
  if (lease.logged_in_) return;
  lease.logged_in_ = true;
  unlist(lease);
  lease.evict_ = nullptr;
  if (lease.evicted_) return;  // its handshake counts were given back at the eviction
  if (auto l = listener_handshakes_.find(lease.listener_); l != listener_handshakes_.end() && l->second > 0) --l->second;
  auto it = entries_.find(lease.address_);
  if (it != entries_.end() && it->second.handshakes > 0) --it->second.handshakes;
}

void AddressLimits::release(Lease& lease) {
  std::lock_guard lock(mu_);
  unlist(lease);
  const bool counted = !lease.logged_in_ && !lease.evicted_;
  if (auto l = listener_handshakes_.find(lease.listener_); counted && l != listener_handshakes_.end() && l->second > 0) {
    --l->second;
  }
  auto it = entries_.find(lease.address_);
  if (it == entries_.end()) return;
  if (counted && it->second.handshakes > 0) --it->second.handshakes;
  if (it->second.connections > 0) --it->second.connections;
  if (it->second.connections == 0) {
    ++idle_entries_;
    forget_if_idle(it);
  }
}

void AddressLimits::forget_if_idle(std::unordered_map<std::string, Entry>::iterator it) {
  // An address without connections is kept only while its cancel bucket matters, and
  // only up to kMaxIdleEntries of them (then idle entries are dropped: a dropped bucket
  // starts full again, which only forgives, never blocks).
  if (it->second.tokens <= 0 && it->second.refilled == Clock::time_point{}) {
    entries_.erase(it);
    --idle_entries_;
    return;
  }
  if (idle_entries_ <= kMaxIdleEntries) return;
  for (auto i = entries_.begin(); i != entries_.end();) {
    if (i->second.connections == 0) {
      i = entries_.erase(i);
      --idle_entries_;
    } else {
      ++i;
    }
  }
}

bool AddressLimits::allow_cancel(const std::string& address, const AddressCaps& caps, Clock::time_point now) {
  if (caps.cancels_per_second == 0) return true;
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(address);
  Entry& e = it->second;
  const double rate = caps.cancels_per_second;
  if (inserted || e.refilled == Clock::time_point{}) {
    e.tokens = rate;  // a full second of burst
    e.refilled = now;
  } else if (now > e.refilled) {
    const double add = std::chrono::duration<double>(now - e.refilled).count() * rate;
    e.tokens = std::min(rate, e.tokens + add);
    e.refilled = now;
  }
  bool ok = e.tokens >= 1.0;
  if (ok) e.tokens -= 1.0;
  if (inserted) {
    ++idle_entries_;  // no connection holds it
    if (idle_entries_ > kMaxIdleEntries) forget_if_idle(it);
  }
  return ok;
}

std::size_t AddressLimits::handshakes(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  return it == entries_.end() ? 0 : it->second.handshakes;
}

std::size_t AddressLimits::connections(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  return it == entries_.end() ? 0 : it->second.connections;
}

std::size_t AddressLimits::listener_handshakes(const std::string& listener) const {
  std::lock_guard lock(mu_);
  auto it = listener_handshakes_.find(listener);
  return it == listener_handshakes_.end() ? 0 : it->second;
}

std::size_t AddressLimits::tracked_addresses() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace segproxy::proxy
