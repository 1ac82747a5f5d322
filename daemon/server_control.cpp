// The server's control thread: admin socket, metrics endpoint, configuration reload,
// revocation pruning and the backend reachability probe behind /readyz.
#include <sstream>

#include "daemon/control/admin_server.hpp"
#include "daemon/audit_setup.hpp"
#include "daemon/config_check.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/control/control_plane.hpp"
#include "daemon/control/fleet_registry.hpp"
#include "daemon/control/fleet_sync.hpp"
#include "daemon/control/grant_fleet.hpp"
#include "daemon/metrics/metrics_http.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/reload.hpp"
#include "daemon/server.hpp"
#include "daemon/audit_ship.hpp"
#include "daemon/catalog/mysql_view_loader.hpp"
#include "daemon/catalog/view_loader.hpp"

namespace segproxy::proxy {
namespace admin = protocols::admin;
namespace {

constexpr std::chrono::seconds kProbeEvery{5};
constexpr std::chrono::seconds kProbeTimeout{2};
constexpr std::chrono::seconds kPruneEvery{60};
constexpr std::chrono::seconds kGrantTick{1};
constexpr std::chrono::seconds kMemoryTick{5};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

// Minted backend users for segments with `dynamic:` credentials (daemon/credentials/dynamic_credentials).
void Server::start_dynamic_credentials(const Runtime& rt) {
  auto targets = dynamic_targets(rt.config, *rt.credentials);
  if (targets.empty()) return;
  DynamicCredentialOptions opts;
  opts.instance = rt.config.audit && !rt.config.audit->instance.empty() ? rt.config.audit->instance : host_name();
  opts.connect_timeout = rt.config.limits.backend_connect_timeout;
  opts.log = &log_;
  DynamicCredentialHooks hooks;
  hooks.close_sessions = [this](const std::string& user) {
    sessions_.post_matching([&user](std::uint64_t, const SessionFacts& f) { return f.backend_user == user; },
                            [](LiveSession& s) {
                              s.terminate("57P01", "terminating connection: segproxy backend credential expired or revoked",
                                          Termination::Close);
                            });
  };
  hooks.audit = [this](std::string_view event, const AuditDetails& details) {
    if (!audit_) return;
    audit::AuditRecord rec;
    rec.event = std::string(event);
    for (const auto& [k, v] : details) {
      if (k == "user") rec.backend_user = v;
      else if (k == "segment") rec.segment = v;
      else if (k == "listener") rec.listener = v;
      else if (k == "identity") rec.spiffe_id = v;
      else rec.detail += (rec.detail.empty() ? "" : " ") + k + "=" + v;
    }
    audit_->submit(std::move(rec), [](bool) {});
  };
  hooks.admin_failure = [this](const std::string& segment, const std::string& listener) {
    log_.error("credential.admin_failed", {{"segment", segment}, {"listener", listener}});
    metrics_->listener(listener).refused(RefuseReason::BackendUnavailable).inc();
  };
  const std::string instance = opts.instance;
  dynamic_ = std::make_unique<DynamicCredentials>(std::move(targets), std::move(opts), std::move(hooks));
  dynamic_->start();
  log_.info("credentials.dynamic_ready", {{"instance", instance}});
}

bool Server::start_control() {
  const auto rt = runtime();
  const std::string revocations_file = rt->config.admin ? rt->config.admin->revocations_file : std::string();
  const std::string grants_file = rt->config.admin ? rt->config.admin->grants_file : std::string();
  ControlDeps deps{log_,
                   sessions_,
                   audit_.get(),
                   metrics_.get(),
                   [this] { return runtime(); },
                   [this](const std::string& trigger) { return reload(trigger); },
                   started_,
                   dynamic_.get()};
  control_ = std::make_unique<ControlPlane>(std::move(deps), revocations_file, grants_file);
  std::string error;
  if (!control_->load(error)) {
    log_.error("revocations.load_failed", {{"file", revocations_file}, {"error", error}});
    return false;
  }
  metrics_->set_revocations_active([c = control_.get()] { return static_cast<double>(c->revocations_active()); });
  metrics_->set_grants_active([c = control_.get()] { return static_cast<double>(c->grants_active()); });
  if (audit_) {
    metrics_->set_audit_queue_depth([a = audit_.get()] { return static_cast<double>(a->stats().queued); });
  }
  if (shipper_) {
    metrics_->set_audit_ship_lag([s = shipper_.get()] { return static_cast<double>(s->status().lag_records()); },
                                 [s = shipper_.get()] { return s->status().lag_seconds; });
  }
  metrics_->set_crl_next_update_seconds([this] {
    const auto now = std::chrono::system_clock::now();
    return crl_next_update_seconds(*runtime(), now);
  });
  if (rt->config.admin) {
    AdminServerOptions opts;
    opts.socket_path = rt->config.admin->socket;
    for (auto uid : rt->config.admin->allowed_uids) opts.allowed_uids.push_back(static_cast<uid_t>(uid));
    admin_ = std::make_unique<AdminServer>(control_ctx_, std::move(opts), *control_);
    if (!admin_->start(error)) {
      log_.error("admin.start_failed", {{"socket", rt->config.admin->socket}, {"error", error}});
      admin_.reset();
      return false;
    }
    log_.info("admin.ready", {{"socket", rt->config.admin->socket}});
  }
  if (rt->config.metrics) {
    const auto& ep = rt->config.metrics->listen;
    metrics_http_ = std::make_unique<MetricsHttpServer>(
        control_ctx_, ep.host, ep.port, [m = metrics_.get()] { return m->render(); },
        [this] { return readiness(); });
    if (auto ec = metrics_http_->start()) {
      log_.error("metrics.start_failed",
                 {{"address", ep.host + ":" + std::to_string(ep.port)}, {"error", ec.message()}});
      metrics_http_.reset();
      admin_.reset();
      return false;
    }
    log_.info("metrics.ready", {{"address", ep.host + ":" + std::to_string(ep.port)}});
  }
  if (!start_fleet(*rt)) {
    metrics_http_.reset();
    admin_.reset();
    return false;
  }
  asio::co_spawn(control_ctx_, probe_backends(), asio::detached);
  asio::co_spawn(control_ctx_, expire_grants(), asio::detached);
  asio::co_spawn(control_ctx_, return_memory(), asio::detached);
  control_thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(control_ctx_);
    for (;;) {
      try {
        control_ctx_.run();
        return;
      } catch (const std::exception& ex) {
        log_.error("control.exception", {{"error", ex.what()}});
      }
    }
  });
  return true;
}

