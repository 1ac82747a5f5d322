#pragma once
// Judges one catalog expression (a column default, generated column, CHECK constraint,
// index expression or predicate, domain constraint, row-level security policy) the way
// the write-ahead classes judge a statement: it "runs only listed code" when
// `SELECT <expression>` is proven read-only (pg_write_classes / mysql_write_classes)
// against the catalog's user-defined names, with no relation it could read. Used by the
// catalog fact builders (pg_catalog_facts, mysql_catalog_facts). Pure.
//
// PostgreSQL texts are pg_get_expr / pg_get_viewdef output of a connection whose
// search_path is pg_catalog only, so every object outside pg_catalog is printed
// schema-qualified (and is then not a listed built-in); unqualified relation names are
// pg_catalog's.
#include <string>
#include <string_view>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/wal/wal_catalog.hpp"

namespace segproxy::authz::wal {

// Longest expression text judged; a longer one does not pass.
inline constexpr std::size_t kMaxExpressionText = 64 * 1024;

// True when `expr` passes; otherwise false with the first doubt in `why`. `catalog`
// supplies user_function_names / user_operator_names / attribute_functions, and the
// relations an expression may read (pass a catalog without relations, as the fact
// builders do, and no expression that reads a relation passes).
bool pg_expression_listed(std::string_view expr, const WalCatalog& catalog, std::string& why);

// A column default: as pg_expression_listed, and also exactly
// `nextval('<sequence>'::regclass)` (a serial column), whose only effect outside the
// transaction is a sequence gap, which the guarantee does not cover (docs/audit.md).
bool pg_default_listed(std::string_view expr, const WalCatalog& catalog, std::string& why);

// The same for MySQL / MariaDB expression texts (information_schema.COLUMNS defaults and
// generation expressions, CHECK_CONSTRAINTS clauses), analysed with `opts`.
bool mysql_expression_listed(std::string_view expr, const sql::MysqlClassifierOptions& opts, std::string& why);

}  // namespace segproxy::authz::wal
