#pragma once
// Loads the write-ahead catalog (authz::wal::WalCatalog) of one PostgreSQL database over
// a libpq metadata connection (`backend.metadata`, like daemon/catalog/view_loader):
// the queries below, in one REPEATABLE READ READ ONLY transaction of a connection whose
// search_path is pg_catalog (so pg_get_expr / pg_get_viewdef print every other object
// schema-qualified) and whose statement_timeout bounds each query; the rows are judged
// by authz/wal/pg_catalog_facts. Every query is capped (kMaxWalCatalogRows + 1 rows are
// asked for: one more means the load fails); any failure returns nullopt and nothing is
// published (fail closed). Blocking: call from a loader thread only.
#include <chrono>
#include <optional>
#include <string>

#include "authz/environment.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

inline constexpr long kMaxWalCatalogRows = 200000;

// Relations (r, p, v, m, f, S) with their per-relation facts.
extern const char* const kPgWalRelationQuery;
// Expressions to judge: defaults, CHECKs, index expressions and predicates, domain
// constraints of column types, policies.
extern const char* const kPgWalExpressionQuery;
// Foreign keys with a CASCADE / SET NULL / SET DEFAULT action: referenced -> referencing.
extern const char* const kPgWalForeignKeyActionQuery;
// pg_inherits: parent -> child / partition.
extern const char* const kPgWalInheritanceQuery;
// Views' definitions.
extern const char* const kPgWalViewQuery;
// Function and operator names outside pg_catalog / information_schema.
extern const char* const kPgWalUserFunctionQuery;
extern const char* const kPgWalUserOperatorQuery;

// Connects as the metadata user and loads `database`. `loaded_at` is set to the instant
// before the transaction's first query (the catalog shows every DDL committed before
// it). nullopt + why on any failure.
std::optional<authz::wal::WalCatalog> load_pg_wal_catalog(const config::Listener& l, const std::string& database,
                                                          std::chrono::milliseconds connect_timeout,
                                                          const authz::EnvironmentLookup& environment,
                                                          std::chrono::steady_clock::time_point& loaded_at,
                                                          std::string& why);

}  // namespace segproxy::proxy
