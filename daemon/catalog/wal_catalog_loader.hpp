#pragma once
// Fills a Runtime's write-ahead catalogs (Runtime::wal_catalogs, daemon/catalog/
// wal_catalogs.hpp) from the backends: for every listener with `backend.metadata`, every
// database of its slots, PostgreSQL through load_pg_wal_catalog and MySQL / MariaDB
// through load_mysql_wal_catalogs. Same schedule as the view loaders: once at start(),
// then every `backend.metadata.refresh` (0: never on a timer), and soon after every
// Runtime::on_ddl. Two threads (one per protocol: libpq and Connector/C++ are blocking,
// never on I/O threads). MySQL: one catalog of all the listener's databases (tables are
// keyed by database and a statement may name several), published under each of them.
// A failed load publishes nothing and logs
// `wal_catalog.load_failed`: the slot keeps its last good catalog (or none, so nothing
// is contained there). One loader per Runtime; a reload starts the next generation's
// (after carrying the catalogs over, WalCatalogs::carry_from) and stops this one.
#include <chrono>
#include <memory>

#include "daemon/catalog/refresh_loop.hpp"
#include "daemon/log.hpp"
#include "daemon/runtime.hpp"

namespace sql::mysql {
class MySQL_Driver;
}

namespace segproxy::proxy {

class WalCatalogLoader {
 public:
  WalCatalogLoader(std::shared_ptr<const Runtime> rt, Logger& log);
  ~WalCatalogLoader();  // stop()
  WalCatalogLoader(const WalCatalogLoader&) = delete;
  WalCatalogLoader& operator=(const WalCatalogLoader&) = delete;

  bool enabled() const { return !pg_.empty() || !mysql_.empty(); }
  // Starts the threads (first loads at once) and subscribes to Runtime::on_ddl. Call from
  // one thread (the MySQL client library's initialisation is not thread-safe).
  void start();
  // Waits until both first passes finished (or `timeout` each, at most 60 s).
  bool wait_first_load(std::chrono::milliseconds timeout);
  // Thread-safe, non-blocking, coalescing.
  void request_refresh();
  // Unsubscribes, wakes and joins both threads (a running load finishes first). Idempotent.
  void stop();

 private:
  void load_pg(RefreshLoop::Target& t);
  void load_mysql(RefreshLoop::Target& t);
  void published(const config::Listener& l, const std::string& db, const authz::wal::WalCatalog& c,
                 std::chrono::steady_clock::duration took);

  std::shared_ptr<const Runtime> rt_;
  Logger& log_;
  sql::mysql::MySQL_Driver* driver_ = nullptr;
  DdlHook::Token ddl_token_ = 0;
  RefreshLoop pg_;     // last members: their threads stop before the rest goes
  RefreshLoop mysql_;
};

}  // namespace segproxy::proxy
