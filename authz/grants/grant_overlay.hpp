#pragma once
// One evaluation's view of the emergency grants that match the session
// (PolicyEngine::evaluate_granted): which grant covers a table access or a statement
// class the segment's rules refuse, and which grants were used.
#include <string>
#include <vector>

#include "authz/grants/grant.hpp"

namespace segproxy::authz {

class GrantOverlay {
 public:
  explicit GrantOverlay(const std::vector<Grant>& grants) : grants_(grants) {}

  // The first grant that covers `op` on `t` (noted as used), else null.
  const Grant* table(const std::string& default_schema, const sql::TableRef& t, config::TableOperation op) {
    for (const auto& g : grants_) {
      if (grant_covers_table(g.scope, default_schema, t, op)) return use(g);
    }
    return nullptr;
  }
  // The first grant that grants statement class `c` (noted as used), else null.
  const Grant* statement_class(config::StatementClassGrant c) {
    for (const auto& g : grants_) {
      if ((g.scope.statements & config::class_bit(c)) != 0) return use(g);
    }
    return nullptr;
  }
  // Ids of the grants used, in first-use order.
  const std::vector<std::string>& used() const { return used_; }

 private:
  const Grant* use(const Grant& g) {
    bool seen = false;
    for (const auto& id : used_) seen = seen || id == g.id;
    if (!seen) used_.push_back(g.id);
    return &g;
  }
  const std::vector<Grant>& grants_;
  std::vector<std::string> used_;
};

}  // namespace segproxy::authz