// The instance registry (daemon/control/fleet_registry, docs/fleet.md): its own thread.
bool Server::start_fleet(const Runtime& rt) {
  if (!rt.config.control_plane) return true;
  const config::ControlPlaneSettings& cp = *rt.config.control_plane;
  const std::string instance = cp.instance.empty() ? host_name() : cp.instance;
  // Revocations through etcd first: the view is caught up (bounded) before the
  // listeners open; the applied state sits next to the revocations file.
  const std::string state_file = rt.config.admin ? rt.config.admin->revocations_file + ".fleet" : std::string();
  if (state_file.empty()) {
    log_.warn("fleet.state_in_memory", {{"reason", "no admin: section, so no revocations_file: a restart while etcd "
                                                   "is down starts without the fleet's revocations"}});
  }
  fleet_sync_ = std::make_unique<FleetSync>(cp, state_file, log_, [c = control_.get()](std::vector<authz::Revocation> set) {
    c->apply_fleet_set(std::move(set));
  });
  std::string sync_error;
  if (!fleet_sync_->start(*control_->list().snapshot(), sync_error)) {
    log_.error("fleet.start_failed", {{"error", sync_error}});
    fleet_sync_.reset();
    return false;
  }
  control_->attach_fleet(fleet_sync_.get());
  // Emergency grants through etcd (daemon/control/grant_fleet): nothing queued, so no state file.
  grant_fleet_ = std::make_unique<GrantFleet>(cp, log_, [c = control_.get()](std::vector<authz::Grant> set) {
    c->apply_fleet_grants(std::move(set));
  });
  if (!grant_fleet_->start(sync_error)) {
    log_.error("fleet.start_failed", {{"error", sync_error}});
    grant_fleet_.reset();
    control_->attach_fleet(nullptr);
    fleet_sync_.reset();
    return false;
  }
  control_->attach_grant_fleet(grant_fleet_.get());
  metrics_->set_control_plane_staleness([f = fleet_sync_.get()] { return f->staleness_seconds(); });
  const std::int64_t started_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  fleet_ = std::make_unique<FleetRegistry>(cp, instance, log_, [this, started_at] {
    const auto current = runtime();
    fleet::InstanceRecord r;
    r.version = kVersion;
    r.config_sha256 = file_sha256_hex(current->config.source_path);
    for (const auto& l : current->config.listeners) {
      r.listeners.push_back({l.name, l.protocol == config::Protocol::Mysql ? "mysql" : "postgres",
                             l.listen.host + ":" + std::to_string(l.listen.port)});
    }
    r.sessions = active_sessions_.load(std::memory_order_relaxed);
    r.applied_revision = fleet_sync_->applied_revision();
    r.started_at = started_at;
    r.updated_at =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    return r;
  });
  std::string error;
  if (!fleet_->start(error)) {
    log_.error("fleet.start_failed", {{"error", error}});
    fleet_.reset();
    control_->attach_fleet(nullptr);
    control_->attach_grant_fleet(nullptr);
    metrics_->set_control_plane_staleness(nullptr);
    grant_fleet_.reset();
    fleet_sync_.reset();
    return false;
  }
  log_.info("fleet.registry_started", {{"instance", instance}, {"prefix", cp.etcd.prefix}});
  return true;
}

