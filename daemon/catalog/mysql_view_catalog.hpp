#pragma once
// The pure part of learning MySQL / MariaDB view dependencies (daemon/catalog/mysql_view_loader
// does the Connector/C++ I/O): which catalog query fits the server, and how the rows it
// returns become an authz::ViewCatalog. No I/O; unit-tested in
// tests/unit/proxy/mysql_view_catalog_test.cpp.
//
// Two sources, chosen from the server's version string (SELECT VERSION()):
//  - MariaDB (every version) and MySQL before 8.0.13: information_schema.VIEWS only; the
//    MySQL analyzer (authz::sql::classify_mysql) runs on each VIEW_DEFINITION and the
//    tables it names are the view's reads.
//  - MySQL 8.0.13 and later: information_schema.VIEW_TABLE_USAGE as well, which lists the
//    tables and views each view uses (exact, from the server's own parse). It does not
//    list the functions a view calls, and a stored function may read any table, so the
//    analyzer still runs on VIEW_DEFINITION: a definition it does not understand, or one
//    calling anything but a safe built-in, is pinned fail-closed exactly as on MariaDB;
//    otherwise the view reads the union of both lists (an extra relation can only make
//    the policy stricter).
// Only the MariaDB path is exercised against a real server (Debian ships no MySQL 8
// server): the MySQL 8 path is covered by these pure functions' unit tests.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/view_catalog.hpp"

namespace segproxy::proxy {

// (TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION) of the views of one database (parameter 1).
extern const char* const kMysqlViewQuery;
// (VIEW_SCHEMA, VIEW_NAME, TABLE_SCHEMA, TABLE_NAME) of the views of one database
// (parameter 1). MySQL 8.0.13+ only (MariaDB has no VIEW_TABLE_USAGE).
extern const char* const kMysqlViewTableUsageQuery;

enum class MysqlViewSource {
  Definitions,             // VIEWS + analyzer (MariaDB, MySQL < 8.0.13, unknown versions)
  DefinitionsAndTableUsage  // VIEWS + analyzer, united with VIEW_TABLE_USAGE (MySQL >= 8.0.13)
};

// From the result of SELECT VERSION() ("8.0.36", "8.4.0-log", "10.11.6-MariaDB-0+deb12u1",
// "5.5.5-10.6.11-MariaDB"): DefinitionsAndTableUsage only for a MySQL server (no "MariaDB"
// in the string) whose version parses as 8.0.13 or later; Definitions otherwise.
MysqlViewSource mysql_view_source(std::string_view version);

struct MysqlViewRow {
  std::string schema;
  std::string name;
  std::string definition;  // empty: not visible to the metadata login
};

struct MysqlViewUsageRow {  // one VIEW_TABLE_USAGE row
  std::string view_schema;
  std::string view_name;
  std::string table_schema;
  std::string table_name;
};

// The relation a view whose definition was not understood reads; it reads the view
// back, so the expansion is cyclic and every access through the view is denied.
authz::RelationName mysql_unreadable_view_sentinel(const authz::RelationName& view);

// Builds the catalog of `rows` (and, on MySQL 8.0.13+, `usage`). `base` carries the
// server's version, flavour and lower_case_table_names; current_database is set per
// view. Names are lower-cased for lower_case_table_names 1 and 2 (as the analyzer
// reports table names). A view that appears in `usage` but not in `rows` is pinned
// fail-closed (its definition was not seen). `unreadable` (optional) receives the views
// pinned fail-closed, with the reason.
authz::ViewCatalog build_mysql_view_catalog(
    const std::vector<MysqlViewRow>& rows, const std::vector<MysqlViewUsageRow>& usage,
    const authz::sql::MysqlClassifierOptions& base,
    std::vector<std::pair<authz::RelationName, std::string>>* unreadable = nullptr);

}  // namespace segproxy::proxy
