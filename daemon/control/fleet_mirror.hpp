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

// The outcome of one fleet write to etcd.
struct FleetWriteResult {
  enum class Status : std::uint8_t {
    Written,  // the quorum has it: `revision` is the write's
    Expired,  // a put whose `expires_at` had passed: nothing written, nothing to wait for
    Failed,   // refused or no answer: `error`
  };
  Status status = Status::Failed;
  std::int64_t revision = 0;  // Written only
  std::string error;          // Failed only
};

// Puts `key` = `value` (answers once the quorum has it), under a lease that ends at
// `expires_at` when set: etcd deletes the key by itself then. Expired (nothing written)
// when `expires_at` has passed.
FleetWriteResult fleet_put(etcd::Client& client, const std::string& key, const std::string& value,
                           std::optional<std::chrono::system_clock::time_point> expires_at);
// Deletes `key`: Written (the delete's revision) or Failed.
FleetWriteResult fleet_delete(etcd::Client& client, const std::string& key);

}  // namespace segproxy::proxy
