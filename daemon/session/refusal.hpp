#pragma once
// The one taxonomy of why a client connection is refused before its session starts,
// shared by both protocols. Each refusal names its audit `detail` / log `reason` word and
// the metric class it counts under (segproxy_connections_refused_total{reason}); the
// protocol-specific answer (SQLSTATE + message, MySQL code) stays at the call site, where
// the message can name the identity or segment.

#include <cstdint>
#include <string_view>

#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {

// X(name, detail, metric RefuseReason)
#define SEGPROXY_REFUSALS(X)                                                                    \
  X(NoTls, "no TLS", TlsRequired)                                                               \
  X(NoClientCertificate, "no client certificate", NoClientCert)                                 \
  X(AmbiguousIdentity, "ambiguous certificate identity", UnknownIdentity)                       \
  X(UnknownIdentity, "unknown identity", UnknownIdentity)                                       \
  X(UnknownSegment, "unknown segment", Internal)                                                \
  X(Revoked, "revoked", Revoked)                                                                \
  X(ControlPlaneStale, "control plane stale", ControlPlaneStale)                                \
  X(DatabaseNotInSegment, "database not in segment", DatabaseNotAllowed)                        \
  X(OutsideWindow, "outside access window", WindowClosed)                                       \
  X(MaxConnections, "max_connections", MaxConnections)                                          \
  X(SegmentMaxConnections, "segment max_connections", MaxConnections)                           \
  X(SegmentMaxConnectionsPerIdentity, "segment max_connections_per_identity", MaxConnectionsPerIdentity) \
  X(NoCredential, "no credential", Internal)                                                    \
  X(BackendUnavailable, "backend unavailable", BackendUnavailable)                              \
  X(BackendLoginFailed, "backend login failed", BackendUnavailable)                             \
  X(BackendRefused, "backend refused", BackendAuthFailed)                                       \
  X(AuditUnavailable, "audit unavailable", AuditUnavailable)                                    \
  X(ProtocolViolation, "protocol violation", ProtocolError)                                     \
  X(ProtocolVersion, "protocol version", ProtocolError)                                         \
  X(StartupParameterRefused, "startup parameter refused", ProtocolError)

enum class Refusal : std::uint8_t {
#define SEGPROXY_REFUSAL_ENUM(name, detail, metric) name,
  SEGPROXY_REFUSALS(SEGPROXY_REFUSAL_ENUM)
#undef SEGPROXY_REFUSAL_ENUM
};

// The audit record's `detail` and the log line's `reason` for this refusal.
constexpr std::string_view detail(Refusal r) noexcept {
  switch (r) {
#define SEGPROXY_REFUSAL_DETAIL(name, text, metric) \
  case Refusal::name:                               \
    return text;
    SEGPROXY_REFUSALS(SEGPROXY_REFUSAL_DETAIL)
#undef SEGPROXY_REFUSAL_DETAIL
  }
  return "internal";
}

// The metric class it is counted under.
constexpr RefuseReason metric_reason(Refusal r) noexcept {
  switch (r) {
#define SEGPROXY_REFUSAL_METRIC(name, text, metric) \
  case Refusal::name:                               \
    return RefuseReason::metric;
    SEGPROXY_REFUSALS(SEGPROXY_REFUSAL_METRIC)
#undef SEGPROXY_REFUSAL_METRIC
  }
  return RefuseReason::Internal;
}

// The wire answer of a refusal by admission (daemon/session/admission.hpp: revocation, a
// stale fleet view, connection limits), the one place both protocols take it from.
// PostgreSQL: revoked 28000 invalid_authorization_specification; stale fleet view 57P03
// cannot_connect_now (try another instance); limits 53300 too_many_connections.
constexpr const char* admission_sqlstate(Refusal r) noexcept {
  switch (r) {
    case Refusal::Revoked: return "28000";
    case Refusal::ControlPlaneStale: return "57P03";
    default: return "53300";
  }
}

// MySQL: revoked ER_ACCESS_DENIED_ERROR 1045/28000; stale fleet view ER_SERVER_SHUTDOWN
// 1053/08S01 (try another instance); limits ER_CON_COUNT_ERROR 1040/08004.
struct MysqlRefusalCode {
  std::uint16_t code;
  const char* sqlstate;
};
constexpr MysqlRefusalCode admission_mysql_code(Refusal r) noexcept {
  switch (r) {
    case Refusal::Revoked: return {1045, "28000"};
    case Refusal::ControlPlaneStale: return {1053, "08S01"};
    default: return {1040, "08004"};
  }
}

}  // namespace segproxy::proxy
