#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {

namespace {

template <class E, std::size_t N>
std::string_view pick(E e, const std::array<std::string_view, N>& words) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < N ? words[i] : std::string_view("other");
}

constexpr std::array<std::string_view, kRefuseReasonCount> kRefuseWords = {"tls_required",
                                                                           "tls_handshake",
                                                                           "no_client_cert",
                                                                           "unknown_identity",
                                                                           "revoked",
                                                                           "database_not_allowed",
                                                                           "window_closed",
                                                                           "max_connections",
                                                                           "max_connections_per_identity",
                                                                           "backend_unavailable",
                                                                           "backend_auth_failed",
                                                                           "audit_unavailable",
                                                                           "startup_timeout",
                                                                           "protocol_error",
                                                                           "shutting_down",
                                                                           "per_address_limit",
                                                                           "control_plane_stale",
                                                                           "handshake_limit",
                                                                           "handshake_evicted",
                                                                           "internal"};
constexpr std::array<std::string_view, kTlsFailureReasonCount> kTlsWords = {"certificate_verify_failed",
                                                                            "certificate_revoked",
                                                                            "no_shared_cipher_or_version",
                                                                            "timeout",
                                                                            "peer_closed",
                                                                            "protocol_error",
                                                                            "other"};
constexpr std::array<std::string_view, kStatementLabelCount> kStatementWords = {
    "select", "insert",      "update",       "delete",  "merge",         "truncate",   "copy_to", "copy_from",
    "lock",   "transaction", "session_safe", "ddl",     "admin",         "procedural", "anonymous_code",
    "notify", "prepare",     "cursor",       "explain", "forbidden",     "unknown",    "function_call", "multi"};
constexpr std::array<std::string_view, kDecisionCount> kDecisionWords = {"allow", "deny"};
constexpr std::array<std::string_view, kAuditFailureReasonCount> kAuditFailureWords = {
    "write", "fsync", "rotate", "encode", "queue_full", "checkpoint", "other"};
constexpr std::array<std::string_view, kReloadOutcomeCount> kReloadWords = {"success", "failure"};
constexpr std::array<std::string_view, kDirectionCount> kDirectionWords = {"client_to_backend", "backend_to_client"};
constexpr std::array<std::string_view, kLimitKindCount> kLimitWords = {
    "max_connections", "max_connections_per_identity", "statement_timeout", "idle_timeout"};
constexpr std::array<std::string_view, kProbeResultCount> kProbeResultWords = {"answered", "refused", "failed"};

}  // namespace

std::string_view to_label(ProbeResult r) noexcept { return pick(r, kProbeResultWords); }
std::string_view to_label(RefuseReason r) noexcept { return pick(r, kRefuseWords); }
std::string_view to_label(TlsFailureReason r) noexcept { return pick(r, kTlsWords); }
std::string_view to_label(StatementLabel c) noexcept { return pick(c, kStatementWords); }
std::string_view to_label(Decision d) noexcept { return pick(d, kDecisionWords); }
std::string_view to_label(AuditFailureReason r) noexcept { return pick(r, kAuditFailureWords); }
std::string_view to_label(ReloadOutcome o) noexcept { return pick(o, kReloadWords); }
std::string_view to_label(Direction d) noexcept { return pick(d, kDirectionWords); }
std::string_view to_label(LimitKind k) noexcept { return pick(k, kLimitWords); }

SegmentMetrics::SegmentMetrics(std::string name, CounterFamily& statements, Gauge& sessions_active,
                               Histogram& statement_duration, std::array<Counter*, kLimitKindCount> limits,
                               CounterFamily* shadow_denials)
    : name_(std::move(name)),
      statements_family_(statements),
      sessions_active_(sessions_active),
      statement_duration_(statement_duration),
      limits_(limits),
      shadow_denials_(shadow_denials) {
  for (auto& p : statements_) p.store(nullptr, std::memory_order_relaxed);
}

