#pragma once
// Every metric segproxy exports, declared once on one MetricsRegistry.
//
// Label values are either names from the configuration (listener, segment: bounded by
// the config and capped by the registry) or words from the closed vocabularies below;
// callers pass enums, never free text, so a raw identity or statement can never become
// a label value.
//
// Hot paths resolve their series once (`listener(name)` / `segment(name)` at accept or
// session start, which take a mutex) and keep the returned reference; every later
// update is a relaxed atomic operation.
#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/metrics/metrics.hpp"

namespace segproxy::proxy {

// Why a client connection was refused (segproxy_connections_refused_total{reason}).
enum class RefuseReason : std::uint8_t {
  TlsRequired,                // StartupMessage without TLS (FATAL 28000)
  TlsHandshake,               // handshake failed (details in tls_handshake_failures_total)
  NoClientCert,               // TLS without a client certificate
  UnknownIdentity,            // certificate matched no identity rule
  Revoked,                    // identity / serial / prefix / segment revoked
  DatabaseNotAllowed,         // startup database or user not allowed for the segment
  WindowClosed,               // outside the segment's access window
  MaxConnections,             // segment max_connections reached
  MaxConnectionsPerIdentity,  // segment max_connections_per_identity reached
  BackendUnavailable,         // backend connect failed or timed out
  BackendAuthFailed,          // backend rejected the proxy's scoped credential
  AuditUnavailable,           // session.open could not be made durable
  StartupTimeout,             // handshake_timeout / startup_timeout expired
  ProtocolError,              // malformed startup, bytes after SSLRequest, ...
  ShuttingDown,               // graceful stop in progress
  PerAddressLimit,            // limits.max_handshakes_per_address / max_connections_per_address
  ControlPlaneStale,          // fleet view older than max_staleness, on_stale: refuse_new_sessions
  HandshakeLimit,             // limits.max_concurrent_handshakes of the listener reached
  HandshakeEvicted,           // in handshake, closed at that cap for a lighter address's connection
  Internal,                   // anything else (a bug: look at the log)
};
inline constexpr std::size_t kRefuseReasonCount = 20;
static_assert(static_cast<std::size_t>(RefuseReason::Internal) + 1 == kRefuseReasonCount);
std::string_view to_label(RefuseReason r) noexcept;

// Why a TLS handshake with a client failed (segproxy_tls_handshake_failures_total{reason}).
enum class TlsFailureReason : std::uint8_t {
  CertificateVerifyFailed,  // chain / CA / expiry / CRL
  CertificateRevoked,       // listed in a configured CRL
  NoSharedCipherOrVersion,  // protocol version or cipher negotiation
  Timeout,
  PeerClosed,     // client went away mid-handshake
  ProtocolError,  // not TLS, bytes after SSLRequest, ...
  Other,
};
inline constexpr std::size_t kTlsFailureReasonCount = 7;
static_assert(static_cast<std::size_t>(TlsFailureReason::Other) + 1 == kTlsFailureReasonCount);
std::string_view to_label(TlsFailureReason r) noexcept;

// Statement label for segproxy_statements_total{class}: the table operation for DML,
// else the statement class word of the policy vocabulary.
enum class StatementLabel : std::uint8_t {
  Select,
  Insert,
  Update,
  Delete,
  Merge,
  Truncate,
  CopyTo,
  CopyFrom,
  Lock,
  Transaction,
  SessionSafe,
  Ddl,
  Admin,
  Procedural,     // CALL
  AnonymousCode,  // DO, MariaDB BEGIN NOT ATOMIC / IF / CASE / LOOP / WHILE / REPEAT blocks
  Notify,
  Prepare,
  Cursor,
  Explain,
  Forbidden,
  Unknown,
  FunctionCall,  // PostgreSQL FunctionCall message
  Multi,         // several statements in one Query, of different labels
};
inline constexpr std::size_t kStatementLabelCount = 23;
static_assert(static_cast<std::size_t>(StatementLabel::Multi) + 1 == kStatementLabelCount);
std::string_view to_label(StatementLabel c) noexcept;
// From a classifier's command tag ("SELECT", "START TRANSACTION", "CREATE TABLE", ...).
StatementLabel statement_label(std::string_view command);

enum class Decision : std::uint8_t { Allow, Deny };
inline constexpr std::size_t kDecisionCount = 2;
static_assert(static_cast<std::size_t>(Decision::Deny) + 1 == kDecisionCount);
std::string_view to_label(Decision d) noexcept;

enum class AuditFailureReason : std::uint8_t { Write, Fsync, Rotate, Encode, QueueFull, Checkpoint, Other };
inline constexpr std::size_t kAuditFailureReasonCount = 7;
static_assert(static_cast<std::size_t>(AuditFailureReason::Other) + 1 == kAuditFailureReasonCount);
std::string_view to_label(AuditFailureReason r) noexcept;

enum class ReloadOutcome : std::uint8_t { Success, Failure };
inline constexpr std::size_t kReloadOutcomeCount = 2;
static_assert(static_cast<std::size_t>(ReloadOutcome::Failure) + 1 == kReloadOutcomeCount);
std::string_view to_label(ReloadOutcome o) noexcept;

enum class Direction : std::uint8_t { ClientToBackend, BackendToClient };
inline constexpr std::size_t kDirectionCount = 2;
static_assert(static_cast<std::size_t>(Direction::BackendToClient) + 1 == kDirectionCount);
std::string_view to_label(Direction d) noexcept;

enum class LimitKind : std::uint8_t { MaxConnections, MaxConnectionsPerIdentity, StatementTimeout, IdleTimeout };
inline constexpr std::size_t kLimitKindCount = 4;
static_assert(static_cast<std::size_t>(LimitKind::IdleTimeout) + 1 == kLimitKindCount);
std::string_view to_label(LimitKind k) noexcept;

// What a backend stall probe found (segproxy_backend_probes_total{result},
// daemon/mysql/backend_probes.hpp).
enum class ProbeResult : std::uint8_t {
  Answered,  // the probe logged in
  Refused,   // the server answered with an ERR of its own (1040, 1045): not stalled
  Failed,    // no answer within backend_connect_timeout: stalled
};
inline constexpr std::size_t kProbeResultCount = 3;
static_assert(static_cast<std::size_t>(ProbeResult::Failed) + 1 == kProbeResultCount);
std::string_view to_label(ProbeResult r) noexcept;

// Bucket upper bounds, in seconds (+Inf is implicit).
namespace buckets {
inline constexpr std::array<double, 13> kPolicyEvaluation = {1e-6,   2.5e-6, 5e-6, 1e-5,   2.5e-5, 5e-5, 1e-4,
                                                             2.5e-4, 5e-4,   1e-3, 2.5e-3, 5e-3,   1e-2};
inline constexpr std::array<double, 18> kStatement = {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05,
                                                      0.1,  0.25,   0.5,  1,    2.5,    5,    10,   30,    60};
inline constexpr std::array<double, 14> kBackendConnect = {5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05,
                                                           0.1,  0.25, 0.5,    1,    2.5,  5,     10};
inline constexpr std::array<double, 16> kAuditIo = {1e-5, 2.5e-5, 5e-5,  1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                                    5e-3, 0.01,   0.025, 0.05, 0.1,    0.25, 0.5,  1};
template <std::size_t N>
std::vector<double> to_vector(const std::array<double, N>& a) {
  return std::vector<double>(a.begin(), a.end());
}
}  // namespace buckets

// Series of one listener; created with ProxyMetrics::listener(), valid for its lifetime.
// Refusal, TLS failure and byte series exist (at zero) from creation on.
struct ListenerMetrics {
  Gauge* connections_active = nullptr;
  Counter* connections_accepted = nullptr;
  Histogram* backend_connect_duration = nullptr;
  std::array<Counter*, kRefuseReasonCount> refused_by{};
  std::array<Counter*, kTlsFailureReasonCount> tls_failures_by{};
  std::array<Counter*, kDirectionCount> bytes_by{};

