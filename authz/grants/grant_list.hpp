#pragma once
// The emergency grants in force (grant.hpp), persisted like the revocations
// (authz/persisted_list: JSON Lines in grant.hpp's encode_grant_line, written atomically,
// published only once durable; readers load an immutable snapshot without locks).
//
// generation() changes with every change of the list (add, remove, expiry, a fleet
// replace): the gates void their cached decisions when it moves, and never cache a
// decision a grant allowed (so an expired grant stops applying at the next statement
// even before the control thread's expiry timer removes it).
//
// No wall clock inside: callers pass `now`.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authz/grants/grant.hpp"
#include "authz/persisted_list.hpp"

namespace segproxy::authz {

using GrantSnapshot = std::shared_ptr<const std::vector<Grant>>;

class GrantList : public PersistedList<Grant> {
 public:
  // `file` empty: in memory only. load (missing = empty; on error, naming the file and
  // line, the list is kept), prune_expired (changed = the expired grants), replace (the
  // fleet's applied set; changed = nothing), snapshot, generation, active_count:
  // PersistedList.
  explicit GrantList(std::filesystem::path file);

  // Adds a grant built by the caller (id from new_grant_id, TTL checked with
  // check_grant_ttl); an id already in the list is an error.
  Update add(Grant g);
  Update remove(const std::string& id);  // changed = the removed grant (empty: no such id)

  // The grants active at `now` that match the identity in `segment`; lock-free.
  std::vector<Grant> matching(const ClientIdentity& id, std::string_view segment, GrantTime now) const;
};

// 12 random lower-case hex digits not used by `existing` (also the fleet's new ids).
std::string new_grant_id(const std::vector<Grant>& existing);

}  // namespace segproxy::authz
