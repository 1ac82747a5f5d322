#pragma once
// Plain configuration structs. Loaded once (and on reload) by config/loader; passed by
// const reference everywhere else. No globals.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace segproxy::config {

enum class Protocol { Postgres, Mysql };
enum class BackendTlsMode { Disable, Require, VerifyFull };

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

struct ListenerTls {
  std::string cert;       // server certificate chain (PEM), path resolved against the config dir
  std::string key;        // private key (PEM)
  std::string client_ca;  // CA bundle that client certificates must chain to
  std::string min_version = "1.2";  // "1.2" | "1.3"
  // PEM file with one or more CRLs of client_ca (`tls.crl`, optional): a client
  // certificate listed there is refused at the handshake; re-read on reload.
  std::string crl;
  // `tls.verify_depth`: how many intermediate CA certificates may stand between a client
  // certificate and a CA of client_ca (OpenSSL verify depth). 0 (default): the client
  // certificate must be issued directly by a CA in client_ca.
  int verify_depth = 0;
};

struct BackendTls {
  BackendTlsMode mode = BackendTlsMode::Disable;
  std::string ca;           // required for verify-full
  std::string server_name;  // defaults to backend.host
};

// The login the proxy uses to learn view dependencies from the backend catalog
// (daemon/catalog/view_loader; `listeners[].backend.metadata`). Exactly one of password_file /
// password_env. It needs only CONNECT on the segments' databases (the catalog is public).
struct MetadataCredential {
  std::string user;
  std::string password_file;  // resolved against the config dir
  std::string password_env;
  std::chrono::milliseconds refresh{std::chrono::minutes(5)};  // 0 = only at start/reload/after DDL
  int line = 0;
};

// `listeners[].backend.auth`: the authentication methods the proxy answers when it logs
// in to the backend (docs/policy.md "Backend authentication"). Filled with the
// protocol's default when the key is absent (config/parse.cpp): postgres
// [scram-sha-256-plus] with backend TLS, [scram-sha-256] without; mysql
// [mysql_native_password, caching_sha2_password, client_ed25519]. Cleartext
// ("password", "mysql_clear_password") only with tls.mode verify-full.
struct Backend {
  Endpoint endpoint;
  BackendTls tls;
  std::vector<std::string> auth;
  std::optional<MetadataCredential> metadata;  // absent: views are not learned on this listener
};

struct Listener {
  std::string name;
  Protocol protocol = Protocol::Postgres;
  Endpoint listen;
  ListenerTls tls;
  Backend backend;
  int line = 0;  // where it was declared, for messages
};

// All fields that are set must match (AND). Patterns support '*' (any run of
// characters, '/' included) and '?' (one character); cert_sha256 is compared exactly
// (hex, case-insensitive, ':' separators ignored).
struct IdentityMatch {
  std::optional<std::string> spiffe_id;
  std::optional<std::string> cn;
  std::optional<std::string> ou;
  std::optional<std::string> dns;
  std::optional<std::string> cert_sha256;
};

struct IdentityRule {
  IdentityMatch match;
  std::string segment;
  int line = 0;
};

// Dynamic backend credential (`credentials.<listener>.dynamic`): the proxy mints one
// short-lived backend user per (identity, segment, listener) with the admin login,
// renews it while sessions use it and drops it at expiry or revoke (proxy/
// dynamic_credentials). name_template placeholders: {segment}, {listener} (lower-cased,
// other characters than [a-z0-9_] become '_') and {id8} (8 hex chars of SHA-256 of the
// identity key; required). The text before the first placeholder is the prefix the
// janitor looks for; it must not be empty.
struct DynamicCredentialConfig {
  std::string admin_user;
  std::string admin_password_file;  // resolved against the config dir
  std::string admin_password_env;
  std::vector<std::string> grant_roles;  // postgres: roles granted to the minted user
  std::vector<std::string> grants;       // mysql: privilege clauses ("SELECT ON db.t")
  std::chrono::milliseconds ttl{std::chrono::hours(1)};  // >= 1m
  std::chrono::milliseconds renew_before{std::chrono::minutes(10)};  // < ttl; default ttl/6
  std::string name_template = "sp_{segment}_{id8}";
  int line = 0;
};

// Backend credential of one (segment, listener): static (user + exactly one of
// password_file / password_env) or `dynamic` (then user/password_* are empty).
struct CredentialRef {
  std::string user;
  std::string password_file;  // resolved against the config dir
  std::string password_env;
  std::optional<DynamicCredentialConfig> dynamic;
  int line = 0;
};

// ---- Per-segment access policy (evaluated by authz/policy_engine) -------------------

