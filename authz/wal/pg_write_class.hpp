#pragma once
// The write-ahead class of PostgreSQL SQL text (docs/audit.md "Write-ahead forwarding"),
// from libpg_query's parse tree. Pure function of (tree, context).
//
//  - read-only is proven by an allow-list walk: SELECT/VALUES/TABLE/SHOW, COPY ... TO
//    STDOUT, EXPLAIN without ANALYZE of a statement whose code is all proven (the planner
//    folds immutable functions: EXPLAIN of an unlisted call is escaping); every node kind in it known, every function, operator
//    and cast target on the fixed lists (builtin_lists.hpp) and not shadowed by a
//    user-defined one of that name, every relation a table or view the catalog marks
//    read_only_ok, no INTO, no locking clause, no data-modifying WITH, no `x.f`
//    attribute call of a known function. Without a catalog, a statement that reads a
//    relation or calls anything is not proven.
//  - contained: INSERT/UPDATE/DELETE/MERGE, COPY FROM STDIN, SELECT ... FOR UPDATE/SHARE,
//    LOCK TABLE, NOTIFY/LISTEN/UNLISTEN, with every written (or locked) relation a
//    transactional table with hooks_listed_only and everything else proven as for
//    read-only. Needs a usable catalog. PostgreSQL DDL is never contained yet (escaping).
//  - commit point: COMMIT/END [AND CHAIN] (ends_transaction_only), PREPARE TRANSACTION,
//    COMMIT/ROLLBACK PREPARED, CALL, DO, and the commands PostgreSQL refuses inside a
//    transaction block (VACUUM, CREATE/DROP DATABASE and TABLESPACE, ALTER SYSTEM,
//    ... CONCURRENTLY, REINDEX SYSTEM/DATABASE, CLUSTER without a table, DISCARD ALL,
//    subscriptions).
//  - EXPLAIN ANALYZE takes the class of its statement; EXECUTE / FETCH / MOVE take the
//    class remembered for the prepared statement / cursor (ClassContext); PREPARE and
//    DECLARE report the class to remember.
//  - everything else (SET, DDL, unknown node kinds, parse errors): escaping.
#include <string>
#include <string_view>
#include <vector>

#include "authz/wal/wal_catalog.hpp"
#include "authz/wal/write_class.hpp"

struct PgQuery__ParseResult;
struct PgQuery__Node;

namespace segproxy::authz::wal {

struct PgStatementClass {
  MessageClass klass;
  // PREPARE name / DECLARE name: what the session remembers for EXECUTE / FETCH.
  std::string prepares;
  std::string declares_cursor;
  MessageClass remembered = MessageClass::empty();
};

struct PgWriteClasses {
  bool parse_ok = false;
  MessageClass message = escaping("not parsed");  // the strictest statement
  std::vector<PgStatementClass> statements;
};

// From a tree the classifier already has (tree must be non-null).
PgWriteClasses pg_write_classes(const PgQuery__ParseResult* tree, const ClassContext& ctx);
// Parses `sql` itself (UTF-8, standard_conforming_strings on, default StatementLimits):
// for tests and the catalog loader's view definitions. Not parsed: escaping.
PgWriteClasses pg_write_classes(std::string_view sql, const ClassContext& ctx);

}  // namespace segproxy::authz::wal
