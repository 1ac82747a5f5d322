#include "proxy/session_registry.hpp"

#include <vector>

#include "proxy/pg_session.hpp"

namespace segproxy::proxy {

void SessionRegistry::add(std::uint64_t id, std::weak_ptr<PgSession> session, asio::any_io_executor ex) {
  std::lock_guard lock(mu_);
  sessions_[id] = Entry{std::move(session), std::move(ex)};
}

void SessionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::size_t SessionRegistry::post_to_all(const Action& action) {
  std::vector<Entry> targets;
  {
    std::lock_guard lock(mu_);
    targets.reserve(sessions_.size());
    for (const auto& [id, e] : sessions_) targets.push_back(e);
  }
  for (auto& e : targets) {
    asio::post(e.executor, [weak = e.session, action] {
      if (auto s = weak.lock()) action(*s);
    });
  }
  return targets.size();
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace segproxy::proxy
