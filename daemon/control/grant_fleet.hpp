#pragma once
// Emergency grants through etcd (docs/fleet.md "Grants"): this instance's view of
// `<prefix>/grants/`, kept by an etcd::PrefixMirror on its own thread and handed to one
// hook (ControlPlane::apply_fleet_grants) after every resync and change.
//
// Keys: `<prefix>/grants/<id>`, the value is the grant as the grants file stores it
// (authz/grants/grant.hpp encode_grant_line), put with an etcd lease that ends with the
// grant (etcd deletes the key by itself; every instance also stops applying it at its
// expires_at and removes it from its own file).
//
// Unlike revocations, nothing is queued: a grant opens access, so one that etcd does not
// take is not made (the command fails). An ungrant that etcd does not take is applied
// on this instance at once; the expiry timer retries the delete, and the grant's TTL
// bounds how long other instances keep it. While etcd is unreachable every instance
// keeps the grants it last saw (its grants file), each until it expires.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "authz/grants/grant.hpp"
#include "config/config.hpp"
#include "daemon/control/fleet_mirror.hpp"

namespace segproxy::proxy {

class Logger;

std::string grants_prefix(std::string_view prefix);                    // "<prefix>/grants/"
std::string grant_key(std::string_view prefix, std::string_view id);  // "<prefix>/grants/<id>"

class GrantFleet {
 public:
  using Apply = std::function<void(std::vector<authz::Grant>)>;
  GrantFleet(const config::ControlPlaneSettings& settings, Logger& log, Apply apply);
  ~GrantFleet();
  GrantFleet(const GrantFleet&) = delete;
  GrantFleet& operator=(const GrantFleet&) = delete;

  // Builds the clients, applies etcd's view once if it answers (before the listeners
  // open), then starts the thread. False: the TLS files cannot be read.
  bool start(std::string& error);
  void stop();

  struct WriteResult {
    bool ok = false;
    std::int64_t revision = 0;
    std::string error;
  };
  // Control thread: writes / deletes a grant in etcd (answers once the quorum has it).
  WriteResult put(const authz::Grant& g);
  WriteResult remove(const std::string& id);
  // Waits (bounded) until the watch has applied `revision`.
  bool wait_applied(std::int64_t revision);

 private:
  void run();
  void poll_once();

  config::ControlPlaneSettings settings_;
  Logger& log_;
  Apply apply_;
  std::string prefix_;

  FleetMirror etcd_;  // clients and the mirror of prefix_ (fleet_mirror.hpp)
  std::mutex write_mu_;

  std::mutex mu_;
  std::condition_variable applied_cv_;
  std::int64_t applied_revision_ = 0;  // under mu_
  bool unreachable_logged_ = false;    // fleet thread

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace segproxy::proxy
