#pragma once
// Loads the write-ahead catalogs (authz::wal::WalCatalog) of a MySQL / MariaDB
// listener's databases over one Connector/C++ metadata connection (`backend.metadata`,
// like daemon/catalog/mysql_view_loader): information_schema TABLES, TRIGGERS, COLUMNS,
// CHECK_CONSTRAINTS (MariaDB: its TABLE_NAME; MySQL 8: joined with TABLE_CONSTRAINTS),
// VIEWS and ROUTINES per database, judged by authz/wal/mysql_catalog_facts. Every query
// is capped (kMaxWalCatalogRows + 1 rows: one more fails the load) and bounded by the
// connection's read timeout; any failure returns nullopt and nothing is published (fail
// closed). Blocking: call from a loader thread that ran the driver's threadInit.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "authz/environment.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "config/config.hpp"

namespace sql::mysql {
class MySQL_Driver;
}

namespace segproxy::proxy {

// Per database of `databases`; `loaded_at` is set to the instant before the first query.
std::optional<std::map<std::string, authz::wal::WalCatalog>> load_mysql_wal_catalogs(
    sql::mysql::MySQL_Driver* driver, const config::Listener& l, const std::vector<std::string>& databases,
    std::chrono::milliseconds connect_timeout, const authz::EnvironmentLookup& environment,
    std::chrono::steady_clock::time_point& loaded_at, std::string& why);

}  // namespace segproxy::proxy
