#pragma once
// The SQL-level prepared statements a session has PREPAREd through the proxy
// (PostgreSQL `PREPARE name AS ...`, MySQL `PREPARE name FROM '...'`). EXECUTE of any
// other name is refused: the proxy cannot know what it would run (a name prepared out
// of its sight, or already deallocated). Pure; one per session; capped.
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "authz/policy_engine.hpp"
#include "authz/sql/statement_info.hpp"

namespace segproxy::authz {

// One statement's effect on the session's prepared names, in text order.
struct PreparedUse {
  sql::PreparedEffect effect = sql::PreparedEffect::None;
  std::string name;
  bool operator==(const PreparedUse&) const = default;
};

// The prepared-name effects of a classified text, statement by statement.
std::vector<PreparedUse> prepared_uses(const sql::StatementInfo& info);

// The refusal (42501) when a statement of `uses` EXECUTEs a name that `known` does not
// know and that no earlier statement of the same text PREPAREd (a DEALLOCATE or
// DEALLOCATE ALL / DISCARD ALL earlier in the text forgets names); nullopt otherwise.
std::optional<Decision> refuse_unknown_prepared(const std::vector<PreparedUse>& uses,
                                                const std::function<bool(const std::string&)>& known);

class PreparedNames {
 public:
  static constexpr std::size_t kMaxNames = 10000;  // beyond: forget all (EXECUTEs then fail closed)

  std::optional<Decision> refuse_unknown(const std::vector<PreparedUse>& uses) const {
    return refuse_unknown_prepared(uses, [this](const std::string& n) { return names_.count(n) != 0; });
  }
  // Records the effects of an allowed, forwarded text (in order).
  void apply(const std::vector<PreparedUse>& uses);
  bool contains(const std::string& name) const { return names_.count(name) != 0; }
  void clear() { names_.clear(); }
  std::size_t size() const { return names_.size(); }

 private:
  std::set<std::string> names_;
};

}  // namespace segproxy::authz
