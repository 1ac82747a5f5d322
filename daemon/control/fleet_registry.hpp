#pragma once
// The instance registry (issue 16, docs/fleet.md): a leased key
// `<prefix>/instances/<instance>` that this instance keeps alive from its own thread
// (blocking etcd client, every call bounded) and deletes (lease revoke) on stop.
// etcd being unreachable is logged and retried; it never affects sessions.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "fleet/instance_record.hpp"

namespace segproxy::proxy {

class Logger;

class FleetRegistry {
 public:
  // `snapshot` is called on the registry thread for each write (must be thread-safe).
  FleetRegistry(const config::ControlPlaneSettings& settings, std::string instance, Logger& log,
                std::function<fleet::InstanceRecord()> snapshot);
  ~FleetRegistry();
  FleetRegistry(const FleetRegistry&) = delete;
  FleetRegistry& operator=(const FleetRegistry&) = delete;

  // False (with `error`) when the client cannot be built (TLS files). Starts the thread.
  bool start(std::string& error);
  // Revokes the lease (bounded) and joins the thread.
  void stop();

 private:
  void run();

  config::ControlPlaneSettings settings_;
  std::string instance_;
  Logger& log_;
  std::function<fleet::InstanceRecord()> snapshot_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace segproxy::proxy
