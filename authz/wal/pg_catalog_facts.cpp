// PostgreSQL catalog rows -> WalCatalog (pg_catalog_facts.hpp).
#include "authz/wal/pg_catalog_facts.hpp"

#include <map>
#include <set>

#include "authz/wal/expression_judge.hpp"
#include "authz/wal/pg_write_class.hpp"

namespace segproxy::authz::wal {
namespace {

using Key = std::pair<std::string, std::string>;

RelationKind kind_of(char relkind) {
  switch (relkind) {
    case 'r':
    case 'p': return RelationKind::Table;
    case 'v': return RelationKind::View;
    case 'm': return RelationKind::MaterializedView;
    case 'f': return RelationKind::Foreign;
    case 'S': return RelationKind::Sequence;
    default: return RelationKind::Other;
  }
}

const char* expression_what(PgExpressionKind k) {
  switch (k) {
    case PgExpressionKind::Default: return "column default";
    case PgExpressionKind::Check: return "CHECK constraint";
    case PgExpressionKind::Index: return "index expression";
    case PgExpressionKind::IndexPredicate: return "index predicate";
    case PgExpressionKind::DomainCheck: return "domain constraint";
    case PgExpressionKind::Policy: return "row-level security policy";
  }
  return "expression";
}

class Builder {
 public:
  Builder(const PgCatalogRows& rows, PgFactNotes* notes) : rows_(rows), notes_(notes) {}

  WalCatalog run() {
    names_.user_function_names.insert(rows_.user_functions.begin(), rows_.user_functions.end());
    names_.user_operator_names.insert(rows_.user_operators.begin(), rows_.user_operators.end());
    names_.attribute_functions.insert(rows_.attribute_functions.begin(), rows_.attribute_functions.end());
    out_.user_function_names = names_.user_function_names;
    out_.user_operator_names = names_.user_operator_names;
    out_.attribute_functions = names_.attribute_functions;
    for (const auto& r : rows_.relations) relation(r);
    for (const auto& e : rows_.expressions) expression(e);
    propagate();
    views();
    shadow_temporary();
    return std::move(out_);
  }

 private:
  void note(const Key& k, std::string why) {
    if (notes_) notes_->not_contained.emplace_back(k.first + "." + k.second, std::move(why));
  }

  RelationFacts* find(const std::string& schema, const std::string& name) {
    const auto it = out_.relations.find(Key(schema, name));
    return it == out_.relations.end() ? nullptr : &it->second;
  }

  void no_hooks(const Key& k, RelationFacts& f, std::string why) {
    if (f.hooks_listed_only) note(k, why);
    f.hooks_listed_only = false;
  }

  void relation(const PgRelationRow& r) {
    const Key k(r.schema, r.name);
    RelationFacts f;
    f.kind = kind_of(r.relkind);
    if (f.kind == RelationKind::Table) {
      f.transactional = true;
      f.read_only_ok = !r.user_type_column;
      f.hooks_listed_only = true;
      if (r.user_trigger) no_hooks(k, f, "trigger");
      else if (r.rule) no_hooks(k, f, "rule");
      else if (r.user_write_type_column) no_hooks(k, f, "column of a user-defined type");
      else if (r.user_index_opclass) no_hooks(k, f, "index operator class outside pg_catalog");
      else if (r.user_exclusion_operator) no_hooks(k, f, "exclusion operator outside pg_catalog");
      if (r.row_security) row_security_.insert(k);
    } else if (f.kind == RelationKind::MaterializedView) {
      f.read_only_ok = !r.user_type_column;
    } else if (f.kind == RelationKind::View) {
      if (r.user_type_column) user_type_views_.insert(k);
    }
    if (r.schema.rfind("pg_temp_", 0) == 0) temporary_.insert(r.name);
    out_.relations[k] = f;
  }

