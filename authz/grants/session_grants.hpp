#pragma once
// A session's side of the emergency grants, shared by both gates (authz/gate): decides
// with the grants that match the session's identity and segment at `now`, and says when
// the grant list changed so the gate voids its decision cache. A decision a grant
// allowed (Decision::grant_id set) is never cached by the gates: each statement asks
// again, so an expired or removed grant stops applying at the next statement.
#include <cstdint>
#include <string>

#include "authz/grants/grant_list.hpp"
#include "authz/identity.hpp"
#include "authz/policy_engine.hpp"

namespace segproxy::authz {

class SessionGrants {
 public:
  SessionGrants() = default;  // no grants: decide == PolicyEngine::evaluate
  SessionGrants(const GrantList* list, SharedIdentity identity)
      : list_(list), identity_(std::move(identity)), generation_(list ? list->generation() : 0) {}

  // True when the grant list changed since the last call (or construction).
  bool changed() {
    if (list_ == nullptr) return false;
    const std::uint64_t g = list_->generation();
    if (g == generation_) return false;
    generation_ = g;
    return true;
  }

  Decision decide(const PolicyEngine& engine, const std::string& segment, const sql::StatementInfo& info,
                  PolicyEngine::time_point now, const std::string& database, PolicyEngine::Windows windows) const {
    Decision d = engine.evaluate(segment, info, now, database, windows);
    if (d.allow || list_ == nullptr || identity_ == nullptr) return d;
    const auto grants = list_->matching(*identity_, segment, now);
    if (grants.empty()) return d;
    return engine.evaluate_granted(segment, info, now, grants, database, windows);
  }

 private:
  const GrantList* list_ = nullptr;
  SharedIdentity identity_;  // the session's own copy (never null with a list)
  std::uint64_t generation_ = 0;
};

}  // namespace segproxy::authz
