#pragma once
// The client identities admitted since the proxy started, with the segments they were
// admitted to: what an operator's revoke selector is checked against ("matched no
// identity" when it reaches none, a likely typo) and what tells the dynamic-credential
// service whose minted users a revocation ends, also of identities with no live session.
// Bounded: at most `capacity` identities (least recently admitted forgotten first), at
// most kMaxSegmentsPerIdentity segments each. Thread-safe (one mutex, short sections).
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "authz/identity.hpp"

namespace segproxy::proxy {

class SeenIdentities {
 public:
  static constexpr std::size_t kDefaultCapacity = 100'000;
  static constexpr std::size_t kMaxSegmentsPerIdentity = 16;

  struct Seen {
    authz::ClientIdentity identity;
    std::vector<std::string> segments;  // most recent last
  };
  using Match = std::function<bool(const authz::ClientIdentity&, const std::string& segment)>;

  explicit SeenIdentities(std::size_t capacity = kDefaultCapacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Remembers (identity, segment) as the most recent admission.
  void record(const authz::ClientIdentity& id, const std::string& segment);
  // Every remembered (identity, segment) pair that passes `match`, grouped per identity
  // (only the matching segments listed).
  std::vector<Seen> matching(const Match& match) const;
  std::size_t size() const;

 private:
  struct Slot {
    Seen seen;
    std::list<std::string>::iterator lru;
  };
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // keys, least recently admitted first
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace segproxy::proxy