  Counter& refused(RefuseReason r) const { return *refused_by[static_cast<std::size_t>(r)]; }
  Counter& tls_handshake_failed(TlsFailureReason r) const { return *tls_failures_by[static_cast<std::size_t>(r)]; }
  Counter& bytes(Direction d) const { return *bytes_by[static_cast<std::size_t>(d)]; }
};

// Series of one backend's stall probes; from ProxyMetrics::backend_probes(), valid for its
// lifetime. All null in a default-constructed one (no metrics).
struct BackendProbeMetrics {
  std::array<Counter*, kProbeResultCount> results{};
  Counter* waits = nullptr;
  Gauge* in_flight = nullptr;
};

// Series of one segment; created with ProxyMetrics::segment(). Statement counters are
// created on first use (lookup once, lock-free afterwards), so an idle segment exports
// no statement series.
class SegmentMetrics {
 public:
  SegmentMetrics(std::string name, CounterFamily& statements, Gauge& sessions_active, Histogram& statement_duration,
                 std::array<Counter*, kLimitKindCount> limits, CounterFamily* shadow_denials = nullptr);
  SegmentMetrics(const SegmentMetrics&) = delete;
  SegmentMetrics& operator=(const SegmentMetrics&) = delete;

  Gauge& sessions_active() const { return sessions_active_; }
  Histogram& statement_duration() const { return statement_duration_; }
  Counter& limit_exceeded(LimitKind k) const { return *limits_[static_cast<std::size_t>(k)]; }
  Counter& statements(StatementLabel c, Decision d);
  // segproxy_shadow_denials_total{segment,rule}: an allowed statement shadow policy would
  // deny (docs/policy.md "Shadow mode"). `rule` is a rule id of the configuration (or a
  // "<segment>.statements"-style section, or "" for the default deny): bounded by it.
  // Takes the family's lock: shadow denials are not on the enforced hot path.
  void count_shadow_denial(std::string_view rule);
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  CounterFamily& statements_family_;
  Gauge& sessions_active_;
  Histogram& statement_duration_;
  std::array<Counter*, kLimitKindCount> limits_;
  CounterFamily* shadow_denials_ = nullptr;
  std::array<std::atomic<Counter*>, kStatementLabelCount * kDecisionCount> statements_{};
};

class ProxyMetrics {
 public:
  // `version` becomes segproxy_build_info{version}; `start_time_unix_seconds` is
  // exported as segproxy_start_time_seconds.
  ProxyMetrics(std::string_view version, double start_time_unix_seconds);
  ProxyMetrics(const ProxyMetrics&) = delete;
  ProxyMetrics& operator=(const ProxyMetrics&) = delete;

