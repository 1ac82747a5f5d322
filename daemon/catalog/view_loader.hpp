#pragma once
// Learns view dependencies from the backend catalog (pg_rewrite / pg_depend), and the
// functions callable in attribute notation (pg_proc), over a libpq metadata connection
// and hands them to the Runtime's PolicyEngine
// (PolicyEngine::set_views), so a view counts as every relation it reads.
//
// One ViewLoader per Runtime (configuration generation). It runs on its own thread
// (libpq is blocking; never on the I/O threads): for every postgres listener with
// `backend.metadata`, it connects as the metadata user to each database that a
// segment with a credential for that listener may use, runs kViewDependencyQuery and
// builds a ViewCatalog per (listener, database). Catalogs of the same database on
// several listeners are merged (union) before set_views(database, ...). It loads once
// at start(), then every `refresh` (per listener; 0 = never on a timer), and whenever
// request_refresh() is called (it subscribes to Runtime::on_ddl). A failed load keeps
// the last good catalog (or none: views are then judged by name and by config pins)
// and logs a warning. Passwords are read at each load and never logged.
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

#include "authz/credential_store.hpp"
#include "authz/view_catalog.hpp"
#include "config/config.hpp"
#include "daemon/log.hpp"
#include "daemon/catalog/refresh_loop.hpp"
#include "daemon/runtime.hpp"
#include "daemon/catalog/view_publisher.hpp"

namespace segproxy::proxy {

// (view_schema, view_name, ref_schema, ref_name) for every view and materialized view
// outside pg_catalog / information_schema, over all of its rewrite rules; references
// to tables, partitioned tables, views, materialized views and foreign tables; no
// self-references.
extern const char* const kViewDependencyQuery;
// Names of the functions callable in attribute notation (`x.f` = f(x)): one argument
// (after defaults / as VARIADIC) of a table/view/composite row type, a domain over one,
// a type it casts to implicitly, record, "any" or a polymorphic element type. Loaded
// with the views into the same ViewCatalog (ViewCatalog::attribute_functions).
extern const char* const kAttributeFunctionQuery;

// The databases of the segments that hold a credential for listener `l`, sorted, unique.
std::vector<std::string> metadata_databases(const config::Config& cfg, const config::Listener& l);

// libpq keyword/value pairs (for PQconnectdbParams, expand_dbname = 0) of a metadata
// connection, without the password. `hostaddr` is the numeric address to connect to
// when the TLS server name differs from backend.host (empty: connect to backend.host).
std::vector<std::pair<std::string, std::string>> metadata_conn_params(
    const config::Listener& l, const std::string& database, std::chrono::milliseconds connect_timeout,
    const std::string& hostaddr = {});

// The metadata password (password_file: whole file, one trailing "\n"/"\r\n" stripped;
// password_env, read through `environment`). False with `why` (never the value) on failure.
bool read_metadata_password(const config::MetadataCredential& m, const authz::EnvironmentLookup& environment,
                            authz::Secret& out, std::string& why);

// Connects and runs kViewDependencyQuery and kAttributeFunctionQuery on one database
// (blocking). nullopt + why on failure of either.
std::optional<authz::ViewCatalog> load_view_catalog(const config::Listener& l,
                                                    const std::string& database,
                                                    std::chrono::milliseconds connect_timeout,
                                                    const authz::EnvironmentLookup& environment,
                                                    std::string& why);

class ViewLoader {
 public:
  ViewLoader(std::shared_ptr<const Runtime> rt, Logger& log, std::shared_ptr<ViewPublisher> publisher);
  ~ViewLoader();  // stop()
  ViewLoader(const ViewLoader&) = delete;
  ViewLoader& operator=(const ViewLoader&) = delete;

  // Whether any listener has backend.metadata (otherwise start() does nothing).
  bool enabled() const { return !loop_.empty(); }
  // Starts the thread (first load at once) and subscribes to Runtime::on_ddl.
  void start();
  // Waits until the first load pass finished (or `timeout`); true when it finished.
  bool wait_first_load(std::chrono::milliseconds timeout);
  // Thread-safe, non-blocking, coalescing: one more full load pass soon.
  void request_refresh();
  // Unsubscribes from on_ddl, wakes and joins the thread (a running libpq call finishes first,
  // bounded by backend_connect_timeout and the query's statement_timeout). Idempotent.
  void stop();

 private:
  using Target = RefreshLoop::Target;
  using Clock = std::chrono::steady_clock;

  void load_target(Target& t);

  std::shared_ptr<const Runtime> rt_;
  Logger& log_;
  std::shared_ptr<ViewPublisher> publisher_;  // shared with the other protocol's loader
  DdlHook::Token ddl_token_ = 0;  // Runtime::on_ddl subscription (0: none)
  RefreshLoop loop_;  // last member: its thread stops before the rest goes
};

}  // namespace segproxy::proxy
