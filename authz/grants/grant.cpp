#include "authz/grants/grant.hpp"

#include <algorithm>

#include "authz/identity_mapper.hpp"  // glob_match
#include "authz/persisted_list.hpp"
#include "authz/revocation_list.hpp"  // identity_matches, spiffe_prefix_matches
#include "authz/sql/catalog_relations.hpp"
#include "config/policy_words.hpp"
#include "json/json.hpp"
#include "protocols/common/selector_value.hpp"
#include "protocols/common/time_text.hpp"

namespace segproxy::authz {
namespace {

constexpr std::size_t kMaxPatternBytes = 256;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Comma-separated words, trimmed; an empty word is an error (",," or a trailing ',').
std::optional<std::vector<std::string>> split_words(std::string_view text, std::string_view what,
                                                    std::string& error) {
  std::vector<std::string> out;
  if (trim(text).empty()) return out;
  for (;;) {
    const auto comma = text.find(',');
    const std::string_view word = trim(text.substr(0, comma));
    if (word.empty()) {
      error = "empty entry in " + std::string(what);
      return std::nullopt;
    }
    out.emplace_back(word);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// Comma-separated names of the set bits (bit i is names[i]; both sets are 1 << enum value).
template <std::size_t N>
std::string bit_names(std::uint32_t bits, const char* const (&names)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if ((bits & (std::uint32_t{1} << i)) != 0) out += (out.empty() ? "" : ",") + std::string(names[i]);
  }
  return out;
}

bool has_glob(std::string_view p) { return p.find_first_of("*?") != std::string_view::npos; }

}  // namespace

std::string_view to_string(GrantKind k) {
  switch (k) {
    case GrantKind::Identity: return "identity";
    case GrantKind::SpiffePrefix: return "spiffe_prefix";
    case GrantKind::Segment: return "segment";
  }
  return "identity";
}

std::optional<GrantKind> grant_kind_from_string(std::string_view s) {
  for (const auto k : {GrantKind::Identity, GrantKind::SpiffePrefix, GrantKind::Segment}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

bool grant_matches(const Grant& g, const ClientIdentity& id, std::string_view segment) {
  switch (g.kind) {
    case GrantKind::Identity: return identity_matches(g.value, id);
    case GrantKind::SpiffePrefix: return !id.spiffe_id.empty() && spiffe_prefix_matches(g.value, id.spiffe_id);
    case GrantKind::Segment: return !segment.empty() && segment == g.value;
  }
  return false;
}

std::optional<GrantScope> parse_grant_scope(std::string_view tables, std::string_view ops,
                                            std::string_view statements, std::string& error) {
  GrantScope s;
  const auto t = split_words(tables, "--tables", error);
  if (!t) return std::nullopt;
  if (t->empty()) {
    error = "a grant needs at least one table (--tables)";
    return std::nullopt;
  }
  if (t->size() > kMaxGrantTables) {
    error = "a grant names at most " + std::to_string(kMaxGrantTables) + " table patterns";
    return std::nullopt;
  }
  for (const auto& p : *t) {
    if (p.size() > kMaxPatternBytes || protocols::has_control_character(p)) {
      error = "invalid table pattern \"" + p.substr(0, 64) + "\"";
      return std::nullopt;
    }
    if (config::qualify_table_pattern(p, "x", error).empty()) return std::nullopt;
    if (std::find(s.tables.begin(), s.tables.end(), p) == s.tables.end()) s.tables.push_back(p);
  }
  const auto o = split_words(ops, "--ops", error);
  if (!o) return std::nullopt;
  if (o->empty()) {
    error = "a grant needs at least one operation (--ops)";
    return std::nullopt;
  }
  for (const auto& w : *o) {
    const auto bits = config::operation_set_from_name(w);
    if (!bits) {
      error = "unknown operation \"" + w.substr(0, 64) + "\" (expected all or one of " +
              operation_names(config::kAllOperations) + ")";
      return std::nullopt;
    }
    s.ops |= *bits;
  }
  const auto c = split_words(statements, "--statements", error);
  if (!c) return std::nullopt;
  for (const auto& w : *c) {
    const auto klass = config::statement_class_from_name(w);
    if (!klass) {
      error = "unknown statement class \"" + w.substr(0, 64) + "\" (expected one of " +
              statement_class_names((config::StatementClassSet{1} << config::kStatementClassCount) - 1) + ")";
      return std::nullopt;
    }
    s.statements |= config::class_bit(*klass);
  }
  return s;
}

std::string operation_names(config::OperationSet ops) { return bit_names(ops, config::kTableOperationNames); }

std::string statement_class_names(config::StatementClassSet classes) {
  return bit_names(classes, config::kStatementClassNames);
}

std::string check_grant_ttl(std::optional<std::chrono::seconds> ttl, std::chrono::seconds max) {
  if (!ttl) return "a grant needs a TTL (--ttl, e.g. 30m): it must close by itself";
  if (ttl->count() <= 0) return "the TTL of a grant must be positive";
  if (*ttl > max) {
    return "the TTL is longer than admin.max_grant_ttl (" + std::to_string(max.count()) + "s)";
  }
  return {};
}

bool grant_covers_table(const GrantScope& s, const std::string& default_schema, const sql::TableRef& t,
                        config::TableOperation op) {
  if (t.whole_schema) return false;  // schema-wide DDL is never granted in an emergency
  if ((s.ops & config::op_bit(op)) == 0 && !(op == config::TableOperation::Lock && s.ops != 0)) return false;
  const sql::CatalogKind kind =
      t.mysql ? sql::mysql_catalog_kind(t.schema, t.name) : sql::pg_catalog_kind(t.schema, t.name);
  if (kind == sql::CatalogKind::Values || kind == sql::CatalogKind::Credentials) return false;
  const bool system = kind != sql::CatalogKind::NotSystem;
  for (const auto& p : s.tables) {
    const auto dot = p.find('.');
    const std::string_view schema = dot == std::string::npos ? std::string_view(default_schema)
                                                             : std::string_view(p).substr(0, dot);
    const std::string_view table = dot == std::string::npos ? std::string_view(p) : std::string_view(p).substr(dot + 1);
    if (system && (has_glob(schema) || has_glob(table))) continue;
    if (glob_match(schema, t.schema) && glob_match(table, t.name)) return true;
  }
  return false;
}

std::string encode_grant_line(const Grant& g) {
  json::Writer w;
  w.begin_object().field("id", g.id).field("kind", to_string(g.kind)).field("value", g.value);
  w.key("tables").begin_array();
  for (const auto& t : g.scope.tables) w.value(t);
  w.end_array();
  w.field("ops", operation_names(g.scope.ops));
  if (g.scope.statements != 0) w.field("statements", statement_class_names(g.scope.statements));
  w.field("reason", g.reason)
      .field("created_at", protocols::format_time(g.created_at))
      .field("expires_at", protocols::format_time(g.expires_at))
      .field("created_by_uid", g.created_by_uid)
      .end_object();
  return w.take();
}

namespace {

std::optional<Grant> decode_grant_line(std::string_view line, std::string& error) {
  const auto v = decode_line_object(line,
                                    {"id", "kind", "value", "tables", "ops", "statements", "reason", "created_at",
                                     "expires_at", "created_by_uid"},
                                    error);
  if (!v) return std::nullopt;
  auto id = id_member(*v, error);
  const auto kind = id ? word_member(*v, "kind", grant_kind_from_string, error) : std::nullopt;
  auto strings = kind ? string_members<3>(*v, {"value", "ops", "reason"}, error) : std::nullopt;
  if (!strings) return std::nullopt;
  auto& [value, ops, reason] = *strings;
  const auto statements = string_member(*v, "statements", false, error);
  if (!error.empty()) return std::nullopt;
  Grant g;
  g.id = std::move(*id);
  g.kind = *kind;
  const auto rule = g.kind == GrantKind::SpiffePrefix ? protocols::SelectorValueRule::SpiffePrefix
                                                      : protocols::SelectorValueRule::Name;
  error = protocols::check_selector_value(to_string(g.kind), rule, value);
  if (!error.empty()) return std::nullopt;
  g.value = std::move(value);
  const json::Value* tables = v->find("tables");
  if (tables == nullptr || !tables->is_array()) {
    error = "\"tables\" must be a list";
    return std::nullopt;
  }
  std::string joined;
  for (const auto& t : tables->as_array()) {
    if (!t.is_string() || t.as_string().find(',') != std::string::npos) {
      error = "\"tables\" must list table patterns";
      return std::nullopt;
    }
    joined += (joined.empty() ? "" : ",") + t.as_string();
  }
  auto scope = parse_grant_scope(joined, ops, statements.value_or(""), error);
  if (!scope) return std::nullopt;
  g.scope = std::move(*scope);
  g.reason = std::move(reason);
  const auto created = time_member(*v, "created_at", error);
  const auto expires = created ? time_member(*v, "expires_at", error) : std::nullopt;
  const auto uid = expires ? uid_member(*v, error) : std::nullopt;
  if (!uid) return std::nullopt;
  g.created_at = *created;
  g.expires_at = *expires;
  g.created_by_uid = *uid;
  return g;
}

}  // namespace

std::optional<std::vector<Grant>> decode_grant_file(std::string_view text, std::string& error) {
  return decode_list_file<Grant>(text, decode_grant_line, error);
}

}  // namespace segproxy::authz