  void expression(const PgExpressionRow& e) {
    const Key k(e.schema, e.name);
    RelationFacts* f = find(e.schema, e.name);
    if (!f) return;
    if (e.kind == PgExpressionKind::Policy && !row_security_.count(k)) return;  // not applied
    std::string why;
    const bool ok = e.kind == PgExpressionKind::Default ? pg_default_listed(e.text, names_, why)
                                                        : pg_expression_listed(e.text, names_, why);
    if (ok) return;
    no_hooks(k, *f, std::string(expression_what(e.kind)) + ": " + why);
    if (e.kind == PgExpressionKind::Policy) f->read_only_ok = false;
  }

  // Foreign-key actions and inheritance: until nothing changes.
  void propagate() {
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& e : rows_.fk_actions) {
        RelationFacts* from = find(e.from_schema, e.from_name);
        const RelationFacts* to = find(e.to_schema, e.to_name);
        if (!from || !from->hooks_listed_only) continue;
        if (!to || !to->hooks_listed_only || !to->transactional) {
          no_hooks(Key(e.from_schema, e.from_name), *from,
                   "foreign-key action writes " + e.to_schema + "." + e.to_name);
          changed = true;
        }
      }
      for (const auto& e : rows_.inherits) {
        RelationFacts* parent = find(e.from_schema, e.from_name);
        const RelationFacts* child = find(e.to_schema, e.to_name);
        if (!parent) continue;
        const RelationFacts none;
        const RelationFacts& c = child ? *child : none;
        const bool tx = parent->transactional && c.transactional && c.kind == RelationKind::Table;
        const bool hooks = parent->hooks_listed_only && c.hooks_listed_only;
        const bool ro = parent->read_only_ok && c.read_only_ok && c.kind == RelationKind::Table;
        if (tx == parent->transactional && hooks == parent->hooks_listed_only && ro == parent->read_only_ok) continue;
        if (!hooks && parent->hooks_listed_only)
          note(Key(e.from_schema, e.from_name), "child or partition " + e.to_schema + "." + e.to_name);
        parent->transactional = tx;
        parent->hooks_listed_only = hooks;
        parent->read_only_ok = ro;
        changed = true;
      }
    }
  }

  // Views over the relations judged so far, until nothing changes (views of views).
  void views() {
    ClassContext ctx;
    ctx.catalog = &out_;
    ctx.default_schema = "pg_catalog";
    std::vector<const PgViewRow*> pending;
    for (const auto& v : rows_.views) {
      const RelationFacts* f = find(v.schema, v.name);
      if (f && f->kind == RelationKind::View && !user_type_views_.count(Key(v.schema, v.name)) &&
          v.definition.size() <= kMaxViewDefinition)
        pending.push_back(&v);
    }
    for (bool changed = true; changed && !pending.empty();) {
      changed = false;
      for (auto it = pending.begin(); it != pending.end();) {
        const PgWriteClasses c = pg_write_classes((*it)->definition, ctx);
        if (c.parse_ok && c.statements.size() == 1 && c.message.klass == WriteClass::ReadOnly) {
          find((*it)->schema, (*it)->name)->read_only_ok = true;
          it = pending.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
    }
  }

  void shadow_temporary() {
    for (auto& [k, f] : out_.relations) {
      if (!temporary_.count(k.second)) continue;
      if (f.hooks_listed_only || f.read_only_ok) note(k, "a temporary relation of the same name may shadow it");
      f.transactional = false;
      f.read_only_ok = false;
      f.hooks_listed_only = false;
    }
  }

  static constexpr std::size_t kMaxViewDefinition = 1024 * 1024;

  const PgCatalogRows& rows_;
  PgFactNotes* notes_;
  WalCatalog names_;  // the user-defined names only (no relation): expressions read nothing
  WalCatalog out_;
  std::set<Key> row_security_;
  std::set<Key> user_type_views_;
  std::set<std::string> temporary_;
};

}  // namespace

WalCatalog build_pg_wal_catalog(const PgCatalogRows& rows, PgFactNotes* notes) {
  return Builder(rows, notes).run();
}

}  // namespace segproxy::authz::wal