// Table operations of the policy vocabulary (`allow:` / `deny:`); `all` = every one.
// Alter (DDL on the relation) and Maintain (VACUUM/ANALYZE/...) mirror the classifier's
// TableOp values of the same names.
enum class TableOperation : std::uint8_t {
  Select, Insert, Update, Delete, Truncate, CopyTo, CopyFrom, References, Lock, Alter, Maintain
};
inline constexpr std::size_t kTableOperationCount = 11;
using OperationSet = std::uint32_t;  // bit (1 << TableOperation)
inline constexpr OperationSet op_bit(TableOperation op) {
  return OperationSet{1} << static_cast<unsigned>(op);
}
inline constexpr OperationSet kAllOperations = (OperationSet{1} << kTableOperationCount) - 1;

// YAML names, indexed by the enum value.
inline constexpr const char* kTableOperationNames[kTableOperationCount] = {
    "select", "insert", "update", "delete", "truncate", "copy_to",
    "copy_from", "references", "lock", "alter", "maintain"};

// Statement classes beyond table access (`statements:`), named as in the YAML.
enum class StatementClassGrant : std::uint8_t {
  Transaction, SessionSafe, Ddl, Admin, Procedural, Notify, Prepare, Cursor, Explain, LargeObjects,
  AnonymousCode  // DO / BEGIN NOT ATOMIC / opaque routine bodies: never implied by procedural
};
inline constexpr std::size_t kStatementClassCount = 11;
inline constexpr const char* kStatementClassNames[kStatementClassCount] = {
    "transaction", "session_safe", "ddl", "admin", "procedural",
    "notify", "prepare", "cursor", "explain", "large_objects", "anonymous_code"};
using StatementClassSet = std::uint32_t;  // bit (1 << StatementClassGrant)
inline constexpr StatementClassSet class_bit(StatementClassGrant c) {
  return StatementClassSet{1} << static_cast<unsigned>(c);
}

// One access window. Weekly: local wall time in `timezone`, on `days`, from
// start_minute (inclusive) to end_minute (exclusive); end_minute <= start_minute wraps
// past midnight and the whole span belongs to the start day. OneOff: [from, until).
struct TimeWindow {
  enum class Kind : std::uint8_t { Weekly, OneOff };
  Kind kind = Kind::Weekly;
  std::uint8_t days = 0x7f;     // bit 0 = Monday ... bit 6 = Sunday
  int start_minute = 0;         // 0..1439
  int end_minute = 24 * 60;     // 1..1440 (1440 = "24:00")
  std::string timezone = "UTC";  // IANA name under Config::zoneinfo_dir ("UTC" is built in)
  std::chrono::system_clock::time_point from{};
  std::chrono::system_clock::time_point until{};
  int line = 0;
};

enum class WindowClose : std::uint8_t { Terminate, FinishTransaction };

// One grant/deny rule. Table patterns are stored as "schema.table" (a bare name was
// qualified with the segment's default_schema); '*' and '?' glob within one part.
struct PolicyRule {
  std::string id;  // given, or "<segment>.rules[<i>]"
  std::vector<std::string> tables;
  OperationSet allow = 0;
  OperationSet deny = 0;
  int line = 0;
  // `shadow: true` (docs/policy.md "Shadow mode"): a candidate rule under test. It
  // decides nothing; a statement it would deny is forwarded and recorded with
  // shadow_decision: deny, shadow_rule: <id>.
  bool shadow = false;
};

