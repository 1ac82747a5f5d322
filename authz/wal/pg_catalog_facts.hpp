#pragma once
// Turns rows of a PostgreSQL catalog (read by daemon/catalog/pg_wal_catalog_loader) into
// the write-ahead WalCatalog (docs/audit.md "The catalog the classes trust"). Pure: rows
// in, facts out, so every rule below is unit-tested without a server.
//
//  - kind from relkind: r/p Table, v View, m MaterializedView, f Foreign, S Sequence.
//  - transactional: every table that is not foreign (writes are held until commit), as
//    long as every inheritance child / partition is too.
//  - hooks_listed_only (tables only): no user trigger, no rule, no column of a type
//    outside pg_catalog (enums and domains over pg_catalog types excepted), no index
//    operator class or exclusion operator outside pg_catalog; every column default
//    (pg_default_listed), generated column, CHECK, index expression and predicate,
//    domain constraint and (with row-level security on) policy expression passes
//    pg_expression_listed; every table that a foreign-key action (CASCADE / SET NULL /
//    SET DEFAULT) of a key referencing it writes, and every child / partition, is
//    hooks_listed_only itself (fixpoint).
//  - read_only_ok: tables: no column of a user-defined type (enums excepted), with
//    row-level security on every policy passes, every child / partition read_only_ok;
//    materialized views: no such column; views: no such column and the definition
//    (pg_get_viewdef) is proven read-only by pg_write_classes over the facts of the
//    relations judged so far (repeated until nothing changes: views of views).
//  - a relation in a temporary schema (pg_temp_N) shadows every relation of its name
//    for sessions that may see it: all of them get every fact false.
//  - user_function_names / user_operator_names: names from pg_proc / pg_operator
//    outside pg_catalog and information_schema; attribute_functions as ViewCatalog.
// Anything the rows do not mention is false: fail closed.
#include <string>
#include <vector>

#include "authz/wal/wal_catalog.hpp"

namespace segproxy::authz::wal {

struct PgRelationRow {
  std::string schema, name;
  char relkind = 0;
  bool row_security = false;
  bool user_type_column = false;        // for reads: a column of a type outside pg_catalog (not an enum)
  bool user_write_type_column = false;  // for writes: the same, domains over pg_catalog types excepted
  bool user_trigger = false;            // pg_trigger, not tgisinternal
  bool rule = false;                    // pg_rewrite other than a view's _RETURN
  bool user_index_opclass = false;      // an index operator class outside pg_catalog
  bool user_exclusion_operator = false; // an exclusion constraint operator outside pg_catalog
};

enum class PgExpressionKind { Default, Check, Index, IndexPredicate, DomainCheck, Policy };

struct PgExpressionRow {
  std::string schema, name;  // the relation
  PgExpressionKind kind = PgExpressionKind::Check;
  std::string text;  // pg_get_expr output
};

struct PgRelationEdge {  // from -> to: writing / reading `from` also reaches `to`
  std::string from_schema, from_name, to_schema, to_name;
};

struct PgViewRow {
  std::string schema, name;
  std::string definition;  // pg_get_viewdef
};

struct PgCatalogRows {
  std::vector<PgRelationRow> relations;
  std::vector<PgExpressionRow> expressions;
  std::vector<PgRelationEdge> fk_actions;  // referenced table -> table its actions write
  std::vector<PgRelationEdge> inherits;    // parent -> child / partition
  std::vector<PgViewRow> views;
  std::vector<std::string> user_functions, user_operators, attribute_functions;
};

// Why relations came out false (for the loader's debug log); optional.
struct PgFactNotes {
  std::vector<std::pair<std::string, std::string>> not_contained;  // relation, reason
};

WalCatalog build_pg_wal_catalog(const PgCatalogRows& rows, PgFactNotes* notes = nullptr);

}  // namespace segproxy::authz::wal
