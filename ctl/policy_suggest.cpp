// segproxyctl policy suggest (see policy_replay.hpp; docs/policy.md "Suggestions"): the
// least-privilege policy that allows what a segment ran, from its allowed statement
// records, re-classified by the classifiers the proxy uses.
#include <array>
#include <charconv>
#include <map>
#include <set>

#include "authz/policy_engine.hpp"
#include "authz/sql/catalog_relations.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "authz/sql/pg_fastpath.hpp"
#include "config/loader.hpp"
#include "ctl/audit_statements.hpp"
#include "ctl/policy.hpp"
#include "ctl/policy_replay.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace sql = authz::sql;
using config::StatementClassGrant;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr std::string_view kFastPath = "-- fast-path function call: OID ";

// The grant a statement class needs (policy_engine.cpp grant_for); nullopt for DML.
std::optional<StatementClassGrant> grant_for(sql::StatementClass k) {
  switch (k) {
    case sql::StatementClass::Transaction: return StatementClassGrant::Transaction;
    case sql::StatementClass::SessionSafe: return StatementClassGrant::SessionSafe;
    case sql::StatementClass::Ddl: return StatementClassGrant::Ddl;
    case sql::StatementClass::Admin: return StatementClassGrant::Admin;
    case sql::StatementClass::Procedural: return StatementClassGrant::Procedural;
    case sql::StatementClass::AnonymousCode: return StatementClassGrant::AnonymousCode;
    case sql::StatementClass::Notify: return StatementClassGrant::Notify;
    case sql::StatementClass::Prepare: return StatementClassGrant::Prepare;
    case sql::StatementClass::Cursor: return StatementClassGrant::Cursor;
    case sql::StatementClass::Explain: return StatementClassGrant::Explain;
    default: break;
  }
  return std::nullopt;
}

struct Suggestion {
  std::uint64_t statements = 0;  // allowed records used
  std::uint64_t shadow = 0;      // of which shadow denials
  std::uint64_t not_classified = 0;
  std::string first_ts, last_ts;
  // "schema.table" -> per-operation counts
  std::map<std::string, std::array<std::uint64_t, config::kTableOperationCount>> tables;
  std::array<std::uint64_t, config::kStatementClassCount> classes{};
  std::map<std::string, std::uint64_t> functions;  // patterns for functions.allow
  std::uint64_t catalog_reads = 0;                 // metadata catalogs: `catalog: metadata`
};

std::string yq(std::string_view s) { return "\"" + json_escape(s) + "\""; }  // a YAML double-quoted scalar

// The engine's twin rule (policy_engine.cpp catalog_shadow): an unqualified pg_catalog
// relation is also reported in default_schema; only the catalog one is judged.
bool catalog_twin(const sql::TableRef& t, const std::vector<sql::TableRef>& all) {
  if (t.mysql || t.schema_given || t.schema == "pg_catalog" || !sql::is_pg_catalog_relation(t.name)) return false;
  for (const auto& o : all) {
    if (!o.mysql && !o.schema_given && o.schema == "pg_catalog" && o.name == t.name && o.op == t.op) return true;
  }
  return false;
}

void add_table(Suggestion& s, const sql::TableRef& t, sql::TableOp op) {
  const auto kind = t.mysql ? sql::mysql_catalog_kind(t.schema, t.name) : sql::pg_catalog_kind(t.schema, t.name);
  if (kind == sql::CatalogKind::Metadata && op == sql::TableOp::Select) {
    ++s.catalog_reads;
    return;
  }
  const std::string name = t.whole_schema ? t.schema + ".*" : t.schema + "." + t.name;
  ++s.tables[name][static_cast<std::size_t>(op)];
}

void add_function(Suggestion& s, const sql::FunctionRef& f, const std::string& default_schema) {
  const bool catalog = f.schema.empty() || f.schema == "pg_catalog";
  if (f.mysql) {
    if (f.schema.empty() && authz::is_safe_mysql_builtin_function(f.name)) return;
    ++s.functions[f.schema.empty() ? f.name : f.schema + "." + f.name];
    return;
  }
  if (catalog && f.name == "set_config") return;  // only the empty search_path passes, always
  if (catalog && f.name == "pg_notify") {
    ++s.classes[static_cast<std::size_t>(StatementClassGrant::Notify)];
    return;
  }
  if (catalog && authz::is_large_object_function(f.name)) {
    ++s.classes[static_cast<std::size_t>(StatementClassGrant::LargeObjects)];
    return;
  }
  if (catalog && authz::is_safe_builtin_function(f.name) && !authz::is_opaque_function(f.name)) return;
  if (f.schema == "information_schema" && authz::is_safe_information_schema_function(f.name)) return;
  // Qualified, no glob: also what an opaque function needs. Unqualified calls resolve in
  // default_schema or pg_catalog for the engine.
  ++s.functions[(f.schema.empty() ? (catalog && authz::is_opaque_function(f.name) ? std::string("pg_catalog")
                                                                                  : default_schema)
                                  : f.schema) +
                "." + f.name];
}

void add_info(Suggestion& s, const sql::StatementInfo& info, const std::string& default_schema) {
  for (const auto& part : info.statements) {
    if (const auto g = grant_for(part.klass)) ++s.classes[static_cast<std::size_t>(*g)];
    if (part.opaque_code) ++s.classes[static_cast<std::size_t>(StatementClassGrant::AnonymousCode)];
    for (const auto& t : part.tables) {
      if (catalog_twin(t, part.tables)) continue;
      add_table(s, t, t.op);
      if (part.locks_rows && !part.row_locks_exact && t.op == sql::TableOp::Select) {
        add_table(s, t, sql::TableOp::Update);
      }
    }
    if (part.locks_rows && part.row_locks_exact) {
      for (const auto& t : part.row_locks) {
        if (!catalog_twin(t, part.row_locks)) add_table(s, t, sql::TableOp::Update);
      }
    }
    for (const auto& f : part.functions) add_function(s, f, default_schema);
  }
}

