#pragma once
// The fleet's revocation state (issue 16, docs/fleet.md), without I/O to etcd:
//   keys     <prefix>/revocations/<kind>/<sha256 hex of the normalised value>, the value
//            is the revocation as the revocations file stores it (one JSON object)
//   ops      a put (revoke) or a delete (unrevoke) this instance wants in etcd
//   overlay  applying ops in order on top of a base set (the etcd mirror)
//   file     the applied-state file: last applied revision, when etcd last confirmed
//            this view, and the ops still waiting for etcd (written atomically)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/revocation_list.hpp"

namespace segproxy::proxy {

std::string revocations_prefix(std::string_view prefix);  // "<prefix>/revocations/"
std::string revocation_key(std::string_view prefix, authz::RevocationKind kind, std::string_view value);

// The etcd value of a revocation and back (strict: the revocations file's line format).
std::string encode_fleet_revocation(const authz::Revocation& r);
std::optional<authz::Revocation> decode_fleet_revocation(std::string_view value, std::string& error);

struct FleetOp {
  enum class Type { Put, Delete };
  Type type = Type::Put;
  authz::Revocation revocation;  // Put: all of it; Delete: kind and value
  friend bool operator==(const FleetOp&, const FleetOp&) = default;
};

// Applies `op` to `set` (a put replaces the entry with the same kind and value).
void apply_op(std::vector<authz::Revocation>& set, const FleetOp& op);

struct FleetStateFile {
  std::int64_t revision = 0;      // etcd revision of the last applied view
  std::int64_t confirmed_at = 0;  // unix seconds etcd last confirmed it (0: never)
  std::vector<FleetOp> pending;   // not yet in etcd, in order
  friend bool operator==(const FleetStateFile&, const FleetStateFile&) = default;
};

std::string encode_state_file(const FleetStateFile& s);
// Strict, bounded (16 MiB); nullopt + error for anything malformed.
std::optional<FleetStateFile> decode_state_file(std::string_view text, std::string& error);
// A missing file is an empty state; an unreadable or malformed one an error.
std::optional<FleetStateFile> load_state_file(const std::string& path, std::string& error);
bool save_state_file(const std::string& path, const FleetStateFile& s, std::string& error);

}  // namespace segproxy::proxy
