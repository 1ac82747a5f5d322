#include "daemon/server.hpp"

#include "authz/sql/statement_limits.hpp"

#include <pthread.h>

#include <csignal>
#include <exception>

#include "daemon/control/admin_server.hpp"
#include "daemon/net/accept_refusal.hpp"
#include "daemon/audit_setup.hpp"
#include "daemon/audit_ship.hpp"
#include "daemon/config_check.hpp"
#include "daemon/control/control_plane.hpp"
#include "daemon/control/fleet_registry.hpp"
#include "daemon/control/fleet_sync.hpp"
#include "daemon/control/grant_fleet.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/metrics/metrics_http.hpp"
#include "daemon/mysql/backend_probes.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/stack_thread.hpp"
#include "daemon/session/audit_waiter.hpp"
#include "daemon/session/refusal_audit.hpp"
#include "daemon/catalog/view_loader.hpp"

namespace segproxy::proxy {

Server::Server(std::shared_ptr<const Runtime> rt, Logger& log, bool enforce_policy)
    : rt_(std::move(rt)), log_(log), enforce_policy_(enforce_policy) {
  metrics_ = std::make_unique<ProxyMetrics>(
      kVersion, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  probes_ = std::make_unique<BackendProbes>(metrics_.get());
  unsigned n = rt_->config.threads != 0 ? rt_->config.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<asio::io_context>(1));
  if (rt_->config.handshake_threads > 0) {
    handshakes_ = std::make_unique<HandshakeThreads>(rt_->config.handshake_threads, rt_->config.handshake_nice);
    if (!handshakes_->priority_error().empty()) {
      log_.warn("server.handshake_priority", {{"nice", std::to_string(rt_->config.handshake_nice)},
                                              {"error", handshakes_->priority_error()}});
    }
  }
}

Server::~Server() = default;

Services Server::session_services() {
  Services s{log_,    cancels_, active_sessions_, next_session_id_, true,    nullptr, nullptr, nullptr,
             nullptr, nullptr,  nullptr,          nullptr,          nullptr, nullptr, nullptr};
  s.enforce_policy = enforce_policy_;
  s.audit = audit_.get();
  s.registry = &sessions_;
  s.revocations = control_.get();
  s.grants = control_ ? &control_->grants() : nullptr;
  s.metrics = metrics_.get();
  s.dynamic = dynamic_.get();
  s.address_limits = address_limits_.get();
  s.probes = probes_.get();
  s.handshakes = handshakes_.get();
  return s;
}

std::size_t Server::next_worker() {
  const std::size_t i = next_worker_;
  next_worker_ = (next_worker_ + 1) % workers_.size();
  return i;
}

std::shared_ptr<const Runtime> Server::runtime() const {
  std::lock_guard lock(rt_mu_);
  return rt_;
}

awaitable<void> Server::accept_loop(tcp::acceptor& acceptor, std::string name) {
  ListenerMetrics& lm = metrics_->listener(name);
  for (;;) {
    const std::size_t worker_index = next_worker();
    auto& worker = *workers_[worker_index];
    error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(worker, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      log_.warn("listener.accept_failed", {{"listener", name}, {"error", ec.message()}});
      // e.g. EMFILE: back off briefly instead of spinning.
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    // The generation current at accept time serves this session (reloads keep the
    // listener set, so the name is found).
    auto rt = runtime();
    std::size_t listener_index = 0;
    while (listener_index < rt->listeners.size() && rt->listeners[listener_index].cfg->name != name) ++listener_index;
    if (listener_index == rt->listeners.size()) {
      error_code ignored;
      sock.close(ignored);
      continue;
    }
    lm.connections_accepted->inc();
    const config::LimitsConfig& lim = rt->config.limits;
    error_code addr_ec;
    const auto peer = sock.remote_endpoint(addr_ec);
    const std::string address = addr_ec ? std::string("unknown") : peer.address().to_string();
    auto admission = address_limits_->admit(
        address, name,
        AddressCaps{lim.max_handshakes_per_address, lim.max_connections_per_address, 0, lim.max_concurrent_handshakes});
    if (!admission.lease) {
      // Answered at once, nothing waited for: the cap exists so that a flood costs us
      // next to nothing.
      const bool listener_cap = admission.refusal == AddressLimits::Refusal::ListenerHandshakes;
      const char* limit = listener_cap ? "limits.max_concurrent_handshakes"
                          : admission.refusal == AddressLimits::Refusal::Handshakes
                              ? "limits.max_handshakes_per_address"
                              : "limits.max_connections_per_address";
      lm.refused(listener_cap ? RefuseReason::HandshakeLimit : RefuseReason::PerAddressLimit).inc();
      if (refusals_) {
        const std::string client = addr_ec ? address : address + ":" + std::to_string(peer.port());
        const bool mysql = rt->listeners[listener_index].cfg->protocol == config::Protocol::Mysql;
        refusals_->record(PreLoginRefusal{"", name, mysql ? "mysql" : "postgresql", client,
                                          listener_cap ? "handshake_limit" : "per_address_limit",
                                          std::string(limit) + " reached", mysql ? "08004" : "53300"},
                          std::chrono::steady_clock::now());
      }
      log_.debug("session.refused", {{"listener", name}, {"client", address}, {"reason", limit}});
      refuse_at_accept(sock, rt->listeners[listener_index].cfg->protocol == config::Protocol::Mysql);
      continue;
    }
    if (admission.evicted) {  // the listener was at its cap: a heavier address's connection makes room
      lm.refused(RefuseReason::HandshakeEvicted).inc();
      admission.evicted();
    }
    Services services = session_services();
    services.address = std::move(admission.lease);
    if (worker_index < audit_waiters_.size()) services.audit_waiter = audit_waiters_[worker_index].get();
    auto on_exit = [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_.error("session.exception", {{"error", ex.what()}});
      }
    };
    if (rt->listeners[listener_index].cfg->protocol == config::Protocol::Mysql) {
      auto session = std::make_shared<MysqlSession>(std::move(sock), std::move(rt), listener_index, std::move(services));
      session->set_refusal_audit(refusals_.get());
      asio::co_spawn(worker, MysqlSession::run(std::move(session)), on_exit);
      continue;
    }
    auto session = std::make_shared<PgSession>(std::move(sock), std::move(rt), listener_index, std::move(services));
    session->set_refusal_audit(refusals_.get());
    asio::co_spawn(worker, PgSession::run(std::move(session)), on_exit);
  }
}

// Stops accepting, tells every live session (FATAL 57P01, as PostgreSQL does on a
// shutdown request; each writes its session.close record), waits up to 5 s for them to
// end, then stops the I/O threads.
awaitable<void> Server::graceful_stop(std::vector<std::unique_ptr<tcp::acceptor>>& acceptors, int sig) {
  log_.info("server.stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"},
                                {"sessions", std::to_string(sessions_.size())}});
  for (auto& a : acceptors) {
    error_code ignored;
    a->close(ignored);
  }
  sessions_.post_to_all([](LiveSession& s) {
    s.terminate("57P01", "terminating connection due to administrator command", Termination::Close);
  });
  asio::steady_timer t(main_ctx_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (active_sessions_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(20));
    error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  if (active_sessions_.load() > 0)
    log_.warn("server.stop_timeout", {{"sessions", std::to_string(active_sessions_.load())}});
  for (auto& w : workers_) w->stop();
  main_ctx_.stop();
}

