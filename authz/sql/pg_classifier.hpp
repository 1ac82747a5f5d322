#pragma once
// PostgreSQL statement classifier: SQL text -> StatementInfo, using PostgreSQL's own
// parser (libpg_query, PG 15 grammar). Pure function of (text, options); thread-safe
// (libpg_query keeps its memory contexts thread-local).
//
// Default deny: whatever is not fully understood becomes StatementClass::Unknown (or
// Forbidden) with a reason; a part never silently has an empty table list because a
// construct was skipped.
//
// Decisions worth knowing (see also the unit tests in tests/unit/sql/):
//  - PREPARE/EXPLAIN/DECLARE/COPY (query): the inner statement's tables, functions and
//    reasons are reported in the same part; the part's class is the wrapper's when the
//    inner statement is DML, else the inner class (EXPLAIN ANALYZE CREATE TABLE AS: Ddl).
//  - EXECUTE: prepared_name only; the proxy re-checks the remembered PREPARE.
//  - UPDATE/DELETE/INSERT targets are also reported as Select when WHERE, SET values,
//    ON CONFLICT or RETURNING contain a column reference (over-approximates PG's rule).
//  - RESET ALL and DISCARD ALL are SessionSafe (role/session_authorization are not reset).
//  - DO bodies and CREATE FUNCTION string bodies are not analysed (Procedural / Ddl).
//  - Operators are not reported as functions; OPERATOR(schema.op) outside pg_catalog is
//    Unknown (user-defined code), a bare operator resolving to a user-defined one is not seen.
//  - SELECT ... FOR UPDATE/SHARE OF name: only the named FROM items are reported in
//    row_locks (row_locks_exact); an unnamed clause, or a name that is not a plain
//    relation/subquery of that FROM list, leaves row_locks_exact false (every table read
//    then needs update, as PostgreSQL would lock them or refuse the statement).
//  - `x.f` calls f(x) when f is in ClassifierOptions::attribute_functions.
//  - Text over opts.limits (length, statement count, estimated nesting, scanner work) is
//    refused before libpg_query sees it (parse_ok false, parse_error_sqlstate 54000 /
//    54001, statement_limits.hpp); so are trees deeper than the walker's limit
//    (libpg_query and protobuf-c recurse without limit and would crash the process).
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "authz/sql/statement_info.hpp"
#include "authz/sql/statement_hash.hpp"
#include "authz/sql/statement_limits.hpp"

namespace segproxy::authz::sql {

struct ClassifierOptions {
  // Unqualified relation names resolve here (never via search_path). Unqualified names
  // beginning with "pg_" are additionally reported as pg_catalog.<name>, because
  // PostgreSQL searches pg_catalog before any search_path schema.
  std::string default_schema = "public";
  // As the backend reported in ParameterStatus. libpg_query always lexes with
  // standard_conforming_strings=on; when the backend has it off, the parser's copy of the
  // text is rewritten so that plain '...' strings are E'...' strings (pg_lexing.hpp).
  bool standard_conforming_strings = true;
  // As the backend reported in ParameterStatus (client_encoding). Text in another
  // encoding than UTF8 is converted to UTF-8 (a copy) before the pre-scan and the parser;
  // an invalid byte sequence is refused (22021), an encoding that cannot be followed
  // (protocols/pg/encodings.hpp) refuses every statement (0A000).
  std::string client_encoding = "UTF8";
  // As the backend reported it (server_encoding): how SQL_ASCII client text is read.
  // Empty: UTF8.
  std::string server_encoding;
  // The session's database. A three-part name database.schema.table naming it is read
  // as schema.table (PostgreSQL accepts it); any other database is Unknown (PostgreSQL
  // refuses cross-database references). Empty: every three-part name is Unknown.
  std::string current_database;
  // Names of the functions PostgreSQL may call in attribute notation in this database:
  // `x.f` (and `(expr).f`) means f(x) when x's row type has no column f, so a
  // SECURITY DEFINER f(orders) would run behind `select o.f from orders o`. Learned from
  // the backend catalog (daemon/catalog/view_loader: functions callable with one argument of a
  // table/view row type, record or a polymorphic type). A column reference of two or
  // more parts, or a field selection, whose last name is in the set is reported as a
  // call of that function (schema empty: it resolves via search_path) besides being a
  // column: fail-closed, a real column of that name costs the function check.
  // nullptr = not known (no backend.metadata): column references are never calls (gap).
  // Not owned; must outlive every classify_pg call using these options.
  const std::set<std::string, std::less<>>* attribute_functions = nullptr;
  // Work bounds checked before parsing (config `limits:`).
  StatementLimits limits;
  // The key of StatementInfo::fingerprint (statement_hash.hpp; the daemon's per-process
  // key). nullopt: no fingerprint (0), so nothing is cached or recorded under one.
  std::optional<SipKey> hash_key;
};

StatementInfo classify_pg(std::string_view sql, const ClassifierOptions& opts);

// Fingerprint of the parse tree with literal values (A_Const) and token locations left
// out: equal for statements differing only in literals, whitespace or comments; every
// name (tables, functions, GUCs, prepared statements, cursors, aliases) is included.
// Keyed SipHash-2-4 under `key` (the daemon's per-process random key), so a client
// cannot construct collisions offline; values are stable within one process only. 0 on
// parse error and over the default StatementLimits.
std::uint64_t fingerprint_pg(std::string_view sql, const SipKey& key);

// pg_query_normalize: literals -> $n, for audit. Empty string on parse error and over
// the default StatementLimits.
std::string normalize_pg(std::string_view sql);

}  // namespace segproxy::authz::sql

struct PgQuery__ParseResult;

namespace segproxy::authz::sql {

// classify_pg, and `on_tree` called with the parse tree when the text parsed, before it
// is freed: another pure pass over the same statement (authz/wal's write classes,
// pg_write_classes(tree)) reuses the one parse instead of parsing again.
using ParseTreeVisitor = std::function<void(const PgQuery__ParseResult& tree)>;
StatementInfo classify_pg(std::string_view sql, const ClassifierOptions& opts, const ParseTreeVisitor& on_tree);

}  // namespace segproxy::authz::sql
