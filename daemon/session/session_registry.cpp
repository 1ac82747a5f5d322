#include "daemon/session/session_registry.hpp"

#include <algorithm>

namespace segproxy::proxy {
namespace {

std::string identity_slot(const SessionFacts& f) { return f.segment + '\0' + identity_key(f.identity()); }

}  // namespace

std::string identity_key(const authz::ClientIdentity& id) {
  return id.spiffe_id.empty() ? "sha256:" + id.sha256_hex : id.spiffe_id;
}

void SessionRegistry::add(std::uint64_t id, std::weak_ptr<LiveSession> session, asio::any_io_executor ex) {
  std::lock_guard lock(mu_);
  sessions_[id] = Entry{std::move(session), std::move(ex), nullptr};
}

SessionRegistry::Admission SessionRegistry::admit(std::uint64_t id, SessionFacts facts, std::size_t max_segment,
                                                  std::size_t max_per_identity) {
  const std::string slot = identity_slot(facts);
  seen_.record(facts.identity(), facts.segment);  // admitted or not: the identity was seen
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Admission::Admitted;  // not tracked (tests without add)
  const auto seg = per_segment_.find(facts.segment);
  const auto ident = per_identity_.find(slot);
  if (max_segment != 0 && seg != per_segment_.end() && seg->second >= max_segment) return Admission::SegmentFull;
  if (max_per_identity != 0 && ident != per_identity_.end() && ident->second >= max_per_identity)
    return Admission::IdentityFull;
  ++per_segment_[facts.segment];
  ++per_identity_[slot];
  it->second.facts = std::make_shared<const SessionFacts>(std::move(facts));
  return Admission::Admitted;
}

void SessionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  if (const auto& f = it->second.facts) {
    if (auto s = per_segment_.find(f->segment); s != per_segment_.end() && --s->second == 0) per_segment_.erase(s);
    if (auto i = per_identity_.find(identity_slot(*f)); i != per_identity_.end() && --i->second == 0)
      per_identity_.erase(i);
  }
  sessions_.erase(it);
}

void SessionRegistry::set_backend_user(std::uint64_t id, const std::string& user) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second.facts) return;
  auto next = std::make_shared<SessionFacts>(*it->second.facts);
  next->backend_user = user;
  it->second.facts = std::move(next);
}

void SessionRegistry::set_backend_id(std::uint64_t id, std::uint64_t backend_id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second.facts) return;
  auto next = std::make_shared<SessionFacts>(*it->second.facts);
  next->backend_id = backend_id;
  it->second.facts = std::move(next);
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

std::vector<std::uint64_t> SessionRegistry::post_matching(const Filter& filter, const Action& action) {
  std::vector<std::pair<std::uint64_t, Entry>> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : sessions_) {
      if (e.facts && filter(id, *e.facts)) targets.emplace_back(id, e);
    }
  }
  std::vector<std::uint64_t> ids;
  ids.reserve(targets.size());
  for (auto& [id, e] : targets) {
    ids.push_back(id);
    asio::post(e.executor, [weak = e.session, action] {
      if (auto s = weak.lock()) action(*s);
    });
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool SessionRegistry::any_matching(const Filter& filter) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : sessions_) {
    if (e.facts && filter(id, *e.facts)) return true;
  }
  return false;
}

std::vector<SessionRegistry::Listed> SessionRegistry::list(const Filter& filter, std::chrono::milliseconds timeout) {
  struct Gather {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t pending = 0;
    std::unordered_map<std::uint64_t, SessionState> states;
  };
  auto gather = std::make_shared<Gather>();
  std::vector<Listed> out;
  std::vector<std::pair<std::uint64_t, Entry>> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : sessions_) {
      if (!e.facts || !filter(id, *e.facts)) continue;
      targets.emplace_back(id, e);
      out.push_back(Listed{id, *e.facts, std::nullopt});
    }
  }
  gather->pending = targets.size();
  for (auto& [id, e] : targets) {
    asio::post(e.executor, [weak = e.session, gather, id = id] {
      std::optional<SessionState> st;
      if (auto s = weak.lock()) st = s->state();
      std::lock_guard lock(gather->mu);
      if (st) gather->states.emplace(id, std::move(*st));
      if (--gather->pending == 0) gather->cv.notify_all();
    });
  }
  {
    std::unique_lock lock(gather->mu);
    gather->cv.wait_for(lock, timeout, [&] { return gather->pending == 0; });
    for (auto& l : out) {
      if (auto it = gather->states.find(l.id); it != gather->states.end()) l.state = it->second;
    }
  }
  std::sort(out.begin(), out.end(), [](const Listed& a, const Listed& b) { return a.id < b.id; });
  return out;
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

std::map<std::string, std::size_t> SessionRegistry::admitted_by_segment() const {
  std::lock_guard lock(mu_);
  return {per_segment_.begin(), per_segment_.end()};
}

}  // namespace segproxy::proxy
