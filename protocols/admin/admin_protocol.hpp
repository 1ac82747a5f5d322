#pragma once
// The admin socket protocol (docs/admin.md): line-delimited JSON over a Unix socket.
// One request per line, one response per line, in order; a request line is at most
// kMaxRequestLine bytes without its '\n'. Pure: no sockets here; daemon/control/admin_server
// carries the lines, ctl/admin is the client.
//
// Requests ({"cmd":...}; keys other than the ones listed for a command are errors):
//   {"cmd":"status"}
//   {"cmd":"sessions","segment":"billing","identity":"spiffe://..."}   (both optional)
//   {"cmd":"kill","session_id":"42"}
//   {"cmd":"revoke","identity":"spiffe://example.org/ns/x","reason":"incident 7","ttl":"90m"}
//      exactly one selector: identity | spiffe_prefix | cert_serial | segment;
//      reason optional; ttl optional ("30s", "15m", "2h", "7d"; 1 s .. 365 d)
//   {"cmd":"unrevoke","cert_serial":"0A:1B"}     (exactly one selector)
//   {"cmd":"revocations"}   {"cmd":"reload"}   {"cmd":"audit-checkpoint"}
//   {"cmd":"grant","identity":"spiffe://...","tables":"orders,public.items","ops":"select,update",
//    "statements":"ddl","ttl":"30m","reason":"INC-42"}
//      exactly one selector: identity | spiffe_prefix | segment; tables, ops required;
//      statements optional; ttl and reason are required by the proxy (admin.max_grant_ttl)
//   {"cmd":"grants"}   {"cmd":"ungrant","id":"3f9c0a1b2c4d"}
// Responses: {"ok":true,...} or {"ok":false,"error":"..."}; see the encoders below.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "json/json.hpp"
#include "protocols/common/selector_value.hpp"
#include "protocols/common/time_text.hpp"

