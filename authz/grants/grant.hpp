#pragma once
// Emergency grants (break-glass, docs/admin.md "Break-glass grants"): a scoped, expiring
// addition to the rules of matching identities. This file: the grant itself, whom it
// matches, what it covers, the TTL bound and the file encoding; the list that keeps
// them is grant_list.hpp; the decision is PolicyEngine::evaluate_granted.
//
// A grant names
//   whom       identity X (the revocation rule: SPIFFE id, CN, certificate SHA-256 and
//              the forms `sessions` shows), spiffe_prefix P (path-segment-safe prefix)
//              or segment S (every identity mapped to segment S);
//   what       table patterns written like a rule's `tables:` (bare names resolve in
//              the session segment's default_schema), operations like `allow:`
//              ("all" included) and optional statement classes like `statements:`;
//   how long   a mandatory TTL, 1 s .. admin.max_grant_ttl (default 4h);
//   why        a mandatory reason.
// It never grants what is never allowed (Forbidden / not understood statements, value
// and credential catalogs, a system relation through a glob), never functions, never
// schema-wide DDL, and never outside an access window; a revocation always wins (a
// revoked identity has no session to use it in).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/identity.hpp"
#include "authz/sql/statement_info.hpp"
#include "config/config.hpp"

namespace segproxy::authz {

using GrantTime = std::chrono::system_clock::time_point;

enum class GrantKind { Identity, SpiffePrefix, Segment };
// "identity", "spiffe_prefix", "segment" (the file's and the admin protocol's words).
std::string_view to_string(GrantKind k);
std::optional<GrantKind> grant_kind_from_string(std::string_view s);

inline constexpr std::size_t kMaxGrantTables = 64;

// What a grant covers (tables x operations, statement classes).
struct GrantScope {
  std::vector<std::string> tables;  // as given: "name" or "schema.name", globs allowed
  config::OperationSet ops = 0;
  config::StatementClassSet statements = 0;
  friend bool operator==(const GrantScope&, const GrantScope&) = default;
};

struct Grant {
  std::string id;  // 12 lower-case hex digits
  GrantKind kind = GrantKind::Identity;
  std::string value;
  GrantScope scope;
  std::string reason;
  GrantTime created_at{};
  GrantTime expires_at{};
  std::uint32_t created_by_uid = 0;

  bool active_at(GrantTime now) const { return now < expires_at; }
  friend bool operator==(const Grant&, const Grant&) = default;
};

bool grant_matches(const Grant& g, const ClientIdentity& id, std::string_view segment);

// The grant's scope from the command line / admin request words: comma-separated
// table patterns (required, at most kMaxGrantTables), operations (required) and
// statement classes (optional, may be empty). nullopt and `error` set when invalid.
std::optional<GrantScope> parse_grant_scope(std::string_view tables, std::string_view ops,
                                            std::string_view statements, std::string& error);
// Comma-separated names of a scope's operations / statement classes ("select,update").
std::string operation_names(config::OperationSet ops);
std::string statement_class_names(config::StatementClassSet classes);

// Empty when `ttl` is present and within 1 s .. `max`; else why not (missing, zero,
// longer than the maximum).
std::string check_grant_ttl(std::optional<std::chrono::seconds> ttl, std::chrono::seconds max);

// Does the grant cover `op` on `t` for a segment whose bare names resolve in
// `default_schema`? System relations: only a pattern naming them exactly (no glob),
// never value or credential catalogs. LOCK TABLE needs any granted operation.
bool grant_covers_table(const GrantScope& s, const std::string& default_schema, const sql::TableRef& t,
                        config::TableOperation op);

// File encoding (JSON Lines, one grant per line), exposed for tests.
std::string encode_grant_line(const Grant& g);  // no '\n'
std::optional<std::vector<Grant>> decode_grant_file(std::string_view text, std::string& error);

}  // namespace segproxy::authz
