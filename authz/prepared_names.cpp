// Known SQL-level prepared statement names (prepared_names.hpp).
#include "authz/prepared_names.hpp"

#include <algorithm>

namespace segproxy::authz {

using sql::PreparedEffect;

std::vector<PreparedUse> prepared_uses(const sql::StatementInfo& info) {
  std::vector<PreparedUse> out;
  for (const auto& part : info.statements) {
    if (part.prepared_effect != PreparedEffect::None) out.push_back({part.prepared_effect, part.prepared_name});
  }
  return out;
}

std::optional<Decision> refuse_unknown_prepared(const std::vector<PreparedUse>& uses,
                                                const std::function<bool(const std::string&)>& known) {
  std::vector<std::string> added, removed;  // by earlier statements of this text
  bool all_removed = false;
  const auto contains = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  for (const PreparedUse& u : uses) {
    switch (u.effect) {
      case PreparedEffect::Prepare:
        added.push_back(u.name);
        break;
      case PreparedEffect::Deallocate:
        added.erase(std::remove(added.begin(), added.end(), u.name), added.end());
        removed.push_back(u.name);
        break;
      case PreparedEffect::DeallocateAll:
        added.clear();
        all_removed = true;
        break;
      case PreparedEffect::Execute: {
        const bool ok = contains(added, u.name) ||
                        (!all_removed && !contains(removed, u.name) && !u.name.empty() && known(u.name));
        if (!ok) {
          return Decision{false, "", "segproxy: EXECUTE of prepared statement \"" + u.name +
                                         "\", which was not PREPAREd in this session through segproxy",
                          "42501"};
        }
        break;
      }
      case PreparedEffect::None:
        break;
    }
  }
  return std::nullopt;
}

void PreparedNames::apply(const std::vector<PreparedUse>& uses) {
  for (const PreparedUse& u : uses) {
    switch (u.effect) {
      case PreparedEffect::Prepare:
        if (names_.size() >= kMaxNames) names_.clear();
        names_.insert(u.name);
        break;
      case PreparedEffect::Deallocate: names_.erase(u.name); break;
      case PreparedEffect::DeallocateAll: names_.clear(); break;
      case PreparedEffect::Execute:
      case PreparedEffect::None: break;
    }
  }
}

}  // namespace segproxy::authz
