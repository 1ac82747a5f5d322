#pragma once
// Learns MySQL / MariaDB view dependencies over a Connector/C++ 1.1 metadata connection
// and hands them to the Runtime's PolicyEngine (PolicyEngine::set_views), so a view
// counts as every table it reads - the MySQL counterpart of daemon/catalog/view_loader.
//
// For every mysql listener with `backend.metadata`, for each database a segment with a
// credential on that listener may use, it reads the views' definitions and, on MySQL
// 8.0.13+, information_schema.VIEW_TABLE_USAGE; daemon/catalog/mysql_view_catalog (pure, unit
// tested) chooses the source from SELECT VERSION() and turns the rows into a catalog:
// each VIEW_DEFINITION is analysed with authz::sql::classify_mysql (current database =
// the view's schema, server version and lower_case_table_names from the connection) and
// the tables it names (united with VIEW_TABLE_USAGE where the server has it) are the
// view's reads. Fail-closed: a definition that is empty (the login lacks SHOW VIEW),
// does not classify as one clean DML statement, or calls a function that is not a safe
// built-in (VIEW_TABLE_USAGE does not list functions) is pinned to a sentinel relation
// that reads the view back, so any statement reading the view is denied as cyclic
// ("definition not understood"); a segment's `views:` pin for that view still replaces
// it. Only the MariaDB path runs in the integration tests (Debian ships no MySQL 8
// server); the MySQL 8 choice and merge are covered by unit tests.
//
// One MysqlViewLoader per Runtime, on its own thread (Connector/C++ is blocking; never
// on the I/O threads). It loads once at start(), then every `refresh` (per listener;
// 0 = never on a timer), and whenever request_refresh() is called: it subscribes to
// Runtime::on_ddl (next to the PostgreSQL ViewLoader), which MySQL sessions call after
// the response to a DDL statement they let through. Catalogs of the same
// database on several mysql listeners are merged (union) before set_views(database).
// A database name shared with a postgres listener that also learns views is published
// by both loaders through one ViewPublisher (merged, never overwritten). A failed load
// keeps the last good catalog and logs `views.load_failed`. Passwords are read at each
// load and never logged.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/view_catalog.hpp"
#include "config/config.hpp"
#include "daemon/log.hpp"
#include "daemon/catalog/mysql_view_catalog.hpp"
#include "daemon/catalog/refresh_loop.hpp"
#include "daemon/runtime.hpp"
#include "daemon/catalog/view_publisher.hpp"

namespace sql::mysql {
class MySQL_Driver;
}

namespace segproxy::proxy {

class MysqlViewLoader {
 public:
  MysqlViewLoader(std::shared_ptr<const Runtime> rt, Logger& log, std::shared_ptr<ViewPublisher> publisher);
  ~MysqlViewLoader();  // stop()
  MysqlViewLoader(const MysqlViewLoader&) = delete;
  MysqlViewLoader& operator=(const MysqlViewLoader&) = delete;

  // Whether any mysql listener has backend.metadata (otherwise start() does nothing).
  bool enabled() const { return !loop_.empty(); }
  // Initialises the client library on the calling thread (not thread-safe: call from
  // one thread, e.g. Server::start_views) and starts the thread (first load at once).
  void start();
  // Waits until the first load pass finished (or `timeout`, at most 60 s).
  bool wait_first_load(std::chrono::milliseconds timeout);
  // Thread-safe, non-blocking, coalescing: one more full load pass soon.
  void request_refresh();
  // Unsubscribes from on_ddl, wakes and joins the thread (a running load finishes
  // first, bounded by the connect / read timeouts). Idempotent.
  void stop();

 private:
  using Target = RefreshLoop::Target;
  using Clock = std::chrono::steady_clock;

  void load_target(Target& t);
  // Connects as the metadata user and loads every database of `t` (blocking).
  std::optional<std::map<std::string, authz::ViewCatalog>> load_listener(const Target& t, std::string& why);

  std::shared_ptr<const Runtime> rt_;
  Logger& log_;
  sql::mysql::MySQL_Driver* driver_ = nullptr;
  std::shared_ptr<ViewPublisher> publisher_;  // shared with the other protocol's loader
  DdlHook::Token ddl_token_ = 0;  // Runtime::on_ddl subscription (0: none)
  RefreshLoop loop_;  // last member: its thread stops before the rest goes
};

}  // namespace segproxy::proxy