// Function patterns: "name" or "schema.name", '*' and '?' glob.
struct FunctionPolicy {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

// Absent everything = no table access at all (default deny), always open.
// `segments.<s>.catalog`: whether the segment may read the built-in list of system
// catalog relations that drivers and tools read for metadata (authz/catalog_relations).
// None: a system relation is granted only by a rule naming it exactly (docs/policy.md).
enum class CatalogAccess { None, Metadata };

// `segments.<s>.mode` (docs/policy.md "Shadow mode"): enforce (default) refuses what the
// policy denies; shadow forwards it and records what would have been denied. The
// never-allowed refusals (forbidden / unclassifiable statements, parse errors, access
// windows, value and credential catalogs) are enforced in both modes.
enum class PolicyMode : std::uint8_t { Enforce, Shadow };

struct SegmentPolicy {
  std::string default_schema = "public";  // unqualified names resolve here
  PolicyMode mode = PolicyMode::Enforce;
  CatalogAccess catalog = CatalogAccess::None;
  std::vector<TimeWindow> windows;        // empty = always open
  WindowClose on_window_close = WindowClose::Terminate;
  // finish_transaction: how long the transaction open at the close may take to end
  // (only COMMIT / ROLLBACK pass meanwhile); then the session ends.
  std::chrono::milliseconds window_close_grace{60000};
  std::vector<PolicyRule> rules;
  StatementClassSet statements = 0;
  FunctionPolicy functions;
  // Pinned view dependencies (`views:`): "schema.view" -> the "schema.table" relations it
  // reads (bare names qualified with default_schema at load time). A pin replaces what
  // the backend catalog says about that view, for this segment.
  std::map<std::string, std::vector<std::string>> views;
};

// `segments.<name>.limits` (all optional; 0 = no limit). Exceeding one gives the
// protocol's error (PostgreSQL 53300 for connections, 57014 for statement_timeout).
struct SegmentLimits {
  std::size_t max_connections = 0;               // live sessions of the segment
  std::size_t max_connections_per_identity = 0;  // live sessions of one identity in it
  std::chrono::milliseconds statement_timeout{0};  // proxy-enforced (CancelRequest)
  std::optional<std::chrono::milliseconds> idle_timeout;  // absent: limits.idle_timeout
};

struct Segment {
  std::string name;
  std::vector<std::string> databases;                // names the client may give at startup
  std::map<std::string, CredentialRef> credentials;  // keyed by listener name
  SegmentPolicy policy;
  SegmentLimits limits;
  int line = 0;
};

struct LimitsConfig {
  std::size_t max_startup_packet = 10000;
  std::size_t max_message_size = 64u * 1024u * 1024u;  // client frames
  std::size_t max_connections = 10000;                 // per process
  std::chrono::milliseconds handshake_timeout{10000};  // TCP accept -> TLS done
  std::chrono::milliseconds startup_timeout{15000};    // accept -> ReadyForQuery
  std::chrono::milliseconds backend_connect_timeout{5000};
  // The longest a backend may leave a message half-sent (header or part of the body
  // received, the rest missing) before the proxy gives the backend connection up and ends
  // the session (PostgreSQL FATAL 08006, MySQL ERR 2013). Waiting for a backend that has
  // not begun its next message is never limited by it (statement_timeout does that).
  // 0 = no limit.
  std::chrono::milliseconds backend_message_timeout{30000};
  std::chrono::milliseconds idle_timeout{0};  // 0 = no idle limit
  // Per source address (daemon/net/address_limits.hpp); 0 = no cap.
  std::size_t max_handshakes_per_address = 128;  // connections not yet logged in
  std::size_t max_connections_per_address = 0;   // all connections (off: sidecars share one address)
  std::uint32_t cancel_requests_per_second = 50;  // CancelRequests per address per second
  // Per listener: connections not yet logged in, from all addresses together (a flood
  // from many hosts); over it a new connection is closed unread. 0 = no cap.
  std::size_t max_concurrent_handshakes = 1024;
  // SQL classification bounds per client message (authz/sql/statement_limits.hpp,
  // docs/policy.md "Statement limits"): over them a statement is refused (54000/54001).
  std::size_t max_statement_length = 64u * 1024u * 1024u;  // bytes of SQL text
  std::size_t max_statements_per_message = 1000;
  std::size_t max_parse_depth = 1000;  // estimated nesting; at most 10000
  std::size_t max_statement_tokens = 250000;  // lexical tokens (a literal is one)
};

enum class LogFormat { Text, Json };
struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  LogFormat format = LogFormat::Text;
};

// `audit.ship:` (optional): ship the durable local log to the central store, a PostgreSQL
// database set up by `segproxyctl audit store init` (docs/audit.md "Central store").
struct AuditShipSettings {
  std::string host;  // required
  std::uint16_t port = 5432;
  std::string dbname;  // required
  std::string user;    // required: the shipping role (INSERT + SELECT only)
  std::string password_file;  // resolved against the config dir; at most one of the two
  std::string password_env;
  std::string tls_mode = "verify-full";  // disable | require | verify-ca | verify-full
  std::string tls_ca, tls_cert, tls_key;  // resolved; ca required for verify-*
  std::size_t batch = 5000;                         // records per COPY (1..100000)
  std::chrono::milliseconds interval{1000};         // poll period when caught up
  std::chrono::milliseconds connect_timeout{5000};  // also bounds each COPY (x6)
  std::uint64_t warn_lag_records = 100000;  // /readyz warns past either bound (0: never)
  std::chrono::milliseconds warn_lag{300000};
  int line = 0;
  bool operator==(const AuditShipSettings&) const = default;
};