int Server::run() {
  const auto rt0 = runtime();  // the start generation (a reload may swap rt_ meanwhile)
  if (rt0->config.audit) {
    std::string error;
    try {
      audit::FileSinkDeps deps;
      deps.observer = make_audit_observer(*metrics_);
      audit_ = audit::FileSink::open(to_audit_config(*rt0->config.audit), error, std::move(deps));
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!audit_) {
      // Nothing may be served that cannot be recorded.
      log_.error("audit.open_failed", {{"dir", rt0->config.audit->dir}, {"error", error}});
      return 1;
    }
    refusals_ = std::make_unique<RefusalAudit>(audit_.get());
    for (auto& w : workers_) audit_waiters_.push_back(std::make_unique<AuditWaiter>(w->get_executor(), *audit_));
    log_.info("audit.ready", {{"dir", rt0->config.audit->dir}, {"durability", rt0->config.audit->durability}});
    if (rt0->config.audit->ship) {
      shipper_ = start_audit_shipper(*rt0->config.audit->ship, to_audit_config(*rt0->config.audit), *audit_,
                                     rt0->environment, log_, error);
      if (!shipper_) {
        log_.error("audit.ship_failed", {{"error", error}});
        return 1;
      }
    }
  } else {
    log_.warn("audit.disabled", {{"reason", "no audit: section in the configuration"}});
  }
  start_dynamic_credentials(*rt0);
  if (!start_control()) return 1;
  // Learned view dependencies: loaded once before serving (so the first statements
  // already see them), then refreshed in the background and after DDL (Runtime::on_ddl).
  start_views(rt0);
  if (views_ && !views_->wait_first_load(2 * rt0->config.limits.backend_connect_timeout + std::chrono::seconds(10))) {
    log_.warn("views.first_load_pending", {{"error", "serving before the first view load finished"}});
  }
  start_wal_catalogs(rt0, nullptr);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (std::size_t i = 0; i < rt0->listeners.size(); ++i) {
    const auto& l = *rt0->listeners[i].cfg;
    error_code ec;
    auto addr = asio::ip::make_address(l.listen.host, ec);
    if (ec) {
      tcp::resolver resolver(main_ctx_);
      auto results = resolver.resolve(l.listen.host, std::to_string(l.listen.port), ec);
      if (ec || results.empty()) {
        log_.error("listener.bind_failed", {{"listener", l.name}, {"error", "cannot resolve " + l.listen.host}});
        stop_control();
        return 1;
      }
      addr = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(addr, l.listen.port);
    auto acc = std::make_unique<tcp::acceptor>(main_ctx_);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      log_.error("listener.bind_failed",
                 {{"listener", l.name}, {"address", l.listen.host + ":" + std::to_string(l.listen.port)},
                  {"error", ec.message()}});
      stop_control();
      return 1;
    }
    log_.info("listener.ready", {{"listener", l.name},
                                 {"protocol", l.protocol == config::Protocol::Postgres ? "postgres" : "mysql"},
                                 {"address", l.listen.host + ":" + std::to_string(l.listen.port)}});
    acceptors.push_back(std::move(acc));
    asio::co_spawn(main_ctx_, accept_loop(*acceptors.back(), l.name), asio::detached);
  }

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  // Sessions classify SQL on these threads: stack for the deepest configurable nesting.
  const std::size_t stack = std::max<std::size_t>(
      8u << 20, authz::sql::pg_parse_stack_needed(authz::sql::kMaxConfigurableParseDepth) + (1u << 20));
  std::vector<StackThread> threads;
  for (auto& w : workers_) {
    guards.push_back(asio::make_work_guard(*w));
    threads.emplace_back(stack, [&ctx = *w, this] {
      pthread_setname_np(pthread_self(), "segproxy-io");
      for (;;) {
        try {
          ctx.run();
          return;
        } catch (const std::exception& ex) {
          log_.error("worker.exception", {{"error", ex.what()}});
        }
      }
    });
  }

  asio::signal_set signals(main_ctx_, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code& ec, int sig) {
    if (ec) return;
    asio::co_spawn(main_ctx_, graceful_stop(acceptors, sig), asio::detached);
  });
  // SIGHUP reloads the configuration (on the control thread: loading blocks).
  asio::signal_set hup(main_ctx_, SIGHUP);
  std::function<void(const error_code&, int)> on_hup = [&](const error_code& ec, int) {
    if (ec) return;
    asio::post(control_ctx_, [this] { reload("sighup"); });
    hup.async_wait(on_hup);
  };
  hup.async_wait(on_hup);
  std::signal(SIGPIPE, SIG_IGN);
  log_.info("server.started", {{"threads", std::to_string(workers_.size())}});
  if (!enforce_policy_)
    log_.warn("policy.disabled", {{"reason", "--bench-policy-off: statements are NOT checked (benchmarking only)"}});
  main_ctx_.run();
  // Completions still queued on main_ctx_ (the accepts aborted when graceful_stop closed
  // the acceptors, when no session kept it running) own sockets of the worker contexts:
  // run them now, while those contexts exist; left queued they were destroyed in
  // ~io_context after workers_ (ASan: heap-use-after-free at every shutdown).
  main_ctx_.restart();
  main_ctx_.poll();
  for (auto& w : workers_) w->stop();
  for (auto& t : threads) t.join();
  // Steps still queued unwind their sessions through the (stopped) workers' queues.
  handshakes_.reset();
  stop_control();
  if (dynamic_) dynamic_->stop(true);  // drops the users this process minted
  log_.info("server.stopped");
  return 0;
}

}  // namespace segproxy::proxy
