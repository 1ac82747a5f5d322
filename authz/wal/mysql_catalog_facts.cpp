// MySQL / MariaDB information_schema rows -> WalCatalog (mysql_catalog_facts.hpp).
#include "authz/wal/mysql_catalog_facts.hpp"

#include <algorithm>
#include <iterator>

#include "authz/sql/mysql_lexer.hpp"
#include "authz/wal/expression_judge.hpp"
#include "authz/wal/mysql_write_class.hpp"

namespace segproxy::authz::wal {
namespace {

using Key = std::pair<std::string, std::string>;

constexpr std::string_view kTransactionalEngines[] = {"InnoDB"};

RelationKind kind_of(std::string_view type) {
  if (type == "BASE TABLE" || type == "SYSTEM VERSIONED") return RelationKind::Table;
  if (type == "VIEW") return RelationKind::View;
  if (type == "SEQUENCE") return RelationKind::Sequence;
  return RelationKind::Other;
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// "on update current_timestamp()" (MariaDB) / "DEFAULT_GENERATED on update CURRENT_TIMESTAMP"
// (MySQL): the expression after "on update", else "".
std::string on_update_expression(const std::string& extra) {
  const std::string l = lower(extra);
  const auto at = l.find("on update ");
  if (at == std::string::npos) return {};
  return extra.substr(at + 10);
}

}  // namespace

bool mysql_transactional_engine(std::string_view engine) {
  return std::any_of(std::begin(kTransactionalEngines), std::end(kTransactionalEngines),
                     [&](std::string_view e) { return sql::mysql::iequals(engine, e); });
}

WalCatalog build_mysql_wal_catalog(const MysqlCatalogRows& rows, const sql::MysqlClassifierOptions& opts,
                                   std::vector<std::pair<std::string, std::string>>* notes) {
  WalCatalog out;
  const auto note = [&](const Key& k, std::string why) {
    if (notes) notes->emplace_back(k.first + "." + k.second, std::move(why));
  };
  for (const auto& f : rows.functions) out.user_function_names.insert(lower(f));
  for (const auto& t : rows.tables) {
    RelationFacts f;
    f.kind = kind_of(t.type);
    if (f.kind == RelationKind::Table) {
      f.transactional = mysql_transactional_engine(t.engine);
      f.read_only_ok = true;
      f.hooks_listed_only = true;
      if (!f.transactional) note({t.schema, t.name}, "engine " + t.engine + " is not transactional");
    }
    out.relations[{t.schema, t.name}] = f;
  }
  const auto facts = [&](const std::string& schema, const std::string& name) -> RelationFacts* {
    const auto it = out.relations.find(Key(schema, name));
    return it == out.relations.end() ? nullptr : &it->second;
  };
  const auto no_hooks = [&](const Key& k, RelationFacts& f, std::string why) {
    if (f.hooks_listed_only) note(k, std::move(why));
    f.hooks_listed_only = false;
  };
  if (!rows.triggers_visible) {
    for (auto& [k, f] : out.relations)
      if (f.kind == RelationKind::Table) no_hooks(k, f, "the metadata login cannot see triggers (no TRIGGER privilege)");
  }
  for (const auto& [schema, table] : rows.triggers)
    if (auto* f = facts(schema, table)) no_hooks({schema, table}, *f, "trigger");
  sql::MysqlClassifierOptions eo = opts;
  for (const auto& c : rows.columns) {
    RelationFacts* f = facts(c.schema, c.table);
    if (!f || f->kind != RelationKind::Table) continue;
    eo.current_database = c.schema;
    std::string why;
    const bool expression_default =
        c.has_default && (opts.server_is_mariadb || lower(c.extra).find("default_generated") != std::string::npos);
    if (expression_default && !mysql_expression_listed(c.column_default, eo, why))
      no_hooks({c.schema, c.table}, *f, "column default: " + why);
    if (const std::string on_update = on_update_expression(c.extra);
        !on_update.empty() && !mysql_expression_listed(on_update, eo, why))
      no_hooks({c.schema, c.table}, *f, "ON UPDATE: " + why);
    if (!c.generation.empty() && !mysql_expression_listed(c.generation, eo, why)) {
      no_hooks({c.schema, c.table}, *f, "generated column: " + why);
      f->read_only_ok = false;
    }
  }
  for (const auto& c : rows.checks) {
    RelationFacts* f = facts(c.schema, c.table);
    if (!f) continue;
    eo.current_database = c.schema;
    std::string why;
    if (!mysql_expression_listed(c.clause, eo, why)) no_hooks({c.schema, c.table}, *f, "CHECK: " + why);
  }
  ClassContext ctx;
  ctx.catalog = &out;
  std::vector<const MysqlWalViewRow*> pending;
  for (const auto& v : rows.views) {
    const RelationFacts* f = facts(v.schema, v.name);
    if (f && f->kind == RelationKind::View && !v.definition.empty() && v.definition.size() <= 1024 * 1024)
      pending.push_back(&v);
  }
  for (bool changed = true; changed && !pending.empty();) {
    changed = false;
    for (auto it = pending.begin(); it != pending.end();) {
      eo.current_database = (*it)->schema;
      ctx.default_schema = (*it)->schema;
      const MysqlWriteClasses c = mysql_write_classes((*it)->definition, eo, ctx);
      if (c.statements.size() == 1 && c.message.klass == WriteClass::ReadOnly) {
        facts((*it)->schema, (*it)->name)->read_only_ok = true;
        it = pending.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
  }
  return out;
}

}  // namespace segproxy::authz::wal