namespace segproxy::protocols::admin {

inline constexpr std::size_t kMaxRequestLine = 64 * 1024;
inline constexpr std::size_t kMaxValueBytes = kMaxSelectorValueBytes;  // selectors, session ids, filters
inline constexpr std::size_t kMaxReasonBytes = 1024;  // revoke --reason
inline constexpr std::chrono::seconds kMaxTtl{365LL * 24 * 3600};
// Responses can be long (a sessions list); the client reads at most this much.
inline constexpr std::size_t kMaxResponseLine = 64 * 1024 * 1024;

using TimePoint = std::chrono::system_clock::time_point;

// ---- requests ------------------------------------------------------------------------

enum class SelectorKind { Identity, SpiffePrefix, CertSerial, Segment };
// Wire key of a selector: "identity", "spiffe_prefix", "cert_serial", "segment".
std::string_view selector_key(SelectorKind k);
std::optional<SelectorKind> selector_from_key(std::string_view key);

struct Selector {
  SelectorKind kind = SelectorKind::Identity;
  std::string value;
  friend bool operator==(const Selector&, const Selector&) = default;
};

struct StatusRequest {
  friend bool operator==(const StatusRequest&, const StatusRequest&) = default;
};
struct SessionsRequest {
  std::optional<std::string> segment;
  std::optional<std::string> identity;  // spiffe id, CN or certificate SHA-256
  friend bool operator==(const SessionsRequest&, const SessionsRequest&) = default;
};
struct KillRequest {
  std::string session_id;
  friend bool operator==(const KillRequest&, const KillRequest&) = default;
};
struct RevokeRequest {
  Selector selector;
  std::string reason;                     // may be empty
  std::optional<std::chrono::seconds> ttl;  // none: until unrevoked
  // Record it even when the selector matches no identity seen since the proxy started
  // (without: refused with "matched no identity", nothing recorded).
  bool force = false;
  friend bool operator==(const RevokeRequest&, const RevokeRequest&) = default;
};
struct UnrevokeRequest {
  Selector selector;
  friend bool operator==(const UnrevokeRequest&, const UnrevokeRequest&) = default;
};
struct RevocationsRequest {
  friend bool operator==(const RevocationsRequest&, const RevocationsRequest&) = default;
};
struct ReloadRequest {
  friend bool operator==(const ReloadRequest&, const ReloadRequest&) = default;
};
struct AuditCheckpointRequest {
  friend bool operator==(const AuditCheckpointRequest&, const AuditCheckpointRequest&) = default;
};

// Emergency grants (docs/admin.md "Break-glass grants"); responses: admin_grants.hpp.
struct GrantRequest {
  Selector selector;  // identity | spiffe_prefix | segment
  std::string tables;      // comma-separated patterns, as in a rule's `tables:`
  std::string ops;         // comma-separated operations, as in `allow:`
  std::string statements;  // comma-separated statement classes; may be empty
  std::optional<std::chrono::seconds> ttl;  // the proxy refuses a grant without one
  std::string reason;                       // the proxy refuses a grant without one
  friend bool operator==(const GrantRequest&, const GrantRequest&) = default;
};
struct GrantsRequest {
  friend bool operator==(const GrantsRequest&, const GrantsRequest&) = default;
};
struct UngrantRequest {
  std::string id;
  friend bool operator==(const UngrantRequest&, const UngrantRequest&) = default;
};

using Request = std::variant<StatusRequest, SessionsRequest, KillRequest, RevokeRequest, UnrevokeRequest,
                             RevocationsRequest, ReloadRequest, AuditCheckpointRequest, GrantRequest,
                             GrantsRequest, UngrantRequest>;

// "status", "sessions", "kill", "revoke", "unrevoke", "revocations", "reload",
// "audit-checkpoint", "grant", "grants", "ungrant".
std::string_view command_name(const Request& r);

struct ParsedRequest {
  std::optional<Request> request;
  std::string error;  // empty on success; safe to send back to the client
  explicit operator bool() const { return request.has_value(); }
};

// `line` is one request without its '\n'. Strict: unknown commands or keys, wrong
// types, a missing or second selector, empty or over-long values, control characters
// in values, a bad ttl or a line over kMaxRequestLine are errors.
ParsedRequest parse_request(std::string_view line);

// Canonical request line (no '\n'); parse_request(encode_request(r)) == r for every
// valid request.
std::string encode_request(const Request& r);

// Selector value checks (protocols/common/selector_value, also applied by
// authz::RevocationList; empty string = valid):
// identity/segment non-empty; spiffe_prefix "spiffe://" + a trust domain; cert_serial
// hex digits with optional ':' separators (at most 64 digits).
std::string check_selector(const Selector& s);

// "30s", "15m", "2h", "7d": one positive integer and one unit; 1 s .. kMaxTtl.
std::optional<std::chrono::seconds> parse_duration(std::string_view s);
// Inverse of parse_duration, in the largest unit that is exact ("90m", "2h", "45s").
std::string format_duration(std::chrono::seconds d);

// RFC 3339 UTC with whole seconds: 2026-11-22T13:31:34Z (sub-seconds truncated); the
// one implementation is protocols/common/time_text.
using protocols::format_time;
using protocols::parse_time;

// ---- responses -----------------------------------------------------------------------

struct ListenerInfo {
  std::string name;
  std::string protocol;  // "postgres" | "mysql"
  std::string address;   // host:port
  friend bool operator==(const ListenerInfo&, const ListenerInfo&) = default;
};

struct StatusInfo {
  std::string version;
  std::uint64_t uptime_seconds = 0;
  std::string config_version;  // hash of the running configuration
  std::string config_path;
  std::uint64_t sessions_active = 0;
  std::vector<std::pair<std::string, std::uint64_t>> sessions_by_segment;  // JSON object
  std::uint64_t revocations_active = 0;
  std::vector<ListenerInfo> listeners;
  friend bool operator==(const StatusInfo&, const StatusInfo&) = default;
};

struct SessionInfo {
  std::string id;
  std::string identity;  // ClientIdentity::display()
  std::string spiffe_id;
  std::string cn;
  std::string segment;
  std::string listener;
  std::string protocol;
  std::string client_addr;
  std::string database;
  std::string backend_user;
  TimePoint started{};
  std::string current_statement;  // normalised by the caller; may be empty
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  friend bool operator==(const SessionInfo&, const SessionInfo&) = default;
};
struct SessionsResult {
  std::vector<SessionInfo> sessions;
  friend bool operator==(const SessionsResult&, const SessionsResult&) = default;
};

struct KillResult {
  std::string session_id;  // termination was posted to this session
  friend bool operator==(const KillResult&, const KillResult&) = default;
};

struct RevocationInfo {
  std::string id;
  SelectorKind kind = SelectorKind::Identity;
  std::string value;
  std::string reason;
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;
  std::uint32_t created_by_uid = 0;
  friend bool operator==(const RevocationInfo&, const RevocationInfo&) = default;
};

// Fleet fields (control_plane configured, docs/fleet.md): the etcd revision the change
// was written at (0: not written yet / no control plane) and whether it is queued
// locally because etcd was unreachable (applied here at once, written when it returns).
struct FleetWrite {
  std::uint64_t revision = 0;
  bool queued = false;
  friend bool operator==(const FleetWrite&, const FleetWrite&) = default;
};
struct RevokeResult {
  RevocationInfo revocation;
  std::uint64_t sessions_terminated = 0;
  std::optional<FleetWrite> fleet;  // absent without a control plane
  friend bool operator==(const RevokeResult&, const RevokeResult&) = default;
};
struct UnrevokeResult {
  std::vector<RevocationInfo> removed;
  std::optional<FleetWrite> fleet;  // absent without a control plane
  friend bool operator==(const UnrevokeResult&, const UnrevokeResult&) = default;
};
struct RevocationsResult {
  std::vector<RevocationInfo> revocations;
  friend bool operator==(const RevocationsResult&, const RevocationsResult&) = default;
};

// ok=false: the new configuration was rejected (errors say why, file:line); the old one
// keeps running. restart_required lists changes that were not applied (listeners).
struct ReloadResult {
  bool ok = false;
  std::string old_hash;
  std::string new_hash;
  std::vector<std::string> errors;
  std::vector<std::string> restart_required;
  friend bool operator==(const ReloadResult&, const ReloadResult&) = default;
};

struct CheckpointResult {
  std::uint64_t seq = 0;
  std::string head_hash;
  friend bool operator==(const CheckpointResult&, const CheckpointResult&) = default;
};

// Encoders: one response line each, no '\n'.
std::string encode_error(std::string_view message);  // {"ok":false,"error":"..."}
std::string encode_response(const StatusInfo& s);
std::string encode_response(const SessionsResult& s);
std::string encode_response(const KillResult& k);
std::string encode_response(const RevokeResult& r);
std::string encode_response(const UnrevokeResult& r);
std::string encode_response(const RevocationsResult& r);
std::string encode_response(const ReloadResult& r);  // ok=false -> "ok":false + "error"
std::string encode_response(const CheckpointResult& c);

// Decoders (for segproxyctl). A response is first read as an Envelope; the typed
// decoders then read its body. Unknown keys are ignored (a newer proxy may add some);
// missing or mistyped known keys are errors.
struct Envelope {
  bool ok = false;
  std::string error;  // when !ok
  json::Value body;   // the whole response object
};
std::optional<Envelope> decode_envelope(std::string_view line, std::string& error);

bool decode_response(const json::Value& body, StatusInfo& out, std::string& error);
bool decode_response(const json::Value& body, SessionsResult& out, std::string& error);
bool decode_response(const json::Value& body, KillResult& out, std::string& error);
bool decode_response(const json::Value& body, RevokeResult& out, std::string& error);
bool decode_response(const json::Value& body, UnrevokeResult& out, std::string& error);
bool decode_response(const json::Value& body, RevocationsResult& out, std::string& error);
bool decode_response(const json::Value& body, ReloadResult& out, std::string& error);
bool decode_response(const json::Value& body, CheckpointResult& out, std::string& error);

}  // namespace segproxy::protocols::admin
