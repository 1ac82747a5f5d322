// The MySQL / MariaDB write-ahead catalogs: Connector/C++ on a loader thread
// (mysql_wal_catalog_loader.hpp).
#include "daemon/catalog/mysql_wal_catalog_loader.hpp"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "authz/credential_store.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/wal/mysql_catalog_facts.hpp"
#include "daemon/catalog/pg_wal_catalog_loader.hpp"  // kMaxWalCatalogRows
#include "daemon/catalog/view_loader.hpp"            // read_metadata_password
#include "daemon/credentials/connector_login.hpp"

namespace segproxy::proxy {
namespace {

const std::string kLimit = " LIMIT " + std::to_string(kMaxWalCatalogRows + 1);

const std::string kTables =
    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, '') FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = ? ORDER BY 2" + kLimit;
const std::string kTriggers =
    "SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS"
    " WHERE EVENT_OBJECT_SCHEMA = ?" + kLimit;
const std::string kColumns =
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_DEFAULT IS NOT NULL, COALESCE(COLUMN_DEFAULT, ''),"
    " COALESCE(EXTRA, ''), COALESCE(GENERATION_EXPRESSION, '') FROM information_schema.COLUMNS"
    " WHERE TABLE_SCHEMA = ?" + kLimit;
const std::string kMariadbChecks =
    "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
    " WHERE CONSTRAINT_SCHEMA = ?" + kLimit;
const std::string kMysqlChecks =
    "SELECT tc.TABLE_SCHEMA, tc.TABLE_NAME, cc.CHECK_CLAUSE FROM information_schema.TABLE_CONSTRAINTS tc"
    " JOIN information_schema.CHECK_CONSTRAINTS cc"
    "   ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME"
    " WHERE tc.CONSTRAINT_TYPE = 'CHECK' AND tc.TABLE_SCHEMA = ?" + kLimit;
const std::string kViews =
    "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?" + kLimit;
// The login's own TRIGGER privilege, globally or on the database (information_schema
// shows a user its own privileges).
const std::string kTriggerPrivilege =
    "SELECT COUNT(*) FROM (SELECT 1 AS x FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'TRIGGER'"
    " UNION ALL SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES"
    " WHERE PRIVILEGE_TYPE = 'TRIGGER' AND TABLE_SCHEMA = ?) p";
const std::string kFunctions =
    "SELECT DISTINCT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'" + kLimit;

std::string text(sql::ResultSet& rs, int col) { return rs.isNull(col) ? std::string() : std::string(rs.getString(col)); }

// Runs `ps` (its parameter set by the caller) and hands each row to `row`; false + why
// when more than kMaxWalCatalogRows come back.
bool each_row(sql::PreparedStatement& ps, const char* what, const std::function<void(sql::ResultSet&)>& row,
              std::string& why) {
  std::unique_ptr<sql::ResultSet> rs(ps.executeQuery());
  long n = 0;
  while (rs->next()) {
    if (++n > kMaxWalCatalogRows) {
      why = std::string(what) + " query: more than " + std::to_string(kMaxWalCatalogRows) + " rows";
      return false;
    }
    row(*rs);
  }
  return true;
}

}  // namespace

std::optional<std::map<std::string, authz::wal::WalCatalog>> load_mysql_wal_catalogs(
    sql::mysql::MySQL_Driver* driver, const config::Listener& l, const std::vector<std::string>& databases,
    std::chrono::milliseconds connect_timeout, const authz::EnvironmentLookup& environment,
    std::chrono::steady_clock::time_point& loaded_at, std::string& why) {
  if (!l.backend.metadata) {
    why = "no backend.metadata";
    return std::nullopt;
  }
  authz::Secret password;
  if (!read_metadata_password(*l.backend.metadata, environment, password, why)) return std::nullopt;
  const auto secs = std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(connect_timeout).count());
  auto opts = connector_login_options(l, {l.backend.metadata->user, std::chrono::seconds(secs), "metadata login"},
                                      password, why);
  if (!opts) return std::nullopt;
  std::map<std::string, authz::wal::WalCatalog> out;
  try {
    std::unique_ptr<sql::Connection> conn(driver->connect(*opts));
    authz::sql::MysqlClassifierOptions base;
    loaded_at = std::chrono::steady_clock::now();
    {
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SELECT VERSION(), @@lower_case_table_names"));
      if (!rs->next()) {
        why = "SELECT VERSION() returned no row";
        return std::nullopt;
      }
      const auto version = authz::sql::parse_mysql_server_version(std::string(rs->getString(1)));
      base.server_is_mariadb = version.mariadb;
      base.server_version = version.version;
      base.lower_case_table_names = rs->getInt(2);
    }
    std::unique_ptr<sql::PreparedStatement> tables(conn->prepareStatement(kTables));
    std::unique_ptr<sql::PreparedStatement> triggers(conn->prepareStatement(kTriggers));
    std::unique_ptr<sql::PreparedStatement> columns(conn->prepareStatement(kColumns));
    std::unique_ptr<sql::PreparedStatement> checks(
        conn->prepareStatement(base.server_is_mariadb ? kMariadbChecks : kMysqlChecks));
    std::unique_ptr<sql::PreparedStatement> views(conn->prepareStatement(kViews));
    std::unique_ptr<sql::PreparedStatement> functions(conn->prepareStatement(kFunctions));
    std::unique_ptr<sql::PreparedStatement> trigger_privilege(conn->prepareStatement(kTriggerPrivilege));
    std::vector<std::string> function_names;
    if (!each_row(*functions, "routine", [&](sql::ResultSet& rs) { function_names.push_back(text(rs, 1)); }, why))
      return std::nullopt;
    for (const auto& db : databases) {
      authz::wal::MysqlCatalogRows rows;
      rows.functions = function_names;
      for (auto* ps : {tables.get(), triggers.get(), columns.get(), checks.get(), views.get(), trigger_privilege.get()})
        ps->setString(1, db);
      const bool ok =
          each_row(*trigger_privilege, "privilege", [&](sql::ResultSet& rs) {
            rows.triggers_visible = rs.getInt64(1) > 0;
          }, why) &&
          each_row(*tables, "table", [&](sql::ResultSet& rs) {
            rows.tables.push_back({text(rs, 1), text(rs, 2), text(rs, 3), text(rs, 4)});
          }, why) &&
          each_row(*triggers, "trigger", [&](sql::ResultSet& rs) { rows.triggers.emplace_back(text(rs, 1), text(rs, 2)); },
                   why) &&
          each_row(*columns, "column", [&](sql::ResultSet& rs) {
            rows.columns.push_back({text(rs, 1), text(rs, 2), rs.getInt(3) != 0, text(rs, 4), text(rs, 5), text(rs, 6)});
          }, why) &&
          each_row(*checks, "check", [&](sql::ResultSet& rs) {
            rows.checks.push_back({text(rs, 1), text(rs, 2), text(rs, 3)});
          }, why) &&
          each_row(*views, "view", [&](sql::ResultSet& rs) {
            rows.views.push_back({text(rs, 1), text(rs, 2), text(rs, 3)});
          }, why);
      if (!ok) return std::nullopt;
      out[db] = authz::wal::build_mysql_wal_catalog(rows, base);
    }
  } catch (const sql::SQLException& e) {
    why = connector_error(e);
    return std::nullopt;
  } catch (const std::exception& e) {
    why = connector_one_line(e.what());
    return std::nullopt;
  }
  return out;
}

}  // namespace segproxy::proxy
