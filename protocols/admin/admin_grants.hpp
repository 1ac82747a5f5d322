#pragma once
// Admin socket responses of the emergency-grant commands (grant, grants, ungrant;
// requests in admin_protocol.hpp, docs/admin.md "Break-glass grants"). Encoders for the
// proxy, decoders for segproxyctl (unknown keys ignored, known keys checked).
#include <optional>
#include <string>
#include <vector>

#include "protocols/admin/admin_protocol.hpp"

namespace segproxy::protocols::admin {

struct GrantInfo {
  std::string id;
  SelectorKind kind = SelectorKind::Identity;  // identity | spiffe_prefix | segment
  std::string value;
  std::string tables;      // comma-separated patterns
  std::string ops;         // comma-separated operations
  std::string statements;  // comma-separated statement classes (may be empty)
  std::string reason;
  TimePoint created_at{};
  TimePoint expires_at{};
  std::uint32_t created_by_uid = 0;
  friend bool operator==(const GrantInfo&, const GrantInfo&) = default;
};

struct GrantResult {
  GrantInfo grant;
  std::optional<FleetWrite> fleet;  // absent without a control plane
  friend bool operator==(const GrantResult&, const GrantResult&) = default;
};
struct GrantsResult {
  std::vector<GrantInfo> grants;
  friend bool operator==(const GrantsResult&, const GrantsResult&) = default;
};
struct UngrantResult {
  GrantInfo removed;
  std::optional<FleetWrite> fleet;
  friend bool operator==(const UngrantResult&, const UngrantResult&) = default;
};

std::string encode_response(const GrantResult& r);
std::string encode_response(const GrantsResult& r);
std::string encode_response(const UngrantResult& r);
bool decode_response(const json::Value& body, GrantResult& out, std::string& error);
bool decode_response(const json::Value& body, GrantsResult& out, std::string& error);
bool decode_response(const json::Value& body, UngrantResult& out, std::string& error);

}  // namespace segproxy::protocols::admin
