#include "daemon/net/cancel_registry.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace segproxy::proxy {

std::int32_t CancelRegistry::add(CancelTarget target) {
  std::lock_guard lock(mu_);
  for (;;) {
    std::int32_t secret = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&secret), sizeof secret) != 1)
      throw std::runtime_error("RAND_bytes failed");
    auto [it, inserted] = map_.try_emplace(key(target.process_id, secret), target);
    if (inserted) return secret;
  }
}

void CancelRegistry::remove(std::int32_t process_id, std::int32_t proxy_secret) {
  std::lock_guard lock(mu_);
  map_.erase(key(process_id, proxy_secret));
}

std::optional<CancelTarget> CancelRegistry::find(std::int32_t process_id, std::int32_t proxy_secret) const {
  std::lock_guard lock(mu_);
  auto it = map_.find(key(process_id, proxy_secret));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

std::size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace segproxy::proxy
