#pragma once
// Configuration rules that can grant nothing (issue 12 leftovers, item 6): since system
// schemas are reached only through `catalog: metadata` or rules naming a relation
// exactly (docs/policy.md "System catalogs"), an allow rule whose table pattern is a
// wildcard over pg_catalog / information_schema / pg_toast* (PostgreSQL) or mysql /
// performance_schema / sys / information_schema (MySQL), or names a relation that is
// never granted (values and credentials catalogs), is dead. `segproxy --check-config`,
// start and reload report each such pattern (warning `config.rule_grants_nothing`);
// the configuration stays valid - the rule still denies what it denies.
#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace segproxy::authz {

struct RuleWarning {
  std::string segment;
  std::string rule_id;
  std::string pattern;
  int line = 0;
  std::string reason;
};

std::vector<RuleWarning> rules_granting_nothing(const config::Config& cfg);

// Each of them as a line "warning: PATH:LINE: config.rule_grants_nothing: ..." on `out`
// (`segproxy --check-config`, `segproxyctl config check`).
void print_rules_granting_nothing(const config::Config& cfg, const std::string& path, std::ostream& out);

}  // namespace segproxy::authz
