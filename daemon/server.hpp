#pragma once
// Listeners and I/O threads. One io_context per worker thread (a session lives on one
// thread, so its two relay directions need no locks); acceptors run on the main
// context and hand each accepted socket to the next worker.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <memory>
#include <thread>
#include <vector>

#include "audit/file_sink.hpp"
#include "audit/store/shipper.hpp"
#include "protocols/admin/admin_protocol.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/cancel_registry.hpp"
#include "daemon/net/handshake_threads.hpp"
#include "daemon/log.hpp"
#include "daemon/memory_return.hpp"
#include "daemon/catalog/wal_catalog_loader.hpp"
#include "daemon/runtime.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {

class AdminServer;
class BackendProbes;
class DynamicCredentials;
class ControlPlane;
class FleetRegistry;
class FleetSync;
class GrantFleet;
class MetricsHttpServer;
class ProxyMetrics;
class ViewLoader;
class MysqlViewLoader;
// Defined in server_control.cpp (so server.cpp needs no Connector/C++ headers).
struct MysqlViewLoaderDeleter {
  void operator()(MysqlViewLoader* p) const;
};

class Server {
 public:
  Server(std::shared_ptr<const Runtime> rt, Logger& log, bool enforce_policy = true);
  ~Server();
  // Binds every listener, serves until SIGINT/SIGTERM; returns the process exit code.
  // SIGHUP and the admin socket's `reload` reload the configuration (server_control.cpp).
  int run();

  // Loads and validates the configuration file again and swaps it in atomically, or
  // keeps the running one (errors / restart_required say why). Audited as
  // config.reload. Thread-safe (reloads are serialised); blocks for the load.
  protocols::admin::ReloadResult reload(const std::string& trigger);
  std::shared_ptr<const Runtime> runtime() const;

 private:
  awaitable<void> accept_loop(tcp::acceptor& acceptor, std::string listener);
  std::size_t next_worker();  // index into workers_ (round robin)
  Services session_services();
  // server_control.cpp: the control thread's services (admin socket, metrics endpoint,
  // revocation pruning, backend probe for /readyz). False with a logged error.
  bool start_control();
  void stop_control();
  bool start_fleet(const Runtime& rt);
  void start_views(const std::shared_ptr<const Runtime>& rt);
  // The write-ahead catalogs of `rt` (daemon/catalog/wal_catalog_loader): carried over
  // from `previous` (null at start) where the backend is the same, then loaded; the first
  // load is awaited (bounded) so the generation's sessions see a catalog from the start.
  void start_wal_catalogs(const std::shared_ptr<const Runtime>& rt, const std::shared_ptr<const Runtime>& previous);
  void start_dynamic_credentials(const Runtime& rt);
  awaitable<void> probe_backends();
  awaitable<void> expire_grants();  // the emergency grants' expiry timer (control thread)
  awaitable<void> return_memory();  // malloc_trim after a burst of connections (control thread)
  std::pair<bool, std::string> readiness() const;

  mutable std::mutex rt_mu_;
  std::mutex reload_mu_;
  std::shared_ptr<const Runtime> rt_;
  Logger& log_;
  CancelRegistry cancels_;
  std::shared_ptr<AddressLimits> address_limits_ = std::make_shared<AddressLimits>();
  SessionRegistry sessions_;
  awaitable<void> graceful_stop(std::vector<std::unique_ptr<tcp::acceptor>>& acceptors, int signal);
  std::atomic<std::size_t> active_sessions_{0};
  MemoryReturn memory_return_;  // control thread only
  std::atomic<std::uint64_t> next_session_id_{0};
  // Declared before the sink (the sink reports to the metrics until its destructor's final
  // checkpoint) and before the workers (sessions count into both).
  std::unique_ptr<ProxyMetrics> metrics_;
  // MySQL stall probes (counts into metrics_; sessions' waiters in it: before the workers).
  std::unique_ptr<BackendProbes> probes_;
  std::unique_ptr<audit::FileSink> audit_;  // declared before the workers: outlives sessions
  // audit.ship: the central store's shipper (after the sink: stopped before it is destroyed).
  std::unique_ptr<audit::store::Shipper> shipper_;
  std::unique_ptr<class RefusalAudit> refusals_;  // session.refused before login (null without audit)
  std::unique_ptr<ControlPlane> control_;
  asio::io_context main_ctx_;
  asio::io_context control_ctx_{1};
  std::thread control_thread_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<FleetRegistry> fleet_;  // `control_plane:` set: the instance registry (issue 16)
  std::unique_ptr<FleetSync> fleet_sync_;  // `control_plane:` set: revocations through etcd
  std::unique_ptr<GrantFleet> grant_fleet_;  // `control_plane:` set: emergency grants through etcd
  std::unique_ptr<ViewLoader> views_;
  std::unique_ptr<MysqlViewLoader, MysqlViewLoaderDeleter> mysql_views_;  // null: no mysql listener has backend.metadata
  std::unique_ptr<WalCatalogLoader> wal_catalogs_;  // null: no listener has backend.metadata
  // Minted backend users (issue 7); destroyed after the workers (sessions hold leases),
  // stopped explicitly at the end of run() (drops what this process minted).
  std::unique_ptr<DynamicCredentials> dynamic_;
  std::atomic<bool> backends_reachable_{false};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  // One write-ahead waiter per worker (index = worker's), created with the audit sink.
  // Declared after workers_ and audit_: destroyed before the sink they listen to, after
  // run() has joined the threads that run their io_contexts.
  std::vector<std::unique_ptr<class AuditWaiter>> audit_waiters_;
  // Client TLS handshakes (`handshake_threads`; null: on the I/O threads). Declared after
  // workers_: destroyed first, while the contexts its queued steps resume on still exist.
  std::unique_ptr<HandshakeThreads> handshakes_;
  std::size_t next_worker_ = 0;
  bool enforce_policy_ = true;
};

}  // namespace segproxy::proxy