void SegmentMetrics::count_shadow_denial(std::string_view rule) {
  if (shadow_denials_ != nullptr) shadow_denials_->with({name_, rule}).inc();
}

Counter& SegmentMetrics::statements(StatementLabel c, Decision d) {
  const std::size_t ci = static_cast<std::size_t>(c) < kStatementLabelCount
                             ? static_cast<std::size_t>(c)
                             : static_cast<std::size_t>(StatementLabel::Unknown);
  const std::size_t di = static_cast<std::size_t>(d) < kDecisionCount ? static_cast<std::size_t>(d) : 1;
  auto& slot = statements_[ci * kDecisionCount + di];
  if (Counter* p = slot.load(std::memory_order_acquire)) return *p;
  // Racing first uses resolve the same series (the family dedups); either store wins.
  Counter& counter = statements_family_.with({name_, kStatementWords[ci], kDecisionWords[di]});
  slot.store(&counter, std::memory_order_release);
  return counter;
}

ProxyMetrics::ProxyMetrics(std::string_view version, double start_time_unix_seconds) {
  auto& r = registry_;
  connections_active_ = &r.gauge("segproxy_connections_active", "Client connections currently open.", {"listener"});
  connections_accepted_ =
      &r.counter("segproxy_connections_accepted_total", "Client connections accepted.", {"listener"});
  connections_refused_ =
      &r.counter("segproxy_connections_refused_total", "Client connections refused before or during session startup.",
                 {"listener", "reason"});
  tls_failures_ =
      &r.counter("segproxy_tls_handshake_failures_total", "Failed client TLS handshakes.", {"listener", "reason"});
  bytes_ = &r.counter("segproxy_bytes_total", "Bytes relayed between clients and backends.", {"listener", "direction"});
  backend_connect_ =
      &r.histogram("segproxy_backend_connect_duration_seconds", "Time to connect and log in to the backend.",
                   buckets::to_vector(buckets::kBackendConnect), {"listener"});
  sessions_active_ = &r.gauge("segproxy_sessions_active", "Authenticated sessions currently open.", {"segment"});
  statements_ = &r.counter("segproxy_statements_total", "Statements checked by the policy engine.",
                           {"segment", "class", "decision"}, FamilyOptions{10000});
  statement_duration_ =
      &r.histogram("segproxy_statement_duration_seconds", "Time from forwarding a statement to the backend's answer.",
                   buckets::to_vector(buckets::kStatement), {"segment"});
  limit_exceeded_ =
      &r.counter("segproxy_limit_exceeded_total", "Segment limits that refused or ended work.", {"segment", "limit"});
  shadow_denials_ = &r.counter("segproxy_shadow_denials_total",
                               "Statements forwarded that shadow policy (mode: shadow, shadow rules) would deny.",
                               {"segment", "rule"});
  backend_probes_ = &r.counter("segproxy_backend_probes_total",
                               "MySQL backend stall probes (fresh logins to a backend silent between two packets of "
                               "a response), by what they found: answered, refused (an ERR of the server's own), "
                               "failed (no answer: stalled).",
                               {"backend", "result"});
  backend_probe_waits_ = &r.counter("segproxy_backend_probe_waits_total",
                                    "Silent MySQL sessions that took the verdict of a stall probe already running for "
                                    "their backend instead of starting their own (at most one probe per backend runs).",
                                    {"backend"});
  backend_probes_in_flight_ = &r.gauge("segproxy_backend_probes_in_flight",
                                       "MySQL backend stall probes running now (at most one per backend).",
                                       {"backend"});

  policy_evaluation_ = &r.histogram("segproxy_policy_evaluation_duration_seconds",
                                    "Time to classify a statement and evaluate the policy.",
                                    buckets::to_vector(buckets::kPolicyEvaluation))
                            .get();
  audit_records_written_ = &r.counter("segproxy_audit_records_written_total", "Audit records written durably.").get();
  audit_write_ = &r.histogram("segproxy_audit_write_duration_seconds", "Time to write one audit batch.",
                              buckets::to_vector(buckets::kAuditIo))
                      .get();
  audit_fsync_ = &r.histogram("segproxy_audit_fsync_duration_seconds", "Time to fsync the audit log.",
                              buckets::to_vector(buckets::kAuditIo))
                      .get();
  auto& audit_failures = r.counter("segproxy_audit_failures_total", "Audit sink failures.", {"reason"});
  for (std::size_t i = 0; i < kAuditFailureReasonCount; ++i)
    audit_failures_[i] = &audit_failures.with({kAuditFailureWords[i]});
  auto& reloads = r.counter("segproxy_config_reloads_total", "Configuration reloads.", {"outcome"});
  for (std::size_t i = 0; i < kReloadOutcomeCount; ++i) config_reloads_[i] = &reloads.with({kReloadWords[i]});
  revocations_active_ = &r.callback_gauge("segproxy_revocations_active", "Revocations currently in force.");
  grants_active_ = &r.callback_gauge("segproxy_grants_active", "Emergency grants currently in force.");
  audit_queue_depth_ = &r.callback_gauge("segproxy_audit_queue_depth", "Audit records queued and not yet durable.");
  staleness_ = &r.callback_gauge("segproxy_control_plane_staleness_seconds",
                                 "Seconds since etcd last confirmed this instance's fleet view (control_plane only).");

  audit_ship_lag_records_ = &r.callback_gauge("segproxy_audit_ship_lag_records",
                                              "Durable audit records not yet in the central store.");
  audit_ship_lag_seconds_ = &r.callback_gauge(
      "segproxy_audit_ship_lag_seconds", "Age of the oldest durable audit record not yet in the central store.");

  crl_next_update_ = &r.callback_gauge_family(
      "segproxy_crl_next_update_seconds",
      "Seconds until the nextUpdate of the CRL the listener loaded (tls.crl, earliest of the file's CRLs; "
      "negative once passed: client handshakes then fail verification). No sample without a CRL.",
      "listener");

  r.gauge("segproxy_build_info", "Build information; the value is always 1.", {"version"}).with({version}).set(1);
  r.gauge("segproxy_start_time_seconds", "Process start time in seconds since the Unix epoch.")
      .get()
      .set(start_time_unix_seconds);
}

