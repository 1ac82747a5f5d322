#pragma once
// Revocations through etcd (issue 16, docs/fleet.md "Revocations"): this instance's
// view of `<prefix>/revocations/`, kept by an etcd::PrefixMirror on its own thread
// (blocking client, every call bounded), applied through one hook (ControlPlane::
// apply_fleet_set, the path that ends matching sessions) after every resync and change.
//
// The set handed to the hook is: the etcd view (base) + this instance's writes that
// the watch has not delivered yet (overlay, by revision) + its writes still waiting for
// etcd (pending, in order). Pending writes and the applied revision are kept in the
// applied-state file, so a restart while etcd is down enforces what it last knew (the
// set itself is the revocations file) and never loses a local revoke; pending writes
// are flushed before the next resync, in order.
//
// Staleness: etcd "confirms" the view when a resync's range or a periodic linearizable
// range (every 2 s) shows exactly the mirrored keys; etcd 3.4's progress notifications
// are too rare (10 min) to rely on.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "authz/revocation_list.hpp"
#include "config/config.hpp"
#include "daemon/control/fleet_mirror.hpp"
#include "daemon/control/fleet_state.hpp"

namespace segproxy::proxy {

class Logger;

class FleetSync {
 public:
  using Apply = std::function<void(std::vector<authz::Revocation>)>;
  // `state_file` empty: the applied state lives in memory only (no admin section).
  FleetSync(const config::ControlPlaneSettings& settings, std::string state_file, Logger& log, Apply apply);
  ~FleetSync();
  FleetSync(const FleetSync&) = delete;
  FleetSync& operator=(const FleetSync&) = delete;

  // Loads the state file; `applied` is the set last applied (the revocations file).
  // Builds the clients, catches up once when etcd answers (flush pending, resync,
  // apply: before the listeners open), then starts the thread. False: TLS files or a
  // broken state file (the proxy must not start and forget queued revokes).
  bool start(std::vector<authz::Revocation> applied, std::string& error);
  void stop();

  struct WriteResult {
    std::int64_t revision = 0;  // the write's; 0 when queued or expired
    bool queued = false;
    bool expired = false;  // a revoke whose TTL had ended: nothing written, nothing to wait for
    std::string error;     // why it was queued
  };
  // Control thread: writes a revoke / unrevoke to etcd (answers once the quorum has
  // it). Unreachable, refused, or earlier writes still queued: queued (persisted) and
  // the caller applies at once with apply_current().
  WriteResult write(const FleetOp& op);
  // Waits (bounded) until the watch has applied `revision`.
  bool wait_applied(std::int64_t revision, std::chrono::milliseconds timeout);
  // Hands the current set to the hook (serialised with the fleet thread; idempotent).
  void apply_current();

  std::int64_t applied_revision() const { return applied_revision_.load(); }
  // Seconds since etcd last confirmed this view (since the process started when it
  // never did).
  double staleness_seconds() const;
  // Past max_staleness, or never confirmed (no state file, etcd never reached).
  bool stale() const;
  const config::ControlPlaneSettings& settings() const { return settings_; }

 private:
  void run();
  bool sleep_for(std::chrono::milliseconds d);  // false: stopping
  void catch_up();                               // flush + poll + apply (fleet thread / start)
  bool flush_pending();
  FleetWriteResult write_op(etcd::Client& client, const FleetOp& op);
  void take_view();   // mirror state -> base (mu_ held by caller: no)
  void check_view();  // periodic linearizable range
  void confirm(std::chrono::system_clock::time_point at, std::int64_t revision);
  void save();
  void unreachable(const std::string& what, const std::string& error);
  std::vector<authz::Revocation> current_set();  // mu_ held

  config::ControlPlaneSettings settings_;
  std::string state_file_;
  Logger& log_;
  Apply apply_;
  std::string prefix_;  // <prefix>/revocations/

  FleetMirror etcd_;  // clients and the mirror of prefix_ (fleet_mirror.hpp)

  mutable std::mutex mu_;  // base_, overlay_, pending_, file fields
  std::vector<authz::Revocation> base_;
  std::int64_t base_revision_ = 0;
  std::vector<std::pair<FleetOp, std::int64_t>> overlay_;
  std::vector<FleetOp> pending_;
  std::condition_variable applied_cv_;

  std::mutex apply_mu_;  // one apply at a time, set computed under it
  std::mutex write_mu_;  // one writer at a time (keeps writes in order)

  std::atomic<std::int64_t> applied_revision_{0};
  std::atomic<std::int64_t> confirmed_at_ms_{0};  // system clock; 0: never
  std::atomic<bool> reachable_{false};
  bool unreachable_logged_ = false;  // fleet thread
  int mismatches_ = 0;               // fleet thread
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::mutex save_mu_;
  std::chrono::steady_clock::time_point last_periodic_save_{};  // fleet thread

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace segproxy::proxy
