#pragma once
// Admission of a session whose identity, segment and backend user are known, the same
// for both protocols: the registry counts it against the segment's connection limits
// (atomically with the check; nothing is counted when it is refused), the segment's
// active-session gauge starts counting it, and then revocations are checked (after
// admission: a revocation published meanwhile is either seen here or finds this session
// in the registry). The protocol's answer (SQLSTATE / MySQL code) stays with the caller.
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "daemon/runtime.hpp"
#include "daemon/session/refusal.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {

class SegmentMetrics;

struct AdmissionRefusal {
  Refusal why;  // SegmentMaxConnections, SegmentMaxConnectionsPerIdentity or Revoked
  std::string message;
};

// `facts.started` is set here. `seg_metrics` is set once the session is admitted (its
// gauge then counts the session; the caller decrements it when the session ends).
std::optional<AdmissionRefusal> admit_session(const Services& svc, std::uint64_t id, SessionFacts facts,
                                              const config::SegmentLimits& limits, SegmentMetrics*& seg_metrics);

}  // namespace segproxy::proxy