// The record's statement classified as the proxy did (nullopt: it no longer parses).
std::optional<sql::StatementInfo> classify(const audit::AuditRecord& r, const std::string& default_schema,
                                           const config::LimitsConfig& limits) {
  const sql::StatementLimits lim{limits.max_statement_length, limits.max_statements_per_message,
                                 limits.max_parse_depth, limits.max_statement_tokens};
  if (r.protocol == "mysql") {
    sql::MysqlClassifierOptions o;
    o.current_database = r.database;
    o.limits = lim;
    auto info = sql::classify_mysql(r.statement, o);
    return info.parse_ok ? std::optional(std::move(info)) : std::nullopt;
  }
  const std::string_view text = r.statement;
  if (text.substr(0, kFastPath.size()) == kFastPath) {
    std::int32_t oid = 0;
    const std::string_view d = text.substr(kFastPath.size());
    if (std::from_chars(d.data(), d.data() + d.size(), oid).ec != std::errc()) return std::nullopt;
    return sql::classify_pg_function_call(oid);
  }
  sql::ClassifierOptions o;
  o.default_schema = default_schema;
  o.limits = lim;
  for (const std::string& form : reparseable_statements(text, "postgresql")) {  // first that parses
    auto info = sql::classify_pg(form, o);
    if (info.parse_ok) return info;
  }
  return std::nullopt;
}

void print_yaml(std::ostream& out, const std::string& segment, const Suggestion& s) {
  out << "# segproxyctl policy suggest --segment " << segment << "\n"
      << "# from " << s.statements << " allowed statement(s) of segment " << yq(segment) << " (" << s.shadow
      << " of them shadow denials)";
  if (!s.first_ts.empty()) out << ", " << s.first_ts << " .. " << s.last_ts;
  out << "\n# not classified (no text, truncated, or no longer parses): " << s.not_classified << "\n"
      << "# keys of segments." << segment << " (they replace its catalog, rules, statements and functions)\n";
  if (s.catalog_reads > 0) out << "catalog: metadata  # " << s.catalog_reads << " system catalog read(s)\n";
  out << "rules:" << (s.tables.empty() ? " []" : "") << "\n";
  for (const auto& [table, ops] : s.tables) {
    std::string allow, counts;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i] == 0) continue;
      allow += (allow.empty() ? "" : ", ") + std::string(config::kTableOperationNames[i]);
      counts += (counts.empty() ? "" : ", ") + std::string(config::kTableOperationNames[i]) + ": " +
                std::to_string(ops[i]);
    }
    out << "  - id: " << yq("suggested:" + table) << "\n"
        << "    tables: [" << yq(table) << "]\n"
        << "    allow: [" << allow << "]  # " << counts << "\n";
  }
  std::string classes, counts;
  for (std::size_t i = 0; i < s.classes.size(); ++i) {
    if (s.classes[i] == 0) continue;
    classes += (classes.empty() ? "" : ", ") + std::string(config::kStatementClassNames[i]);
    counts += (counts.empty() ? "" : ", ") + std::string(config::kStatementClassNames[i]) + ": " +
              std::to_string(s.classes[i]);
  }
  if (!classes.empty()) out << "statements: [" << classes << "]  # " << counts << "\n";
  if (!s.functions.empty()) {
    out << "functions:\n  allow:\n";
    for (const auto& [f, n] : s.functions) out << "    - " << yq(f) << "  # " << n << "\n";
  }
}

}  // namespace

int run_policy_suggest(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = parse_log_tool_args(args, "suggest", err);
  if (!parsed) return kExitUsage;
  LogToolArgs& a = *parsed;
  const std::string segment = a.source.filter.segment;
  if (segment.empty()) {
    err << "segproxyctl policy suggest: --segment S is required\n";
    return kExitUsage;
  }
  std::string default_schema = "public";
  config::LimitsConfig limits;
  if (a.config) {  // only for the segment's default_schema and the statement limits
    auto loaded = config::load_config_file(*a.config);
    if (!loaded.errors.empty() || !loaded.config) {
      for (const auto& e : loaded.errors) err << e.to_string() << "\n";
      return kExitUsage;
    }
    limits = loaded.config->limits;
    if (const auto it = loaded.config->segments.find(segment); it != loaded.config->segments.end()) {
      default_schema = it->second.policy.default_schema;
    }
  }
  Suggestion s;
  const auto res = read_records(a.source, [&](const audit::AuditRecord& r) {
    if (r.event != "statement.decision" || r.decision != "allow") return;
    ++s.statements;
    if (r.shadow_decision == "deny") ++s.shadow;
    if (s.first_ts.empty()) s.first_ts = r.ts;
    s.last_ts = r.ts;
    const auto info = r.statement.empty() || r.statement_length ? std::nullopt : classify(r, default_schema, limits);
    if (!info) {
      ++s.not_classified;
      return;
    }
    add_info(s, *info, default_schema);
  });
  if (!res.ok) {
    err << "segproxyctl policy suggest: the audit records could not be read completely:\n" << res.error;
    return kExitUsage;
  }
  print_yaml(out, segment, s);
  return kExitOk;
}

}  // namespace segproxy::proxy::ctl
