#include "authz/rule_lint.hpp"

#include <algorithm>
#include <cctype>

#include "authz/sql/catalog_relations.hpp"

namespace segproxy::authz {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_glob(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

bool pg_system_schema(std::string_view s) {
  return s == "pg_catalog" || s == "information_schema" || s.rfind("pg_toast", 0) == 0;
}
bool mysql_system_schema(std::string_view s) {
  return s == "mysql" || s == "performance_schema" || s == "sys" || s == "information_schema";
}

// Why `pattern` can grant nothing, or "" when it can grant something.
std::string dead_pattern(const std::string& pattern) {
  const auto dot = pattern.find('.');
  if (dot == std::string::npos || pattern.find('.', dot + 1) != std::string::npos) return {};
  const std::string schema = lower(std::string_view(pattern).substr(0, dot));
  const std::string name = std::string(std::string_view(pattern).substr(dot + 1));
  if (has_glob(schema)) return {};
  const bool pg = pg_system_schema(schema), my = mysql_system_schema(schema);
  if (!pg && !my) return {};
  if (has_glob(name)) {
    return "a wildcard never grants relations of the system schema " + schema +
           " (`catalog: metadata` grants the metadata relations; other system relations only by their exact name)";
  }
  const auto never = [](sql::CatalogKind k) {
    return k == sql::CatalogKind::Values || k == sql::CatalogKind::Credentials;
  };
  if ((pg && never(sql::pg_catalog_kind(schema, lower(name)))) || (my && never(sql::mysql_catalog_kind(schema, name)))) {
    return schema + "." + name + " exposes other relations' values or credentials and is never granted";
  }
  return {};
}

}  // namespace

std::vector<RuleWarning> rules_granting_nothing(const config::Config& cfg) {
  std::vector<RuleWarning> out;
  for (const auto& [name, seg] : cfg.segments) {
    for (const auto& rule : seg.policy.rules) {
      if (rule.allow == 0) continue;  // a deny-only rule still denies
      for (const auto& p : rule.tables) {
        std::string why = dead_pattern(p);
        if (!why.empty()) out.push_back(RuleWarning{name, rule.id, p, rule.line, std::move(why)});
      }
    }
  }
  return out;
}

void print_rules_granting_nothing(const config::Config& cfg, const std::string& path, std::ostream& out) {
  for (const auto& w : rules_granting_nothing(cfg)) {
    out << "warning: " << path << ":" << w.line << ": config.rule_grants_nothing: segment " << w.segment << ", rule "
        << w.rule_id << ", table pattern \"" << w.pattern << "\": " << w.reason << "\n";
  }
}

}  // namespace segproxy::authz
