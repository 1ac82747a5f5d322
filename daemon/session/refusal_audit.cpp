// Rate-limited session.refused records for refusals before login (see refusal_audit.hpp).
#include "daemon/session/refusal_audit.hpp"

#include <utility>

namespace segproxy::proxy {

namespace {
constexpr auto kFoldWindow = std::chrono::seconds(1);
}  // namespace

std::string_view RefusalAudit::host_of(std::string_view addr) {
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return addr;
  std::string_view host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

void RefusalAudit::prune(Clock::time_point now) {
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (now - it->second.last >= kFoldWindow) {
      orphaned_ += it->second.folded;
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
}

bool RefusalAudit::record(const PreLoginRefusal& r, Clock::time_point now) {
  if (sink_ == nullptr) return false;
  std::string key;
  key.reserve(r.listener.size() + r.reason.size() + 48);
  key.append(r.listener).append(1, '\0').append(host_of(r.client_addr)).append(1, '\0').append(r.reason);
  std::uint64_t folded = 0;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it != keys_.end()) {
      if (now - it->second.last < kFoldWindow) {
        ++it->second.folded;
        return false;
      }
      folded = std::exchange(it->second.folded, 0);
      it->second.last = now;
    } else {
      if (keys_.size() >= max_keys_) prune(now);
      if (keys_.size() >= max_keys_) {
        // Every slot is busy within this second (a flood from many addresses): fold
        // into the orphan count, reported by the next record written.
        ++orphaned_;
        return false;
      }
      keys_.emplace(std::move(key), Entry{now, 0});
    }
    folded += std::exchange(orphaned_, 0);
  }
  audit::AuditRecord rec;
  rec.event = "session.refused";
  rec.session_id = std::string(r.session_id);
  rec.listener = std::string(r.listener);
  rec.protocol = std::string(r.protocol);
  rec.client_addr = std::string(r.client_addr);
  rec.sqlstate = std::string(r.sqlstate);
  rec.reason = std::string(r.error.substr(0, kMaxErrorChars));
  rec.detail = std::string(r.reason);
  if (folded > 0) rec.detail += "; folded=" + std::to_string(folded);
  sink_->submit_deferred(std::move(rec), [](bool) {});
  return true;
}

}  // namespace segproxy::proxy
