#include "daemon/net/address_limits.hpp"

#include <algorithm>

namespace segproxy::proxy {

AddressLimits::Lease::~Lease() {
  if (owner_) owner_->release(address_, listener_, logged_in_);
}

void AddressLimits::Lease::logged_in() {
  if (logged_in_ || !owner_) return;
  logged_in_ = true;
  owner_->on_logged_in(address_, listener_);
}

AddressLimits::Admission AddressLimits::admit(const std::string& address, const std::string& listener,
                                              const AddressCaps& caps) {
  std::lock_guard lock(mu_);
  std::size_t& in_listener = listener_handshakes_[listener];  // one entry per listener name: bounded
  if (caps.max_listener_handshakes != 0 && in_listener >= caps.max_listener_handshakes) {
    return {nullptr, Refusal::ListenerHandshakes};
  }
  auto [it, inserted] = entries_.try_emplace(address);
  Entry& e = it->second;
  if (caps.max_handshakes != 0 && e.handshakes >= caps.max_handshakes) {
    if (inserted) entries_.erase(it);
    return {nullptr, Refusal::Handshakes};
  }
  if (caps.max_connections != 0 && e.connections >= caps.max_connections) {
    if (inserted) entries_.erase(it);
    return {nullptr, Refusal::Connections};
  }
  if (!inserted && e.connections == 0) --idle_entries_;
  ++e.handshakes;
  ++e.connections;
  ++in_listener;
  return {std::make_shared<Lease>(shared_from_this(), address, listener), Refusal::None};
}

void AddressLimits::on_logged_in(const std::string& address, const std::string& listener) {
  std::lock_guard lock(mu_);
  if (auto l = listener_handshakes_.find(listener); l != listener_handshakes_.end() && l->second > 0) --l->second;
  auto it = entries_.find(address);
  if (it != entries_.end() && it->second.handshakes > 0) --it->second.handshakes;
}

void AddressLimits::release(const std::string& address, const std::string& listener, bool logged_in) {
  std::lock_guard lock(mu_);
  if (auto l = listener_handshakes_.find(listener); !logged_in && l != listener_handshakes_.end() && l->second > 0) {
    --l->second;
  }
  auto it = entries_.find(address);
  if (it == entries_.end()) return;
  if (!logged_in && it->second.handshakes > 0) --it->second.handshakes;
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
