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

}  // namespace segproxy::proxy
