#include "daemon/control/fleet_registry.hpp"

#include <chrono>

#include "daemon/control/fleet_mirror.hpp"
#include "daemon/log.hpp"
#include "etcd/client.hpp"

namespace segproxy::proxy {
namespace {
// The record is rewritten (and the lease kept alive) every kHeartbeat; the lease lives
// kLeaseTtl, so a crashed instance disappears from `segproxyctl fleet` within it.
constexpr std::chrono::seconds kHeartbeat{5};
constexpr std::int64_t kLeaseTtl = 15;
constexpr std::chrono::seconds kRetry{2};
}  // namespace

struct FleetRegistry::State {
  std::unique_ptr<etcd::Client> client;
  std::int64_t lease = 0;
  bool unreachable_logged = false;
};

FleetRegistry::FleetRegistry(const config::ControlPlaneSettings& settings, std::string instance,
                             Logger& log, std::function<fleet::InstanceRecord()> snapshot)
    : settings_(settings), instance_(std::move(instance)), log_(log), snapshot_(std::move(snapshot)),
      state_(std::make_unique<State>()) {}

FleetRegistry::~FleetRegistry() { stop(); }

bool FleetRegistry::start(std::string& error) {
  state_->client = open_fleet_client(settings_.etcd, error);
  if (!state_->client) return false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void FleetRegistry::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FleetRegistry::run() {
  State& s = *state_;
  const std::string key = fleet::instance_key(settings_.etcd.prefix, instance_);
  auto wait = [this](std::chrono::seconds d) {
    std::unique_lock<std::mutex> lk(mu_);
    return !cv_.wait_for(lk, d, [this] { return stopping_; });  // true: keep going
  };
  auto unreachable = [&](const std::string& what, const std::string& message) {
    if (!s.unreachable_logged) {
      log_.warn("fleet.registry_failed", {{"op", what}, {"error", message}});
      s.unreachable_logged = true;
    }
  };
  do {
    if (s.lease == 0) {
      auto g = s.client->lease_grant(kLeaseTtl);
      if (!g) {
        unreachable("lease_grant", g.error.message);
        continue;
      }
      s.lease = g.value->id;
    } else {
      auto k = s.client->lease_keepalive(s.lease);
      if (!k) {
        unreachable("lease_keepalive", k.error.message);
        continue;
      }
      if (k.value->ttl == 0) {  // expired while etcd was unreachable: start over
        s.lease = 0;
        continue;
      }
    }
    fleet::InstanceRecord rec = snapshot_();
    rec.instance = instance_;
    auto p = s.client->put(key, fleet::encode_instance(rec), s.lease);
    if (!p) {
      if (p.error.kind == etcd::Error::Kind::Server) s.lease = 0;  // e.g. lease not found
      unreachable("put", p.error.message);
      continue;
    }
    if (s.unreachable_logged) log_.info("fleet.registry_restored", {{"key", key}});
    s.unreachable_logged = false;
  } while (wait(s.lease == 0 ? kRetry : kHeartbeat));
  // The key goes with the lease. Skipped while etcd is failing: shutdown must not wait
  // for members that do not answer (the lease then simply expires).
  if (s.lease != 0 && !s.unreachable_logged) {
    auto r = s.client->lease_revoke(s.lease);
    if (!r) log_.warn("fleet.registry_revoke_failed", {{"error", r.error.message}});
  }
}

}  // namespace segproxy::proxy
