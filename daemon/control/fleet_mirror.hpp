#pragma once
// The etcd plumbing of the fleet threads (docs/fleet.md): a client built from
// control_plane.etcd, the pair of clients and the prefix mirror that the revocations
// (fleet_sync) and the grants (grant_fleet) each keep, and the two writes they make.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace segproxy::etcd {
class Client;
class PrefixMirror;
}  // namespace segproxy::etcd

namespace segproxy::proxy {

// A client of control_plane.etcd; nullptr and `error` when its TLS files cannot be read.
std::unique_ptr<etcd::Client> open_fleet_client(const config::EtcdSettings& etcd, std::string& error);

// This instance's view of one prefix, and the clients that keep and change it.
struct FleetMirror {
  std::unique_ptr<etcd::Client> client;        // fleet thread (and start)
  std::unique_ptr<etcd::Client> write_client;  // control thread, under its owner's write lock
  std::unique_ptr<etcd::PrefixMirror> mirror;  // over `client`: fleet thread

  FleetMirror();
  ~FleetMirror();
  FleetMirror(const FleetMirror&) = delete;
  FleetMirror& operator=(const FleetMirror&) = delete;

  // Builds both clients and the mirror of `prefix`; false and `error` when the TLS files
  // cannot be read (nothing is contacted yet: the first poll does).
  bool open(const config::EtcdSettings& etcd, const std::string& prefix, std::string& error);
};

// Puts `key` = `value` (answers once the quorum has it), under a lease that ends at
// `expires_at` when set: etcd deletes the key by itself then. Nothing is written and
// `revision` is 0 when `expires_at` has passed. False and `error`: refused or no answer.
bool fleet_put(etcd::Client& client, const std::string& key, const std::string& value,
               std::optional<std::chrono::system_clock::time_point> expires_at, std::int64_t& revision,
               std::string& error);
// Deletes `key`; `revision` is the delete's. False and `error`: refused or no answer.
bool fleet_delete(etcd::Client& client, const std::string& key, std::int64_t& revision, std::string& error);

}  // namespace segproxy::proxy
