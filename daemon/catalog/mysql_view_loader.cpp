// Learned MySQL / MariaDB view dependencies: Connector/C++ on a dedicated thread.
#include "daemon/catalog/mysql_view_loader.hpp"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include <algorithm>
#include <utility>

#include "authz/credential_store.hpp"
#include "authz/policy_engine.hpp"
#include "daemon/credentials/connector_login.hpp"
#include "daemon/catalog/view_loader.hpp"  // metadata_databases, read_metadata_password
#include "daemon/credentials/mysql_driver.hpp"

namespace segproxy::proxy {

MysqlViewLoader::MysqlViewLoader(std::shared_ptr<const Runtime> rt, Logger& log, std::shared_ptr<ViewPublisher> publisher)
    : rt_(std::move(rt)), log_(log), publisher_(std::move(publisher)) {
  for (std::size_t i = 0; i < rt_->config.listeners.size(); ++i) {
    const auto& l = rt_->config.listeners[i];
    if (l.protocol != config::Protocol::Mysql || !l.backend.metadata) continue;
    Target t;
    t.listener = i;
    t.databases = metadata_databases(rt_->config, l);
    t.refresh = l.backend.metadata->refresh;
    if (!t.databases.empty()) loop_.add(std::move(t));
  }
}

MysqlViewLoader::~MysqlViewLoader() { stop(); }

void MysqlViewLoader::start() {
  if (loop_.empty() || loop_.running()) return;
  try {
    driver_ = mysql_driver();
  } catch (const std::exception& e) {
    log_.warn("views.load_failed", {{"error", std::string("MySQL client library: ") + e.what()},
                                    {"using", "view names and config pins only"}});
    return;
  }
  ddl_token_ = rt_->on_ddl.attach([this] { request_refresh(); });
  loop_.start([this](Target& t) { load_target(t); },
              [this](const std::function<void()>& body) {
                driver_->threadInit();
                body();
                driver_->threadEnd();
              });
}

bool MysqlViewLoader::wait_first_load(std::chrono::milliseconds timeout) { return loop_.wait_first_load(timeout); }

void MysqlViewLoader::request_refresh() { loop_.request_refresh(); }

void MysqlViewLoader::stop() {
  rt_->on_ddl.detach(std::exchange(ddl_token_, 0));
  loop_.stop();
}

std::optional<std::map<std::string, authz::ViewCatalog>> MysqlViewLoader::load_listener(const Target& t,
                                                                                        std::string& why) {
  const auto& l = rt_->config.listeners[t.listener];
  if (!l.backend.metadata) {
    why = "no backend.metadata";
    return std::nullopt;
  }
  authz::Secret password;
  if (!read_metadata_password(*l.backend.metadata, rt_->environment, password, why)) return std::nullopt;
  const auto secs = std::max<long long>(
      2, std::chrono::ceil<std::chrono::seconds>(rt_->config.limits.backend_connect_timeout).count());
  auto opts =
      connector_login_options(l, {l.backend.metadata->user, std::chrono::seconds(secs), "metadata login"}, password, why);
  if (!opts) return std::nullopt;
  std::map<std::string, authz::ViewCatalog> out;
  try {
    std::unique_ptr<sql::Connection> conn(driver_->connect(*opts));
    authz::sql::MysqlClassifierOptions base;
    std::string version_text;
    {
      // SELECT VERSION() decides the source (mysql_view_source); the login's product
      // version is the same string on both servers.
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SELECT VERSION(), @@lower_case_table_names"));
      if (rs->next()) {
        version_text = std::string(rs->getString(1));
        base.lower_case_table_names = rs->getInt(2);
      }
    }
    const auto version = authz::sql::parse_mysql_server_version(version_text);
    base.server_is_mariadb = version.mariadb;
    base.server_version = version.version;
    // MySQL 8.0.13+: VIEW_TABLE_USAGE as well (not testable here: Debian ships MariaDB).
    const bool table_usage = mysql_view_source(version_text) == MysqlViewSource::DefinitionsAndTableUsage;
    std::unique_ptr<sql::PreparedStatement> ps(conn->prepareStatement(kMysqlViewQuery));
    std::unique_ptr<sql::PreparedStatement> usage_ps;
    if (table_usage) usage_ps.reset(conn->prepareStatement(kMysqlViewTableUsageQuery));
    for (const auto& db : t.databases) {
      ps->setString(1, db);
      std::unique_ptr<sql::ResultSet> rs(ps->executeQuery());
      std::vector<MysqlViewRow> rows;
      while (rs->next()) {
        rows.push_back({std::string(rs->getString(1)), std::string(rs->getString(2)),
                        rs->isNull(3) ? std::string() : std::string(rs->getString(3))});
      }
      std::vector<MysqlViewUsageRow> usage;
      if (usage_ps) {
        usage_ps->setString(1, db);
        std::unique_ptr<sql::ResultSet> urs(usage_ps->executeQuery());
        while (urs->next()) {
          usage.push_back({std::string(urs->getString(1)), std::string(urs->getString(2)),
                           std::string(urs->getString(3)), std::string(urs->getString(4))});
        }
      }
      std::vector<std::pair<authz::RelationName, std::string>> unreadable;
      out[db] = build_mysql_view_catalog(rows, usage, base, &unreadable);
      for (const auto& [view, reason] : unreadable) {
        log_.warn("views.definition_not_understood",
                  {{"listener", l.name}, {"view", view.display()}, {"error", reason},
                   {"using", "deny every access through the view (pin it in the segment's views: to allow)"}});
      }
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

void MysqlViewLoader::load_target(Target& t) {
  const auto& l = rt_->config.listeners[t.listener];
  std::string why;
  const auto started = Clock::now();
  auto catalogs = load_listener(t, why);
  if (!catalogs) {
    for (const auto& db : t.databases) {
      const bool have_old = publisher_->has(t.listener, db);
      log_.warn("views.load_failed",
                {{"listener", l.name}, {"database", db}, {"error", why},
                 {"using", have_old ? "last loaded views" : "view names and config pins only"}});
    }
    return;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  for (auto& [db, catalog] : *catalogs) {
    log_.info("views.loaded", {{"listener", l.name}, {"database", db},
                               {"views", std::to_string(catalog.size())},
                               {"duration_ms", std::to_string(ms.count())}});
    publisher_->put(t.listener, db, std::make_shared<const authz::ViewCatalog>(std::move(catalog)));
  }
}

}  // namespace segproxy::proxy
