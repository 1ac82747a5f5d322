#pragma once
// The instance registry record (`<prefix>/instances/<instance>`, a leased key each
// instance keeps alive): what `segproxyctl fleet` lists. Pure JSON encoding.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::fleet {

struct ListenerInfo {
  std::string name;
  std::string protocol;  // postgres | mysql
  std::string address;   // host:port
  friend bool operator==(const ListenerInfo&, const ListenerInfo&) = default;
};

struct InstanceRecord {
  std::string instance;
  std::string version;
  std::string config_sha256;  // of the configuration file the instance runs
  std::vector<ListenerInfo> listeners;
  std::uint64_t sessions = 0;           // live client sessions
  std::int64_t started_at = 0;          // unix seconds
  std::int64_t updated_at = 0;          // unix seconds of this write
  std::int64_t applied_revision = 0;    // etcd revision of the fleet state it has applied
  friend bool operator==(const InstanceRecord&, const InstanceRecord&) = default;
};

// "<prefix>/instances/" and "<prefix>/instances/<instance>".
std::string instances_prefix(std::string_view prefix);
std::string instance_key(std::string_view prefix, std::string_view instance);

std::string encode_instance(const InstanceRecord& r);
// Bounded (64 KiB, strict JSON); nullopt + error for anything malformed.
std::optional<InstanceRecord> decode_instance(std::string_view json, std::string& error);

// Configuration drift: true for each record whose config_sha256 differs from the most
// common one (ties: no drift is flagged, there is no majority).
std::vector<bool> config_drift(const std::vector<InstanceRecord>& records);

}  // namespace segproxy::fleet
