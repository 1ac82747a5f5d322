#include "daemon/session/seen_identities.hpp"

#include <algorithm>

namespace segproxy::proxy {
namespace {

// One slot per certificate identity: the SPIFFE id, else the certificate fingerprint.
std::string key_of(const authz::ClientIdentity& id) {
  return id.spiffe_id.empty() ? "sha256:" + id.sha256_hex : id.spiffe_id;
}

}  // namespace

void SeenIdentities::record(const authz::ClientIdentity& id, const std::string& segment) {
  const std::string key = key_of(id);
  const std::lock_guard lock(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) {
    if (slots_.size() >= capacity_) {
      slots_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    it = slots_.emplace(key, Slot{Seen{id, {}}, std::prev(order_.end())}).first;
  } else {
    order_.splice(order_.end(), order_, it->second.lru);  // most recent now
    it->second.seen.identity = id;                         // same key: the newest certificate
  }
  auto& segs = it->second.seen.segments;
  segs.erase(std::remove(segs.begin(), segs.end(), segment), segs.end());
  if (segs.size() >= kMaxSegmentsPerIdentity) segs.erase(segs.begin());
  segs.push_back(segment);
}

std::vector<SeenIdentities::Seen> SeenIdentities::matching(const Match& match) const {
  std::vector<Seen> out;
  const std::lock_guard lock(mu_);
  for (const auto& key : order_) {
    const Seen& s = slots_.at(key).seen;
    Seen hit{s.identity, {}};
    for (const auto& seg : s.segments) {
      if (match(s.identity, seg)) hit.segments.push_back(seg);
    }
    if (!hit.segments.empty()) out.push_back(std::move(hit));
  }
  return out;
}

std::size_t SeenIdentities::size() const {
  const std::lock_guard lock(mu_);
  return slots_.size();
}

}  // namespace segproxy::proxy
