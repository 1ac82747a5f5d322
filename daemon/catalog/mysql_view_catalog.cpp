// Pure part of MySQL / MariaDB view learning: query choice and catalog building.
#include "daemon/catalog/mysql_view_catalog.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "authz/policy_engine.hpp"

namespace segproxy::proxy {

const char* const kMysqlViewQuery =
    "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS"
    " WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME";

const char* const kMysqlViewTableUsageQuery =
    "SELECT VIEW_SCHEMA, VIEW_NAME, TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEW_TABLE_USAGE"
    " WHERE VIEW_SCHEMA = ? ORDER BY VIEW_NAME, TABLE_SCHEMA, TABLE_NAME";

namespace {

constexpr std::uint32_t kFirstWithTableUsage = 80013;  // MySQL 8.0.13

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Why the definition cannot be trusted as a list of reads ("" = it can).
std::string unreadable_reason(const MysqlViewRow& row, const authz::sql::StatementInfo& info) {
  if (row.definition.empty()) return "definition not visible to the metadata login (SHOW VIEW and SELECT needed)";
  if (!info.parse_ok) return "definition not parsed: " + info.parse_error;
  if (info.statements.size() != 1) return "definition is not one statement";
  const auto& part = info.statements.front();
  if (part.klass != authz::sql::StatementClass::Dml) {
    return "definition not understood: " + (part.forbidden_reason.empty() ? part.command : part.forbidden_reason);
  }
  for (const auto& f : part.functions) {
    if (!f.schema.empty() || !authz::is_safe_mysql_builtin_function(f.name)) {
      return "definition calls function " + (f.schema.empty() ? f.name : f.schema + "." + f.name) +
             " (a stored function may read any table)";
    }
  }
  return "";
}

}  // namespace

MysqlViewSource mysql_view_source(std::string_view version) {
  const auto v = authz::sql::parse_mysql_server_version(version);
  if (v.mariadb || v.version < kFirstWithTableUsage) return MysqlViewSource::Definitions;
  return MysqlViewSource::DefinitionsAndTableUsage;
}

authz::RelationName mysql_unreadable_view_sentinel(const authz::RelationName& view) {
  return authz::RelationName{view.schema, "definition of view " + view.name + " not understood by segproxy"};
}

authz::ViewCatalog build_mysql_view_catalog(
    const std::vector<MysqlViewRow>& rows, const std::vector<MysqlViewUsageRow>& usage,
    const authz::sql::MysqlClassifierOptions& base,
    std::vector<std::pair<authz::RelationName, std::string>>* unreadable) {
  authz::ViewCatalog catalog;
  const bool fold = base.lower_case_table_names != 0;
  const auto name_of = [fold](const std::string& schema, const std::string& name) {
    return authz::RelationName{fold ? lower(schema) : schema, fold ? lower(name) : name};
  };
  const auto pin_closed = [&](const authz::RelationName& view, std::string why) {
    // Fail closed: view -> sentinel -> view is a cycle, which the engine denies.
    const auto sentinel = mysql_unreadable_view_sentinel(view);
    catalog.set_reads(view, {sentinel});
    catalog.set_reads(sentinel, {view});
    if (unreadable != nullptr) unreadable->emplace_back(view, std::move(why));
  };
  std::map<authz::RelationName, std::set<authz::RelationName>> used;  // VIEW_TABLE_USAGE per view
  for (const auto& u : usage) {
    used[name_of(u.view_schema, u.view_name)].insert(name_of(u.table_schema, u.table_name));
  }
  std::set<authz::RelationName> seen;
  for (const auto& row : rows) {
    const authz::RelationName view = name_of(row.schema, row.name);
    seen.insert(view);
    authz::sql::MysqlClassifierOptions opts = base;
    opts.current_database = row.schema;
    authz::sql::StatementInfo info;
    if (!row.definition.empty()) info = authz::sql::classify_mysql(row.definition, opts);
    std::string why = unreadable_reason(row, info);
    if (!why.empty()) {
      pin_closed(view, std::move(why));
      continue;
    }
    std::set<authz::RelationName> reads;
    for (const auto& t : info.statements.front().tables) reads.insert({t.schema, t.name});
    if (const auto it = used.find(view); it != used.end()) reads.insert(it->second.begin(), it->second.end());
    catalog.set_reads(view, std::vector<authz::RelationName>(reads.begin(), reads.end()));
  }
  for (const auto& [view, tables] : used) {
    if (!seen.contains(view)) pin_closed(view, "listed in VIEW_TABLE_USAGE but its definition was not read");
  }
  return catalog;
}

}  // namespace segproxy::proxy