void Server::stop_control() {
  if (fleet_) fleet_->stop();  // revokes the lease: the instance leaves the registry
  if (fleet_sync_) fleet_sync_->stop();  // saves the applied state
  if (grant_fleet_) grant_fleet_->stop();
  if (!control_thread_.joinable()) return;
  asio::post(control_ctx_, [this] {
    if (admin_) admin_->stop();
    if (metrics_http_) metrics_http_->stop();
    control_ctx_.stop();
  });
  control_thread_.join();
  if (views_) views_->stop();
  if (mysql_views_) mysql_views_->stop();
  if (wal_catalogs_) wal_catalogs_->stop();
  metrics_->set_revocations_active(nullptr);
  metrics_->set_grants_active(nullptr);
  metrics_->set_audit_queue_depth(nullptr);
  metrics_->set_control_plane_staleness(nullptr);
  metrics_->set_audit_ship_lag(nullptr, nullptr);
  metrics_->set_crl_next_update_seconds(nullptr);
}

void MysqlViewLoaderDeleter::operator()(MysqlViewLoader* p) const { delete p; }

void Server::start_views(const std::shared_ptr<const Runtime>& rt) {
  auto publisher = std::make_shared<ViewPublisher>(rt);  // one per Runtime, both protocols
  auto next = std::make_unique<ViewLoader>(rt, log_, publisher);
  if (!next->enabled()) next.reset();
  if (next) next->start();
  auto old = std::move(views_);
  views_ = std::move(next);
  if (old) old->stop();  // joins its thread (bounded by backend_connect_timeout)
  // MySQL views (daemon/catalog/mysql_view_loader): the first load is awaited here (bounded), so
  // the runtime's sessions see the learned views from their first statement.
  std::unique_ptr<MysqlViewLoader, MysqlViewLoaderDeleter> my_next(new MysqlViewLoader(rt, log_, publisher));
  if (!my_next->enabled()) my_next.reset();
  if (my_next) my_next->start();
  auto my_old = std::move(mysql_views_);
  mysql_views_ = std::move(my_next);
  if (my_old) my_old->stop();
  if (mysql_views_ &&
      !mysql_views_->wait_first_load(2 * rt->config.limits.backend_connect_timeout + std::chrono::seconds(10))) {
    log_.warn("views.first_load_pending", {{"error", "serving before the first MySQL view load finished"}});
  }
}

void Server::start_wal_catalogs(const std::shared_ptr<const Runtime>& rt,
                                const std::shared_ptr<const Runtime>& previous) {
  if (previous) {
    // A catalog describes a backend: carried only where the listener still reaches the same one.
    rt->wal_catalogs.carry_from(previous->wal_catalogs, [&](std::size_t i) {
      return i < previous->config.listeners.size() &&
             previous->config.listeners[i].backend.endpoint == rt->config.listeners[i].backend.endpoint;
    });
  }
  auto next = std::make_unique<WalCatalogLoader>(rt, log_);
  if (!next->enabled()) next.reset();
  if (next) next->start();
  auto old = std::move(wal_catalogs_);
  wal_catalogs_ = std::move(next);
  if (old) old->stop();
  if (wal_catalogs_ &&
      !wal_catalogs_->wait_first_load(2 * rt->config.limits.backend_connect_timeout + std::chrono::seconds(10))) {
    log_.warn("wal_catalog.first_load_pending", {{"error", "serving before the first write-ahead catalog load finished"}});
  }
}

// Every kProbeEvery: can each listener's backend be reached over TCP? (Logging in would
// need a credential; reachability is what /readyz promises.)
awaitable<void> Server::probe_backends() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  auto last_prune = std::chrono::steady_clock::now();
  for (;;) {
    const auto rt = runtime();
    bool all_ok = true;
    for (const auto& l : rt->config.listeners) {
      tcp::resolver resolver(ex);
      error_code ec;
      auto results = co_await resolver.async_resolve(l.backend.endpoint.host, std::to_string(l.backend.endpoint.port),
                                                     asio::redirect_error(use_awaitable, ec));
      bool ok = false;
      if (!ec) {
        tcp::socket sock(ex);
        asio::steady_timer deadline(ex, kProbeTimeout);
        deadline.async_wait([&sock](const error_code& e) {
          if (!e) {
            error_code ignored;
            sock.close(ignored);
          }
        });
        co_await asio::async_connect(sock, results, asio::redirect_error(use_awaitable, ec));
        deadline.cancel();
        ok = !ec;
      }
      all_ok = all_ok && ok;
    }
    backends_reachable_.store(all_ok);
    if (std::chrono::steady_clock::now() - last_prune >= kPruneEvery) {
      control_->prune_expired();
      last_prune = std::chrono::steady_clock::now();
    }
    timer.expires_after(kProbeEvery);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
  }
}