  // Stable references; the first call per name takes a mutex. At most kMaxNames
  // distinct names each; further names share one "__overflow__" entry.
  static constexpr std::size_t kMaxNames = 1000;
  ListenerMetrics& listener(std::string_view name);
  SegmentMetrics& segment(std::string_view name);
  // segproxy_backend_probes_total{backend,result}, segproxy_backend_probe_waits_total{backend},
  // segproxy_backend_probes_in_flight{backend}; `backend` is "host:port" of the
  // configuration. Takes the families' locks (a probe is rare, not on the hot path).
  BackendProbeMetrics backend_probes(std::string_view backend);

  Histogram& policy_evaluation_duration() { return *policy_evaluation_; }
  Counter& audit_records_written() { return *audit_records_written_; }
  Histogram& audit_write_duration() { return *audit_write_; }
  Histogram& audit_fsync_duration() { return *audit_fsync_; }
  Counter& audit_failures(AuditFailureReason r) { return *audit_failures_[static_cast<std::size_t>(r)]; }
  Counter& config_reloads(ReloadOutcome o) { return *config_reloads_[static_cast<std::size_t>(o)]; }

  // Read at render time; clear (pass nullptr) before the source is destroyed.
  void set_revocations_active(std::function<double()> fn) { revocations_active_->set(std::move(fn)); }
  void set_grants_active(std::function<double()> fn) { grants_active_->set(std::move(fn)); }
  void set_audit_queue_depth(std::function<double()> fn) { audit_queue_depth_->set(std::move(fn)); }
  // Set only with a control plane (docs/fleet.md).
  void set_control_plane_staleness(std::function<double()> fn) { staleness_->set(std::move(fn)); }

  // audit.ship (docs/audit.md "Central store"): durable records not yet in the store, and
  // the age of the oldest of them.
  void set_audit_ship_lag(std::function<double()> records, std::function<double()> seconds) {
    audit_ship_lag_records_->set(std::move(records));
    audit_ship_lag_seconds_->set(std::move(seconds));
  }

  // segproxy_crl_next_update_seconds{listener}: seconds until the nextUpdate of the CRL a
  // listener loaded (tls.crl; negative once passed); no sample for a listener without one.
  void set_crl_next_update_seconds(std::function<CallbackGaugeFamily::Samples()> fn) {
    crl_next_update_->set(std::move(fn));
  }

  std::string render() const { return registry_.render(); }
  // For metrics declared elsewhere (same registry, same exposition).
  MetricsRegistry& registry() { return registry_; }

 private:
  MetricsRegistry registry_;

  GaugeFamily* connections_active_ = nullptr;
  CounterFamily* connections_accepted_ = nullptr;
  CounterFamily* connections_refused_ = nullptr;
  CounterFamily* tls_failures_ = nullptr;
  CounterFamily* bytes_ = nullptr;
  HistogramFamily* backend_connect_ = nullptr;
  GaugeFamily* sessions_active_ = nullptr;
  CounterFamily* statements_ = nullptr;
  HistogramFamily* statement_duration_ = nullptr;
  CounterFamily* limit_exceeded_ = nullptr;
  CounterFamily* shadow_denials_ = nullptr;
  CounterFamily* backend_probes_ = nullptr;
  CounterFamily* backend_probe_waits_ = nullptr;
  GaugeFamily* backend_probes_in_flight_ = nullptr;

  Histogram* policy_evaluation_ = nullptr;
  Counter* audit_records_written_ = nullptr;
  Histogram* audit_write_ = nullptr;
  Histogram* audit_fsync_ = nullptr;
  std::array<Counter*, kAuditFailureReasonCount> audit_failures_{};
  std::array<Counter*, kReloadOutcomeCount> config_reloads_{};
  CallbackGauge* revocations_active_ = nullptr;
  CallbackGauge* grants_active_ = nullptr;
  CallbackGauge* audit_queue_depth_ = nullptr;
  CallbackGauge* staleness_ = nullptr;

  CallbackGauge* audit_ship_lag_records_ = nullptr;
  CallbackGauge* audit_ship_lag_seconds_ = nullptr;

  CallbackGaugeFamily* crl_next_update_ = nullptr;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ListenerMetrics>, std::less<>> listeners_;
  std::map<std::string, std::unique_ptr<SegmentMetrics>, std::less<>> segments_;
};

}  // namespace segproxy::proxy
