// The policy engine: compiled per-segment rules evaluated against a StatementInfo.
// Semantics and precedence: policy_engine.hpp and docs/policy.md.
#include "authz/policy_engine.hpp"

#include <algorithm>
#include <atomic>

#include "authz/grants/grant_overlay.hpp"
#include "authz/identity_mapper.hpp"  // glob_match
#include "authz/sql/catalog_relations.hpp"

namespace segproxy::authz {
namespace {

using config::TableOperation;
using sql::StatementClass;

constexpr const char* kDenied = "42501";
constexpr const char* kSyntax = "42601";

bool has_glob(std::string_view p) { return p.find_first_of("*?") != std::string_view::npos; }

// exact name 2, partial glob 1, lone '*' 0.
int part_specificity(std::string_view p) { return p == "*" ? 0 : has_glob(p) ? 1 : 2; }
constexpr int kExactPattern = 2 * 3 + 2;  // both parts exact (see Pattern::specificity)

TableOperation to_operation(sql::TableOp op) {
  switch (op) {
    case sql::TableOp::Select: return TableOperation::Select;
    case sql::TableOp::Insert: return TableOperation::Insert;
    case sql::TableOp::Update: return TableOperation::Update;
    case sql::TableOp::Delete: return TableOperation::Delete;
    case sql::TableOp::Truncate: return TableOperation::Truncate;
    case sql::TableOp::CopyTo: return TableOperation::CopyTo;
    case sql::TableOp::CopyFrom: return TableOperation::CopyFrom;
    case sql::TableOp::References: return TableOperation::References;
    case sql::TableOp::Lock: return TableOperation::Lock;
    case sql::TableOp::Alter: return TableOperation::Alter;
    case sql::TableOp::Maintain: return TableOperation::Maintain;
  }
  return TableOperation::Alter;  // unreachable; the most privileged op fails closed
}

// The grant a statement class needs; nullopt for DML (judged by its tables) and for
// Forbidden/Unknown (never granted).
std::optional<config::StatementClassGrant> grant_for(StatementClass k) {
  using G = config::StatementClassGrant;
  switch (k) {
    case StatementClass::Transaction: return G::Transaction;
    case StatementClass::SessionSafe: return G::SessionSafe;
    case StatementClass::Ddl: return G::Ddl;
    case StatementClass::Admin: return G::Admin;
    case StatementClass::Procedural: return G::Procedural;
    case StatementClass::AnonymousCode: return G::AnonymousCode;
    case StatementClass::Notify: return G::Notify;
    case StatementClass::Prepare: return G::Prepare;
    case StatementClass::Cursor: return G::Cursor;
    case StatementClass::Explain: return G::Explain;
    case StatementClass::Dml:
    case StatementClass::Forbidden:
    case StatementClass::Unknown: break;
  }
  return std::nullopt;
}

// "may not <phrase>" for an operation on a table.
std::string op_phrase(TableOperation op, const std::string& table) {
  switch (op) {
    case TableOperation::Select: return "select from " + table;
    case TableOperation::Insert: return "insert into " + table;
    case TableOperation::Update: return "update " + table;
    case TableOperation::Delete: return "delete from " + table;
    case TableOperation::Truncate: return "truncate " + table;
    case TableOperation::CopyTo: return "copy data out of " + table;
    case TableOperation::CopyFrom: return "copy data into " + table;
    case TableOperation::References: return "reference " + table + " in a foreign key";
    case TableOperation::Lock: return "lock " + table;
    case TableOperation::Alter: return "alter " + table;
    case TableOperation::Maintain: return "run maintenance on " + table;
  }
  return "access " + table;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Decision deny(std::string rule_id, std::string reason, const char* sqlstate = kDenied) {
  return Decision{false, std::move(rule_id), std::move(reason), sqlstate};
}

std::uint64_t next_version() {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

// Function pattern "name" or "schema.name" against a call. `unqualified_schemas` are
// the schemas an unqualified call may resolve to for this purpose.
bool function_matches(std::string_view pattern, const sql::FunctionRef& f,
                      std::initializer_list<std::string_view> unqualified_schemas) {
  const auto dot = pattern.find('.');
  if (dot == std::string_view::npos) {
    if (!glob_match(pattern, f.name)) return false;
    if (f.schema.empty()) return true;
    return std::find(unqualified_schemas.begin(), unqualified_schemas.end(), f.schema) !=
           unqualified_schemas.end();
  }
  const std::string_view schema = pattern.substr(0, dot);
  if (!glob_match(pattern.substr(dot + 1), f.name)) return false;
  if (!f.schema.empty()) return glob_match(schema, f.schema);
  return std::any_of(unqualified_schemas.begin(), unqualified_schemas.end(),
                     [&](std::string_view s) { return glob_match(schema, s); });
}

// What reading through a view needs on every relation it reads: select for reads, the
// same operation for writes and locks (over-strict for auto-updatable views with
// subqueries); nothing for operations on the view object itself.
std::optional<TableOperation> op_through_view(TableOperation op) {
  switch (op) {
    case TableOperation::Select:
    case TableOperation::CopyTo: return TableOperation::Select;
    case TableOperation::Insert:
    case TableOperation::Update:
    case TableOperation::Delete:
    case TableOperation::Truncate:
    case TableOperation::CopyFrom:
    case TableOperation::Lock: return op;
    case TableOperation::References:
    case TableOperation::Alter:
    case TableOperation::Maintain: break;
  }
  return std::nullopt;
}

// An unqualified PostgreSQL name of a pg_catalog relation is reported twice by the
// classifier (pg_catalog and default_schema); it always means the catalog relation
// (pg_catalog is searched first unless search_path names it, which clients may not
// set), so the default_schema twin is not judged.
bool catalog_shadow(const sql::TableRef& t, const std::vector<sql::TableRef>& all) {
  if (t.mysql || t.schema_given || t.schema == "pg_catalog" || !sql::is_pg_catalog_relation(t.name)) {
    return false;
  }
  return std::any_of(all.begin(), all.end(), [&](const sql::TableRef& o) {
    return !o.mysql && !o.schema_given && o.schema == "pg_catalog" && o.name == t.name && o.op == t.op;
  });
}

RelationName relation_of(std::string_view pattern, const std::string& default_schema) {
  const auto dot = pattern.find('.');
  if (dot == std::string_view::npos) return RelationName{default_schema, std::string(pattern)};
  return RelationName{std::string(pattern.substr(0, dot)), std::string(pattern.substr(dot + 1))};
}

std::string function_display(const sql::FunctionRef& f) {
  return f.schema.empty() ? f.name : f.schema + "." + f.name;
}

}  // namespace

PolicyEngine::PolicyEngine(const config::Config& cfg) : version_(next_version()) {
  ZoneCache zones(cfg.zoneinfo_dir);
  for (const auto& [name, seg] : cfg.segments) {
    Segment s{name, seg.policy, WindowSet(seg.policy.windows, zones), {}, seg.databases, {}};
    for (const auto& [view, refs] : seg.policy.views) {
      std::vector<RelationName> rels;
      for (const auto& r : refs) rels.push_back(relation_of(r, seg.policy.default_schema));
      s.pins.set_reads(relation_of(view, seg.policy.default_schema), std::move(rels));
    }
    const bool shadow_mode = seg.policy.mode == config::PolicyMode::Shadow;
    std::vector<Rule> all;
    for (const auto& r : seg.policy.rules) {
      Rule rule{r.id, {}, r.allow, r.deny};
      for (const auto& t : r.tables) {
        const auto dot = t.find('.');
        Pattern p;
        p.schema = dot == std::string::npos ? seg.policy.default_schema : t.substr(0, dot);
        p.table = dot == std::string::npos ? t : t.substr(dot + 1);
        p.specificity = part_specificity(p.table) * 3 + part_specificity(p.schema);
        rule.patterns.push_back(std::move(p));
      }
      if (!r.shadow || shadow_mode) s.rules.push_back(rule);  // shadow rules decide nothing
      all.push_back(std::move(rule));
    }
    if (all.size() != s.rules.size()) {  // enforce mode with shadow rules: judged apart
      auto candidate = std::make_shared<Segment>(s);
      candidate->rules = std::move(all);
      s.candidate = std::move(candidate);
    }
    segments_.emplace(name, std::move(s));
  }
}

void PolicyEngine::set_views(const std::string& database,
                             std::shared_ptr<const ViewCatalog> catalog) const {
  const std::lock_guard<std::mutex> lock(views_write_);
  auto next = std::make_shared<ViewMap>(*views_.load(std::memory_order_acquire));
  if (catalog) (*next)[database] = std::move(catalog);
  else next->erase(database);
  views_.store(std::move(next), std::memory_order_release);
  views_version_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const ViewCatalog> PolicyEngine::views(const std::string& database) const {
  const auto map = views_.load(std::memory_order_acquire);
  const auto it = map->find(database);
  return it == map->end() ? nullptr : it->second;
}

const PolicyEngine::Segment* PolicyEngine::find(const std::string& segment) const {
  const auto it = segments_.find(segment);
  return it == segments_.end() ? nullptr : &it->second;
}

const config::SegmentPolicy* PolicyEngine::policy(const std::string& segment) const {
  const Segment* s = find(segment);
  return s ? &s->policy : nullptr;
}

Decision PolicyEngine::check_window(const std::string& segment, time_point now) const {
  const Segment* s = find(segment);
  if (s == nullptr) return deny("", "segproxy: unknown segment " + quoted(segment));
  if (s->windows.contains(now)) return Decision{true, "", "", ""};
  const auto next = s->windows.next_opening(now);
  return deny(segment + ".windows",
              "segproxy: segment " + quoted(segment) + " is outside its access windows (" +
                  (next ? "next opening: " + s->windows.describe(*next) : "no future opening") +
                  ")");
}

std::optional<PolicyEngine::time_point> PolicyEngine::window_end(const std::string& segment,
                                                                 time_point now) const {
  const Segment* s = find(segment);
  return s ? s->windows.current_window_end(now) : std::nullopt;
}

PolicyEngine::TableVerdict PolicyEngine::check_table(const Segment& s, const sql::TableRef& t,
                                                     TableOperation op) const {
  using sql::CatalogKind;
  const config::OperationSet bit = config::op_bit(op);
  // System schemas (docs/policy.md "System catalogs"): a pattern with a glob never
  // grants their relations (it still denies); value and credential catalogs are never
  // granted; `catalog: metadata` grants select on the built-in metadata list.
  const CatalogKind kind =
      t.mysql ? sql::mysql_catalog_kind(t.schema, t.name) : sql::pg_catalog_kind(t.schema, t.name);
  const bool system = kind != CatalogKind::NotSystem;
  int best = -1;
  std::vector<const Rule*> most_specific;
  for (const Rule& rule : s.rules) {
    int spec = -1;
    bool hit = false;
    for (const Pattern& p : rule.patterns) {
      if (glob_match(p.schema, t.schema) && glob_match(p.table, t.name)) {
        hit = true;
        if (p.specificity > spec && (!system || p.specificity == kExactPattern)) spec = p.specificity;
      }
    }
    if (!hit) continue;
    if ((rule.deny & bit) != 0) return TableVerdict{false, &rule};  // explicit deny wins
    if (spec < 0) continue;  // only a wildcard reached a system relation: no grant
    if (rule.allow == 0) continue;  // deny-only rules take no part in choosing the grant
    if (spec > best) {
      best = spec;
      most_specific.clear();
    }
    if (spec == best) most_specific.push_back(&rule);
  }
  if (kind == CatalogKind::Values) {
    return TableVerdict{false, nullptr, true, " (it exposes other relations' values: never granted)", true};
  }
  if (kind == CatalogKind::Credentials) {
    return TableVerdict{false, nullptr, true, " (it holds credentials: never granted)", true};
  }
  for (const Rule* rule : most_specific) {
    // LOCK TABLE needs any grant on the table.
    if ((rule->allow & bit) != 0 || op == TableOperation::Lock) return TableVerdict{true, rule};
  }
  if (kind == CatalogKind::Metadata && op == TableOperation::Select &&
      s.policy.catalog == config::CatalogAccess::Metadata) {
    return TableVerdict{true, nullptr, true};
  }
  if (!most_specific.empty()) return TableVerdict{false, most_specific.front()};
  if (kind == CatalogKind::Metadata) {
    return TableVerdict{false, nullptr, true,
                        op == TableOperation::Select
                            ? " (a system catalog: `catalog: metadata` grants reading it, wildcards never do)"
                            : " (a system catalog: `catalog: metadata` grants select only)"};
  }
  if (kind == CatalogKind::Other) {
    return TableVerdict{false, nullptr, true,
                        " (a system relation outside the metadata list: only a rule naming it exactly grants it)"};
  }
  return TableVerdict{false, nullptr};
}

PolicyEngine::TableVerdict PolicyEngine::check_whole_schema(const Segment& s, const std::string& schema,
                                                            TableOperation op) const {
  // Every relation of `schema` ("*": of every schema) must be granted `op`: no rule that
  // can match any of them may deny it, every rule that can match one and grants anything
  // must grant it (it may be the most specific rule for some relation), and one granting
  // rule must cover the whole scope (so no relation falls to the default deny).
  const config::OperationSet bit = config::op_bit(op);
  const bool every_schema = schema == "*";
  const Rule* covering = nullptr;
  for (const Rule& rule : s.rules) {
    bool overlaps = false, covers = false;
    for (const Pattern& p : rule.patterns) {
      const bool schema_hit = every_schema || glob_match(p.schema, schema);
      overlaps = overlaps || schema_hit;
      covers = covers || (schema_hit && p.table == "*" && (!every_schema || p.schema == "*"));
    }
    if (!overlaps) continue;
    if ((rule.deny & bit) != 0) return TableVerdict{false, &rule};
    if (rule.allow == 0) continue;
    if ((rule.allow & bit) == 0) return TableVerdict{false, &rule};
    if (covers && covering == nullptr) covering = &rule;
  }
  return TableVerdict{covering != nullptr, covering};
}

std::optional<Decision> PolicyEngine::check_function(const Segment& s,
                                                     const sql::FunctionRef& f) const {
  const std::string& seg = s.name;
  const std::string shown = function_display(f);
  if (f.mysql) {  // MySQL dialect: its own built-ins; deny list, then allow list
    const auto not_allowed = [&](std::string rule_id) {
      return deny(std::move(rule_id), "segproxy: function " + shown + " is not allowed for segment " + quoted(seg));
    };
    for (const auto& p : s.policy.functions.deny) {
      const auto dot = p.find('.');
      const bool hit = dot == std::string::npos
                           ? glob_match(p, f.name)
                           : glob_match(std::string_view(p).substr(dot + 1), f.name) &&
                                 (f.schema.empty() || glob_match(std::string_view(p).substr(0, dot), f.schema));
      if (hit) return not_allowed(seg + ".functions.deny");
    }
    if (f.schema.empty() && is_safe_mysql_builtin_function(f.name)) return std::nullopt;
    for (const auto& p : s.policy.functions.allow) {
      if (function_matches(p, f, {s.policy.default_schema})) return std::nullopt;
    }
    return not_allowed(seg + ".functions");
  }
  const bool catalog = f.schema.empty() || f.schema == "pg_catalog";
  const auto not_allowed = [&](std::string rule_id, const std::string& why) {
    return deny(std::move(rule_id), "segproxy: function " + shown + " is not allowed for segment " +
                                        quoted(seg) + why);
  };
  // set_config: only the empty search_path, with constant arguments (the classifier
  // forbids every other call; checked again here).
  const auto& a = f.constant_args;
  const bool empty_search_path = catalog && f.name == "set_config" && a.size() == 3 &&
                                 a[0] == "search_path" && a[1].empty() && (a[2] == "true" || a[2] == "false");
  if (catalog && f.name == "set_config" && !empty_search_path) {
    Decision d = not_allowed(seg + ".functions", a.empty() ? " (never)"
                                                           : " (never, except set_config('search_path', '', ...))");
    d.absolute = true;
    return d;
  }
  const std::string_view ds = s.policy.default_schema;
  for (const auto& p : s.policy.functions.deny) {
    // A bare deny covers the name in every schema; a qualified one also covers an
    // unqualified call (it may resolve to that schema).
    const auto dot = p.find('.');
    const bool hit = dot == std::string::npos
                         ? glob_match(p, f.name)
                         : glob_match(std::string_view(p).substr(dot + 1), f.name) &&
                               (f.schema.empty() || glob_match(std::string_view(p).substr(0, dot), f.schema));
    if (hit) {
      Decision d = not_allowed(seg + ".functions.deny", "");
      d.absolute = is_opaque_function(f.name);  // server files, remote SQL: never shadowed
      return d;
    }
  }
  if (catalog && is_large_object_function(f.name) &&
      (s.policy.statements & config::class_bit(config::StatementClassGrant::LargeObjects)) != 0) {
    return std::nullopt;  // large objects live outside table ACLs: granted as a class
  }
  if (empty_search_path) return std::nullopt;
  // information_schema's own helpers (pgjdbc's getPrimaryKeys calls _pg_expandarray).
  if (f.schema == "information_schema" && is_safe_information_schema_function(f.name)) return std::nullopt;
  if (is_opaque_function(f.name)) {
    for (const auto& p : s.policy.functions.allow) {
      if (!has_glob(p) && function_matches(p, f, {ds, "pg_catalog"})) return std::nullopt;
    }
    // Absolute: server files, remote SQL, relations named by text are never shadowed.
    Decision d = not_allowed(seg + ".functions", " (its arguments name what it reads; list it in functions.allow)");
    d.absolute = true;
    return d;
  }
  if (catalog && f.name == "pg_notify") {
    if ((s.policy.statements & config::class_bit(config::StatementClassGrant::Notify)) != 0) {
      return std::nullopt;
    }
  } else if (catalog && is_safe_builtin_function(f.name)) {
    return std::nullopt;
  }
  for (const auto& p : s.policy.functions.allow) {
    if (function_matches(p, f, {ds, "pg_catalog"})) return std::nullopt;
  }
  return not_allowed(seg + ".functions", "");
}

std::optional<Decision> PolicyEngine::check_part(const Segment& s,
                                                 const sql::StatementPart& part,
                                                 const ViewCatalog::ReadsFn& view_reads,
                                                 std::vector<std::string>& rule_ids,
                                                 std::optional<Decision>* lifted,
                                                 GrantOverlay* grants) const {
  const std::string& seg = s.name;
  const std::string command = part.command.empty() ? "statement" : part.command;
  // A refusal: returned, or in shadow mode (lifted) kept aside while judging goes on.
  const auto refuse = [lifted](Decision d) -> std::optional<Decision> {
    if (lifted == nullptr || d.absolute) return d;
    if (!*lifted) *lifted = std::move(d);
    return std::nullopt;
  };
  const auto never = [](Decision d) {
    d.absolute = true;
    return d;
  };
  if (part.klass == StatementClass::Forbidden || part.klass == StatementClass::Unknown) {
    std::string why = part.forbidden_reason;
    if (why.empty()) {
      why = part.klass == StatementClass::Unknown ? "not understood by the classifier"
                                                   : "never allowed";
    }
    return never(deny("", "segproxy: " + command + " is not allowed: " + why));
  }
  if (const auto grant = grant_for(part.klass)) {
    if ((s.policy.statements & config::class_bit(*grant)) == 0 &&
        (grants == nullptr || grants->statement_class(*grant) == nullptr)) {
      if (auto d = refuse(deny(seg + ".statements",
                  "segproxy: segment " + quoted(seg) + " may not run " +
                      config::kStatementClassNames[static_cast<std::size_t>(*grant)] + " (" +
                      command + ")"))) {
        return d;
      }
    }
  }
  const auto judge = [&](const sql::TableRef& t, TableOperation op,
                         const std::string& phrase) -> std::optional<Decision> {
    const TableVerdict v = check_table(s, t, op);
    std::string id = v.rule ? v.rule->id : v.catalog ? seg + ".catalog" : "";
    const Grant* granted = v.allow || grants == nullptr ? nullptr : grants->table(s.policy.default_schema, t, op);
    if (granted != nullptr) id = "grant:" + granted->id;
    if (!v.allow && granted == nullptr) {
      Decision d = deny(id, "segproxy: segment " + quoted(seg) + " may not " + phrase + v.note);
      d.absolute = v.absolute;
      return refuse(std::move(d));
    }
    if (std::find(rule_ids.begin(), rule_ids.end(), id) == rule_ids.end()) rule_ids.push_back(id);
    return std::nullopt;
  };
  // The relation itself, then, when it is a view, every relation it reads (recursively).
  const auto access = [&](const sql::TableRef& t, TableOperation op,
                          const std::string& phrase) -> std::optional<Decision> {
    if (auto d = judge(t, op, phrase)) return d;
    const auto through = op_through_view(op);
    const RelationName view{t.schema, t.name};
    std::vector<RelationName> direct;
    if (!through || !view_reads(view, direct)) return std::nullopt;  // not a view
    const auto ex = ViewCatalog::expand(view, view_reads);
    if (!ex.ok) {
      return never(deny(seg + ".views", "segproxy: segment " + quoted(seg) + " may not " + phrase +
                                            ": " + ex.error));
    }
    for (const RelationName& r : ex.relations) {
      sql::TableRef base{r.schema, r.name, true, t.op};
      base.mysql = t.mysql;
      if (auto d = judge(base, *through, op_phrase(*through, r.display()) + " (read by view " +
                                             view.display() + ")")) {
        return d;
      }
    }
    return std::nullopt;
  };
  if (part.opaque_code &&
      (s.policy.statements & config::class_bit(config::StatementClassGrant::AnonymousCode)) == 0 &&
      (grants == nullptr || grants->statement_class(config::StatementClassGrant::AnonymousCode) == nullptr)) {
    if (auto d = refuse(deny(seg + ".statements", "segproxy: segment " + quoted(seg) +
                                                      " may not run anonymous_code (" + command +
                                                      " has a body segproxy cannot inspect)"))) {
      return d;
    }
  }
  for (const sql::TableRef& t : part.tables) {
    if (catalog_shadow(t, part.tables)) continue;
    const std::string name = t.schema + "." + t.name;
    const TableOperation op = to_operation(t.op);
    if (t.mysql && op == TableOperation::Alter &&
        std::find(s.databases.begin(), s.databases.end(), t.schema) == s.databases.end()) {
      return never(deny("", "segproxy: segment " + quoted(seg) + " may not " + op_phrase(op, name) +
                                ": database " + quoted(t.schema) + " is not one of the segment's databases"));
    }
    if (t.whole_schema) {  // DROP/RENAME/OWNER TO of a schema or database
      const std::string scope = t.schema == "*" ? "every relation of the database"
                                                : "every relation in schema " + t.schema;
      const TableVerdict v = check_whole_schema(s, t.schema, op);
      if (!v.allow) {
        if (auto d = refuse(deny(v.rule ? v.rule->id : "", "segproxy: segment " + quoted(seg) + " may not " +
                                                                op_phrase(op, scope) + " (" + command +
                                                                " acts on all of them)"))) {
          return d;
        }
        continue;
      }
      if (std::find(rule_ids.begin(), rule_ids.end(), v.rule->id) == rule_ids.end()) {
        rule_ids.push_back(v.rule->id);
      }
      continue;
    }
    if (auto d = access(t, op, op_phrase(op, name))) return d;
    // SELECT ... FOR UPDATE/SHARE locks rows: PostgreSQL requires UPDATE privilege too.
    // Unless the classifier names the locked relations, every read table needs it.
    if (part.locks_rows && !part.row_locks_exact && op == TableOperation::Select) {
      if (auto d = access(t, TableOperation::Update,
                          "lock rows of " + name + " (SELECT ... FOR UPDATE/SHARE needs update)")) {
        return d;
      }
    }
  }
  if (part.locks_rows && part.row_locks_exact) {  // FOR UPDATE OF <named FROM items>
    for (const sql::TableRef& t : part.row_locks) {
      if (catalog_shadow(t, part.row_locks)) continue;
      const std::string name = t.schema + "." + t.name;
      if (auto d = access(t, TableOperation::Update,
                          "lock rows of " + name + " (SELECT ... FOR UPDATE/SHARE needs update)")) {
        return d;
      }
    }
  }
  for (const sql::FunctionRef& f : part.functions) {
    if (auto d = check_function(s, f)) {
      if (auto r = refuse(std::move(*d))) return r;
    }
  }
  return std::nullopt;
}

Decision PolicyEngine::evaluate(const std::string& segment, const sql::StatementInfo& info,
                                time_point now, const std::string& database, Windows windows) const {
  return evaluate_with(segment, info, now, database, windows, nullptr);
}

Decision PolicyEngine::evaluate_with(const std::string& segment, const sql::StatementInfo& info,
                                     time_point now, const std::string& database, Windows windows,
                                     GrantOverlay* grants) const {
  if (windows == Windows::Check || find(segment) == nullptr) {
    Decision window = check_window(segment, now);  // also refuses an unknown segment
    if (!window.allow) return window;
  }
  const Segment& s = *find(segment);
  if (!info.parse_ok) {
    return deny("", info.parse_error.empty() ? "syntax error" : info.parse_error,
                info.parse_error_sqlstate.empty() ? kSyntax : info.parse_error_sqlstate.c_str());
  }
  // Views: the segment's pins replace what the catalog(s) say about a view.
  const auto learned = views_.load(std::memory_order_acquire);  // kept alive for this call
  std::vector<const ViewCatalog*> catalogs;
  const auto use = [&](const std::string& db) {
    const auto it = learned->find(db);
    if (it != learned->end() && it->second) catalogs.push_back(it->second.get());
  };
  if (!database.empty()) use(database);
  else for (const auto& db : s.databases) use(db);
  const ViewCatalog::ReadsFn view_reads = [&](const RelationName& v, std::vector<RelationName>& out) {
    if (const auto* pinned = s.pins.reads(v)) {
      out.insert(out.end(), pinned->begin(), pinned->end());
      return true;
    }
    bool found = false;
    for (const ViewCatalog* c : catalogs) {
      if (const auto* r = c->reads(v)) {
        out.insert(out.end(), r->begin(), r->end());
        found = true;
      }
    }
    return found;
  };
  return judge_with_shadow(s, info, view_reads, grants);
}

Decision PolicyEngine::judge_parts(const Segment& s, const sql::StatementInfo& info,
                                   const ViewCatalog::ReadsFn& view_reads, std::optional<Decision>* lifted,
                                   GrantOverlay* grants) const {
  std::vector<std::string> rule_ids;
  for (const sql::StatementPart& part : info.statements) {
    if (auto d = check_part(s, part, view_reads, rule_ids, lifted, grants)) return std::move(*d);
  }
  Decision ok{true, "", "", ""};
  for (const auto& id : rule_ids) ok.rule_id += (ok.rule_id.empty() ? "" : ",") + id;
  ok.reason = rule_ids.empty() ? "allowed (no table access)" : "allowed by " + ok.rule_id;
  return ok;
}

}  // namespace segproxy::authz
