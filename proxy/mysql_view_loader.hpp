#pragma once
// Learns MySQL / MariaDB view dependencies over a Connector/C++ 1.1 metadata connection
// and hands them to the Runtime's PolicyEngine (PolicyEngine::set_views), so a view
// counts as every table it reads - the MySQL counterpart of proxy/view_loader.
//
// For every mysql listener with `backend.metadata`, for each database a segment with a
// credential on that listener may use, it runs kMysqlViewQuery (information_schema.VIEWS)
// and analyses each VIEW_DEFINITION with authz::sql::classify_mysql (current database =
// the view's schema, server version and lower_case_table_names from the connection): the
// tables the definition names are the view's reads (schema = database name, as the
// MySQL sessions' analyzer reports them). Fail-closed: a definition that is empty (the
// login lacks SHOW VIEW), does not classify as one clean DML statement, or calls a
// function that is not a safe built-in is pinned to a sentinel relation that reads the
// view back, so any statement reading the view is denied as cyclic ("definition not
// understood"); a segment's `views:` pin for that view still replaces it.
// TODO: MySQL 8 has information_schema.VIEW_TABLE_USAGE (exact, no analysis needed);
// this loader analyses VIEW_DEFINITION on both servers (MariaDB is what is tested).
//
// One MysqlViewLoader per Runtime, on its own thread (Connector/C++ is blocking; never
// on the I/O threads). It loads once at start(), then every `refresh` (per listener;
// 0 = never on a timer), and whenever request_refresh() is called. It does not attach
// Runtime::on_ddl (one slot, owned by the PostgreSQL ViewLoader). Catalogs of the same
// database on several mysql listeners are merged (union) before set_views(database).
// A database name shared with a postgres listener that also learns views is published
// by both loaders (the last load wins): avoid that, a warning is logged. A failed load
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
#include "proxy/log.hpp"
#include "proxy/refresh_loop.hpp"
#include "proxy/runtime.hpp"
#include "proxy/view_publisher.hpp"

namespace sql::mysql {
class MySQL_Driver;
}

namespace segproxy::proxy {

// (TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION) of the views of one database (parameter 1).
extern const char* const kMysqlViewQuery;

struct MysqlViewRow {
  std::string schema;
  std::string name;
  std::string definition;  // empty: not visible to the metadata login
};

// The relation a view whose definition was not understood reads; it reads the view
// back, so the expansion is cyclic and every access through the view is denied.
authz::RelationName mysql_unreadable_view_sentinel(const authz::RelationName& view);

// Builds the catalog of `rows` (pure). `base` carries the server's version, flavour and
// lower_case_table_names; current_database is set per view. View names are lower-cased
// for lower_case_table_names 1 and 2 (as the analyzer reports table names). `unreadable`
// (optional) receives the views pinned fail-closed, with the reason.
authz::ViewCatalog build_mysql_view_catalog(
    const std::vector<MysqlViewRow>& rows, const authz::sql::MysqlClassifierOptions& base,
    std::vector<std::pair<authz::RelationName, std::string>>* unreadable = nullptr);

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
  // Wakes and joins the thread (a running load finishes first, bounded by the
  // connect / read timeouts). Idempotent.
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
  RefreshLoop loop_;  // last member: its thread stops before the rest goes
};

}  // namespace segproxy::proxy