ListenerMetrics& ProxyMetrics::listener(std::string_view name) {
  std::lock_guard lock(mu_);
  if (auto it = listeners_.find(name); it != listeners_.end()) return *it->second;
  if (listeners_.size() >= kMaxNames) name = kOverflowLabelValue;
  if (auto it = listeners_.find(name); it != listeners_.end()) return *it->second;
  auto m = std::make_unique<ListenerMetrics>();
  m->connections_active = &connections_active_->with({name});
  m->connections_accepted = &connections_accepted_->with({name});
  m->backend_connect_duration = &backend_connect_->with({name});
  for (std::size_t i = 0; i < kRefuseReasonCount; ++i)
    m->refused_by[i] = &connections_refused_->with({name, kRefuseWords[i]});
  for (std::size_t i = 0; i < kTlsFailureReasonCount; ++i)
    m->tls_failures_by[i] = &tls_failures_->with({name, kTlsWords[i]});
  for (std::size_t i = 0; i < kDirectionCount; ++i) m->bytes_by[i] = &bytes_->with({name, kDirectionWords[i]});
  auto [it, inserted] = listeners_.emplace(std::string(name), std::move(m));
  (void)inserted;
  return *it->second;
}

SegmentMetrics& ProxyMetrics::segment(std::string_view name) {
  std::lock_guard lock(mu_);
  if (auto it = segments_.find(name); it != segments_.end()) return *it->second;
  if (segments_.size() >= kMaxNames) name = kOverflowLabelValue;
  if (auto it = segments_.find(name); it != segments_.end()) return *it->second;
  std::array<Counter*, kLimitKindCount> limits{};
  for (std::size_t i = 0; i < kLimitKindCount; ++i) limits[i] = &limit_exceeded_->with({name, kLimitWords[i]});
  auto m = std::make_unique<SegmentMetrics>(std::string(name), *statements_, sessions_active_->with({name}),
                                            statement_duration_->with({name}), limits, shadow_denials_);
  auto [it, inserted] = segments_.emplace(std::string(name), std::move(m));
  (void)inserted;
  return *it->second;
}

