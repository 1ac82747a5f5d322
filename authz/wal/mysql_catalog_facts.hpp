#pragma once
// Turns rows of a MySQL / MariaDB information_schema (read by
// daemon/catalog/mysql_wal_catalog_loader) into the write-ahead WalCatalog, keyed by
// (database, table) (docs/audit.md "The catalog the classes trust"). Pure.
//
//  - kind from TABLE_TYPE: BASE TABLE / SYSTEM VERSIONED Table, VIEW View, SEQUENCE
//    Sequence, anything else Other.
//  - transactional: a table whose ENGINE is on kTransactionalEngines (InnoDB only:
//    MyISAM, MEMORY, Aria, CSV, ARCHIVE, MERGE, BLACKHOLE, FEDERATED, CONNECT, SPIDER...
//    are not; an engine is added only once its rollback and crash behaviour were checked).
//  - hooks_listed_only (tables): the metadata login may see the triggers (TRIGGER
//    privilege on the database or globally: information_schema.TRIGGERS hides the
//    others' triggers, so without it no table is), no trigger at all (bodies are not
//    judged), and every
//    column default that is an expression, ON UPDATE expression, generation expression
//    and CHECK clause passes mysql_expression_listed.
//  - read_only_ok: tables: every generation expression passes (virtual columns are
//    computed when read); views: VIEW_DEFINITION is proven read-only by
//    mysql_write_classes (current database = the view's) over the facts judged so far,
//    repeated until nothing changes; an empty definition (no SHOW VIEW) does not pass.
//  - user_function_names: stored functions (ROUTINES, ROUTINE_TYPE FUNCTION), lower-case.
// Anything the rows do not mention is false: fail closed.
#include <string>
#include <vector>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/wal/wal_catalog.hpp"

namespace segproxy::authz::wal {

bool mysql_transactional_engine(std::string_view engine);

struct MysqlTableRow {
  std::string schema, name, type, engine;  // TABLE_TYPE, ENGINE ("" when NULL)
};

struct MysqlColumnRow {
  std::string schema, table;
  bool has_default = false;
  std::string column_default;  // COLUMN_DEFAULT as the server shows it
  std::string extra;           // EXTRA (DEFAULT_GENERATED, on update ...)
  std::string generation;      // GENERATION_EXPRESSION ("" when none)
};

struct MysqlCheckRow {
  std::string schema, table, clause;
};

struct MysqlWalViewRow {
  std::string schema, name, definition;
};

struct MysqlCatalogRows {
  std::vector<MysqlTableRow> tables;
  std::vector<std::pair<std::string, std::string>> triggers;  // (schema, table)
  std::vector<MysqlColumnRow> columns;
  std::vector<MysqlCheckRow> checks;
  std::vector<MysqlWalViewRow> views;
  std::vector<std::string> functions;
  // The login holds TRIGGER on the database (or globally), so TRIGGERS lists them all.
  bool triggers_visible = false;
};

// `opts`: server kind, version, lower_case_table_names of the connection (its
// current_database is replaced per table / view). MariaDB (10.2.7+) shows every default
// as an expression text (literals quoted); MySQL marks expression defaults with
// DEFAULT_GENERATED in EXTRA and shows literal defaults unquoted (not judged).
WalCatalog build_mysql_wal_catalog(const MysqlCatalogRows& rows, const sql::MysqlClassifierOptions& opts,
                                   std::vector<std::pair<std::string, std::string>>* notes = nullptr);

}  // namespace segproxy::authz::wal