// `audit:` (optional): the tamper-evident audit log (docs/audit.md). Strings hold the
// YAML words; daemon/audit_setup maps this onto audit::AuditConfig.
struct AuditSettings {
  std::string dir;                          // required; resolved against the config dir
  std::string durability = "group";         // fsync_each | group | interval
  std::chrono::milliseconds sync_interval{200};  // durability interval only
  std::string on_failure = "fail_closed";   // fail_closed | fail_open
  std::string statement_text = "normalized";  // full | normalized | none
  std::uint64_t checkpoint_every_records = 1000;  // 0: no count trigger
  std::chrono::seconds checkpoint_every{60};      // 0: no time trigger
  std::uint64_t rotate_size = 64ull << 20;        // bytes; 0: no size rotation
  std::chrono::seconds rotate_every{86400};       // 0: no time rotation
  std::string signing_key;  // Ed25519 PEM private key (resolved); empty: unsigned checkpoints
  std::size_t max_queue = 65536;  // 1..10,000,000 records waiting for the writer
  std::string instance;           // empty: the proxy uses the host name
  std::size_t max_statement_text = 4096;  // bytes of `statement` per record (256 B..16 MiB)
  // Longest wait for a record to become durable (10ms..10m); longer counts as a write failure.
  std::chrono::milliseconds max_wait{10000};
  // durability group: the writer's group commit window (0..10ms, "50us", "0"; docs/audit.md).
  std::chrono::microseconds group_delay{50};

  std::optional<AuditShipSettings> ship;  // absent: the log stays on this host only
  int line = 0;
  bool operator==(const AuditSettings&) const = default;
};

// `admin:` (optional): the Unix-domain admin socket (daemon/control/admin_server, README).
struct AdminSettings {
  std::string socket;                      // required; resolved against the config dir
  std::vector<std::uint32_t> allowed_uids;  // empty: only the proxy's own effective uid
  std::string revocations_file;            // default "revocations.json" beside the config
  // Emergency grants (docs/admin.md "Break-glass grants"): where they persist, and the
  // longest TTL `segproxyctl grant` may ask for (1m..7d).
  std::string grants_file;                 // default "grants.json" beside the config
  std::chrono::seconds max_grant_ttl{4 * 3600};
  int line = 0;
  bool operator==(const AdminSettings&) const = default;
};

// `metrics:` (optional): the Prometheus endpoint (GET /metrics, /healthz, /readyz).
struct MetricsSettings {
  Endpoint listen;
  int line = 0;
  bool operator==(const MetricsSettings&) const = default;
};

// `control_plane:` (optional, docs/fleet.md): the fleet's shared state in etcd v3.
// Absent: the instance is on its own (nothing changes).
enum class OnStale { KeepServing, RefuseNewSessions };

struct EtcdSettings {
  std::vector<std::string> endpoints;  // https://host:port, 1..16, no duplicates
  std::string ca;                      // tls.ca: the CA of the etcd members
  std::string cert;                    // tls.cert / tls.key: this instance's client cert
  std::string key;
  std::string prefix = "/segproxy";  // all keys of this fleet live below it
  bool operator==(const EtcdSettings&) const = default;
};

struct ControlPlaneSettings {
  EtcdSettings etcd;
  std::string instance;  // empty: the host name (resolved by the daemon); audit `instance`
  std::chrono::milliseconds max_staleness{30'000};  // how old this instance's view may get
  OnStale on_stale = OnStale::KeepServing;
  int line = 0;
  bool operator==(const ControlPlaneSettings&) const = default;
};

struct Config {
  std::string source_path;  // the file it was loaded from
  std::vector<Listener> listeners;
  std::vector<IdentityRule> identities;  // first match wins
  std::map<std::string, Segment> segments;
  LimitsConfig limits;
  LogConfig log;
  unsigned threads = 0;  // I/O threads; 0 = number of cores
  // Client TLS handshakes computed on threads of their own (daemon/net/handshake_threads:
  // a handshake flood does not delay established sessions' I/O); 0 = on the I/O threads.
  unsigned handshake_threads = 1;
  int handshake_nice = 10;  // those threads' nice value (0..19; 0 = the process's own)
  std::optional<AuditSettings> audit;  // absent: no audit log
  std::optional<AdminSettings> admin;  // absent: no admin socket (and no revocations)
  std::optional<MetricsSettings> metrics;  // absent: no metrics endpoint
  std::optional<ControlPlaneSettings> control_plane;  // absent: single instance
  // Where window time zones are read from (LoadOptions::zoneinfo_dir; not a YAML key).
  std::string zoneinfo_dir = "/usr/share/zoneinfo";
};

}  // namespace segproxy::config
