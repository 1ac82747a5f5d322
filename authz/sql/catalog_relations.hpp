#pragma once
// System schemas and catalog relations, per protocol: which relations a name denotes
// and what reading them reveals. The policy engine (authz/policy_engine.cpp) decides
// with it (docs/policy.md "System catalogs"):
//  - a wildcard in a rule never grants a relation of a system schema;
//  - `catalog: metadata` grants select on the Metadata relations below;
//  - Values and Credentials relations are never granted, not even by an exact rule.
// Names are compared as the classifiers report them (PostgreSQL: folded to lower case
// by the parser; MySQL: information_schema lower-cased, other databases as written,
// compared here case-insensitively so that no spelling escapes a system schema).
#include <string_view>

namespace segproxy::authz::sql {

enum class CatalogKind {
  NotSystem,    // not in a system schema: the ordinary rules decide
  Metadata,     // describes objects (names, types, constraints, definitions, owners)
  Values,       // exposes other relations' values (statistics, TOAST, large objects)
  Credentials,  // password hashes, connection strings with secrets
  Other,        // any other relation of a system schema: only an exact rule grants it
};

// PostgreSQL: pg_catalog, information_schema and pg_toast* are system schemas.
CatalogKind pg_catalog_kind(std::string_view schema, std::string_view name);
// MySQL/MariaDB: mysql, performance_schema, sys and information_schema.
CatalogKind mysql_catalog_kind(std::string_view database, std::string_view table);

// Whether `name` is a relation of PostgreSQL 15's pg_catalog (tables and views). An
// unqualified such name always means the catalog relation: PostgreSQL searches
// pg_catalog before every search_path schema unless search_path names it explicitly,
// which segproxy never lets a client do (docs/policy.md).
bool is_pg_catalog_relation(std::string_view name);

}  // namespace segproxy::authz::sql
