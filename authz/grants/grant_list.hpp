#pragma once
// The emergency grants in force (grant.hpp), persisted like the revocations: JSON Lines
// (grant.hpp encode_grant_line), written atomically (write_file_atomically), published
// only once durable; readers load an immutable snapshot without locks.
//
// generation() changes with every change of the list (add, remove, expiry, a fleet
// replace): the gates void their cached decisions when it moves, and never cache a
// decision a grant allowed (so an expired grant stops applying at the next statement
// even before the control thread's expiry timer removes it).
//
// No wall clock inside: callers pass `now`.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "authz/grants/grant.hpp"

namespace segproxy::authz {

using GrantSnapshot = std::shared_ptr<const std::vector<Grant>>;

class GrantList {
 public:
  struct Update {
    bool ok = false;
    std::string error;
    GrantSnapshot snapshot;
    std::vector<Grant> changed;  // added, or removed / expired entries
  };

  // `file` empty: in memory only.
  explicit GrantList(std::filesystem::path file);
  GrantList(const GrantList&) = delete;
  GrantList& operator=(const GrantList&) = delete;

  // Reads the file (missing = empty). On error (names the file and line) the list is
  // kept and false returned. Expired entries are kept until prune_expired.
  bool load(std::string& error);

  // Adds a grant built by the caller (id from new_grant_id, TTL checked with
  // check_grant_ttl); an id already in the list is an error.
  Update add(Grant g);
  Update remove(const std::string& id);  // changed = the removed grant (empty: no such id)
  Update prune_expired(GrantTime now);   // changed = the expired grants
  Update replace(std::vector<Grant> next);  // the fleet's applied set; changed = nothing

  GrantSnapshot snapshot() const { return current_.load(); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The grants active at `now` that match the identity in `segment`; lock-free.
  std::vector<Grant> matching(const ClientIdentity& id, std::string_view segment, GrantTime now) const;
  std::size_t active_count(GrantTime now) const;
  const std::filesystem::path& file() const { return file_; }

 private:
  Update commit(std::vector<Grant> next, std::vector<Grant> changed);  // mu_ held
  Update unchanged() const;

  std::filesystem::path file_;
  std::mutex mu_;
  std::atomic<GrantSnapshot> current_;
  std::atomic<std::uint64_t> generation_{1};
};

// 12 random lower-case hex digits not used by `existing` (also the fleet's new ids).
std::string new_grant_id(const std::vector<Grant>& existing);

}  // namespace segproxy::authz