// Emergency grants end by themselves: every kGrantTick the expired ones are removed and
// audited (admin.grant_expired). Sessions already stopped using them at their expiry
// (SessionGrants checks the time per statement); this is the record and the cleanup.
awaitable<void> Server::expire_grants() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  for (;;) {
    control_->expire_grants();
    timer.expires_after(kGrantTick);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
  }
}

// Every kMemoryTick: after a burst of connections has ended, the allocator's free pages
// go back to the kernel (daemon/memory_return.hpp), logged with the RSS before and after.
awaitable<void> Server::return_memory() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  for (;;) {
    timer.expires_after(kMemoryTick);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const std::size_t connections = active_sessions_.load(std::memory_order_relaxed);
    if (!memory_return_.should_trim(connections)) continue;
    const std::size_t before = resident_kib();
    return_free_memory();
    log_.info("memory.returned", {{"connections", std::to_string(connections)},
                                  {"rss_kib_before", std::to_string(before)},
                                  {"rss_kib_after", std::to_string(resident_kib())}});
  }
}

std::pair<bool, std::string> Server::readiness() const {
  if (!backends_reachable_.load()) return {false, "a backend is not reachable"};
  if (audit_ && !audit_->stats().healthy) return {false, "the audit log cannot be written"};
  std::string note;
  if (fleet_sync_ && fleet_sync_->stale()) {
    const std::string age = std::to_string(static_cast<long long>(fleet_sync_->staleness_seconds()));
    // refuse_new_sessions: not ready (new sessions are refused); keep_serving: ready,
    // and the body says how old the view is.
    if (fleet_sync_->settings().on_stale == config::OnStale::RefuseNewSessions) {
      return {false, "the control plane view is stale (" + age + "s): new sessions are refused"};
    }
    note = "control plane view stale (" + age + "s), on_stale: keep_serving";
  }
  // Shipping behind its bounds: still ready (sessions are recorded locally), but said so.
  if (const auto rt = runtime(); shipper_ && rt->config.audit && rt->config.audit->ship) {
    const std::string warning = audit_ship_warning(*rt->config.audit->ship, shipper_->status());
    if (!warning.empty()) note = note.empty() ? warning : note + "; " + warning;
  }
  return {true, note};
}

admin::ReloadResult Server::reload(const std::string& trigger) {
  std::lock_guard serial(reload_mu_);
  const auto old = runtime();
  admin::ReloadResult r;
  r.old_hash = old->config_hash;
  std::ostringstream err;
  auto next = load_runtime(old->config.source_path, old->statement_hash_key, err);
  if (!next) {
    r.errors = lines_of(err.str());
    if (r.errors.empty()) r.errors.push_back("the configuration could not be loaded");
  } else {
    log_rule_warnings(next->config, log_);
    r.new_hash = next->config_hash;
    r.restart_required = restart_required_changes(old->config, next->config);
    if (r.restart_required.empty()) {
      r.ok = true;
    } else {
      r.errors.push_back("not applied: these changes need a restart of segproxy");
    }
  }
  std::size_t adopted = 0;
  if (r.ok) {
    {
      std::lock_guard lock(rt_mu_);
      rt_ = next;
    }
    start_views(next);
    start_wal_catalogs(next, old);
    if (dynamic_) dynamic_->set_targets(dynamic_targets(next->config, *next->credentials));
    adopted = sessions_.post_to_all([next](LiveSession& s) { s.adopt(next); });
  }
  metrics_->config_reloads(r.ok ? ReloadOutcome::Success : ReloadOutcome::Failure).inc();
  std::string detail = "trigger=" + trigger + " old_hash=" + r.old_hash + " new_hash=" + r.new_hash;
  std::string reason;
  for (const auto& e : r.errors) reason += (reason.empty() ? "" : "; ") + e;
  for (const auto& e : r.restart_required) reason += (reason.empty() ? "" : "; ") + e;
  if (audit_) {
    audit::AuditRecord rec;
    rec.event = "config.reload";
    rec.decision = r.ok ? "allow" : "deny";
    rec.detail = detail;
    rec.reason = reason.substr(0, 4096);
    audit_->submit(std::move(rec)).wait();
  }
  if (r.ok) {
    log_.info("config.reloaded", {{"trigger", trigger},
                                  {"old_hash", r.old_hash},
                                  {"new_hash", r.new_hash},
                                  {"sessions", std::to_string(adopted)}});
  } else {
    log_.warn("config.reload_rejected", {{"trigger", trigger}, {"errors", reason}});
  }
  return r;
}

}  // namespace segproxy::proxy