BackendProbeMetrics ProxyMetrics::backend_probes(std::string_view backend) {
  BackendProbeMetrics m;
  for (std::size_t i = 0; i < kProbeResultCount; ++i)
    m.results[i] = &backend_probes_->with({backend, kProbeResultWords[i]});
  m.waits = &backend_probe_waits_->with({backend});
  m.in_flight = &backend_probes_in_flight_->with({backend});
  return m;
}

// The label of a statement from its command tag (both protocols' classifiers use the
// upper-case SQL keywords: "SELECT", "START TRANSACTION", "CREATE TABLE", ...).
StatementLabel statement_label(std::string_view command) {
  auto starts = [&](std::string_view p) { return command.substr(0, p.size()) == p; };
  if (command == "SELECT" || command == "TABLE" || command == "VALUES" || command == "DESCRIBE")
    return StatementLabel::Select;
  if (command == "INSERT" || command == "REPLACE") return StatementLabel::Insert;  // REPLACE: MySQL
  if (command == "UPDATE") return StatementLabel::Update;
  if (command == "DELETE") return StatementLabel::Delete;
  if (command == "MERGE") return StatementLabel::Merge;
  if (command == "TRUNCATE") return StatementLabel::Truncate;
  if (starts("COPY")) return command.find("FROM") != std::string_view::npos ? StatementLabel::CopyFrom : StatementLabel::CopyTo;
  if (command == "LOCK") return StatementLabel::Lock;
  if (command == "BEGIN" || command == "COMMIT" || command == "ROLLBACK" || command == "START TRANSACTION" ||
      command == "SAVEPOINT" || command == "RELEASE" || command == "END" || command == "ABORT" ||
      starts("ROLLBACK") || starts("COMMIT") || starts("PREPARE TRANSACTION"))
    return StatementLabel::Transaction;
  if (command == "SET" || command == "RESET" || command == "SHOW" || command == "DISCARD" || command == "DISCARD ALL" ||
      command == "USE")
    return StatementLabel::SessionSafe;
  if (starts("CREATE") || starts("ALTER") || starts("DROP") || starts("COMMENT") || starts("GRANT") ||
      starts("REVOKE") || starts("SELECT INTO"))
    return StatementLabel::Ddl;
  if (command == "VACUUM" || command == "ANALYZE" || command == "CLUSTER" || command == "REINDEX" ||
      command == "CHECKPOINT" || starts("REFRESH"))
    return StatementLabel::Admin;
  // The policy classes: CALL is procedural, opaque code blocks are anonymous_code.
  if (command == "CALL") return StatementLabel::Procedural;
  if (command == "DO" || command == "BEGIN NOT ATOMIC" || command == "IF" || command == "CASE" || command == "LOOP" ||
      command == "WHILE" || command == "REPEAT")
    return StatementLabel::AnonymousCode;
  if (command == "LISTEN" || command == "NOTIFY" || command == "UNLISTEN") return StatementLabel::Notify;
  if (command == "PREPARE" || command == "EXECUTE" || command == "DEALLOCATE") return StatementLabel::Prepare;
  if (command == "DECLARE" || command == "FETCH" || command == "MOVE" || command == "CLOSE") return StatementLabel::Cursor;
  if (command == "EXPLAIN") return StatementLabel::Explain;
  return StatementLabel::Unknown;
}

}  // namespace segproxy::proxy
