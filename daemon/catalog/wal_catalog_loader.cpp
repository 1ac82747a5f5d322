// The write-ahead catalog loader threads (wal_catalog_loader.hpp).
#include "daemon/catalog/wal_catalog_loader.hpp"

#include <mysql_driver.h>

#include "daemon/catalog/mysql_wal_catalog_loader.hpp"
#include "daemon/catalog/pg_wal_catalog_loader.hpp"
#include "daemon/credentials/mysql_driver.hpp"

namespace segproxy::proxy {

WalCatalogLoader::WalCatalogLoader(std::shared_ptr<const Runtime> rt, Logger& log) : rt_(std::move(rt)), log_(log) {
  for (auto& [listener, databases] : rt_->wal_catalogs.slots()) {
    const auto& l = rt_->config.listeners[listener];
    RefreshLoop::Target t;
    t.listener = listener;
    t.databases = std::move(databases);
    t.refresh = l.backend.metadata->refresh;
    (l.protocol == config::Protocol::Mysql ? mysql_ : pg_).add(std::move(t));
  }
}

WalCatalogLoader::~WalCatalogLoader() { stop(); }

void WalCatalogLoader::start() {
  if (!enabled() || pg_.running() || mysql_.running()) return;
  ddl_token_ = rt_->on_ddl.attach([this] { request_refresh(); });
  pg_.start([this](RefreshLoop::Target& t) { load_pg(t); });
  if (mysql_.empty()) return;
  try {
    driver_ = mysql_driver();
  } catch (const std::exception& e) {
    log_.warn("wal_catalog.load_failed", {{"error", std::string("MySQL client library: ") + e.what()},
                                          {"using", "no catalog: nothing is contained"}});
    return;
  }
  mysql_.start([this](RefreshLoop::Target& t) { load_mysql(t); },
               [this](const std::function<void()>& body) {
                 driver_->threadInit();
                 body();
                 driver_->threadEnd();
               });
}

bool WalCatalogLoader::wait_first_load(std::chrono::milliseconds timeout) {
  const bool pg = pg_.wait_first_load(timeout);
  const bool my = mysql_.wait_first_load(timeout);
  return pg && my;
}

void WalCatalogLoader::request_refresh() {
  pg_.request_refresh();
  mysql_.request_refresh();
}

void WalCatalogLoader::stop() {
  rt_->on_ddl.detach(std::exchange(ddl_token_, 0));
  pg_.stop();
  mysql_.stop();
}

void WalCatalogLoader::published(const config::Listener& l, const std::string& db, const authz::wal::WalCatalog& c,
                                 std::chrono::steady_clock::duration took) {
  std::size_t contained = 0;
  for (const auto& [key, f] : c.relations)
    if (f.kind == authz::wal::RelationKind::Table && f.transactional && f.hooks_listed_only) ++contained;
  log_.info("wal_catalog.loaded",
            {{"listener", l.name}, {"database", db}, {"relations", std::to_string(c.relations.size())},
             {"containable_tables", std::to_string(contained)},
             {"duration_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count())}});
}

void WalCatalogLoader::load_pg(RefreshLoop::Target& t) {
  const auto& l = rt_->config.listeners[t.listener];
  for (const auto& db : t.databases) {
    std::string why;
    std::chrono::steady_clock::time_point loaded_at{};
    auto catalog = load_pg_wal_catalog(l, db, rt_->config.limits.backend_connect_timeout, rt_->environment,
                                       loaded_at, why);
    if (!catalog) {
      log_.warn("wal_catalog.load_failed", {{"listener", l.name}, {"database", db}, {"error", why},
                                            {"using", "the last loaded catalog, or none (nothing contained)"}});
      continue;
    }
    published(l, db, *catalog, std::chrono::steady_clock::now() - loaded_at);
    rt_->wal_catalogs.publish(t.listener, db, std::make_shared<const authz::wal::WalCatalog>(std::move(*catalog)),
                              loaded_at);
  }
}

void WalCatalogLoader::load_mysql(RefreshLoop::Target& t) {
  const auto& l = rt_->config.listeners[t.listener];
  std::string why;
  std::chrono::steady_clock::time_point loaded_at{};
  auto catalogs = load_mysql_wal_catalogs(driver_, l, t.databases, rt_->config.limits.backend_connect_timeout,
                                          rt_->environment, loaded_at, why);
  if (!catalogs) {
    for (const auto& db : t.databases)
      log_.warn("wal_catalog.load_failed", {{"listener", l.name}, {"database", db}, {"error", why},
                                            {"using", "the last loaded catalog, or none (nothing contained)"}});
    return;
  }
  // Tables are keyed by (database, table) and a MySQL statement may name several
  // databases: one catalog of all the listener's databases, published under each.
  auto merged = std::make_shared<authz::wal::WalCatalog>();
  for (auto& [db, catalog] : *catalogs) {
    merged->relations.merge(catalog.relations);
    merged->user_function_names.merge(catalog.user_function_names);
  }
  const auto took = std::chrono::steady_clock::now() - loaded_at;
  std::string all;
  for (const auto& db : t.databases) all += (all.empty() ? "" : ",") + db;
  published(l, all, *merged, took);
  const std::shared_ptr<const authz::wal::WalCatalog> shared = std::move(merged);
  for (const auto& db : t.databases) rt_->wal_catalogs.publish(t.listener, db, shared, loaded_at);
}

}  // namespace segproxy::proxy
