#include "daemon/session/admission.hpp"

#include <chrono>
#include <utility>

#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {

std::optional<AdmissionRefusal> admit_session(const Services& svc, std::uint64_t id, SessionFacts facts,
                                              const config::SegmentLimits& lim, SegmentMetrics*& seg_metrics) {
  const std::string segment = facts.segment;
  const authz::SharedIdentity kept = facts.shared_identity;  // facts move into the registry
  const authz::ClientIdentity& identity = kept ? *kept : authz::empty_identity();
  if (svc.registry != nullptr) {
    facts.started = std::chrono::system_clock::now();
    const auto admission =
        svc.registry->admit(id, std::move(facts), lim.max_connections, lim.max_connections_per_identity);
    if (admission == SessionRegistry::Admission::SegmentFull) {
      if (svc.metrics != nullptr) svc.metrics->segment(segment).limit_exceeded(LimitKind::MaxConnections).inc();
      return AdmissionRefusal{Refusal::SegmentMaxConnections,
                              "segproxy: too many connections for segment \"" + segment + "\" (max_connections " +
                                  std::to_string(lim.max_connections) + ")"};
    }
    if (admission == SessionRegistry::Admission::IdentityFull) {
      if (svc.metrics != nullptr) {
        svc.metrics->segment(segment).limit_exceeded(LimitKind::MaxConnectionsPerIdentity).inc();
      }
      return AdmissionRefusal{Refusal::SegmentMaxConnectionsPerIdentity,
                              "segproxy: too many connections for identity \"" + identity.display() +
                                  "\" in segment \"" + segment + "\" (max_connections_per_identity " +
                                  std::to_string(lim.max_connections_per_identity) + ")"};
    }
  }
  if (svc.metrics != nullptr) {
    seg_metrics = &svc.metrics->segment(segment);
    seg_metrics->sessions_active().inc();
  }
  if (svc.revocations != nullptr) {
    if (auto why = svc.revocations->admission_refused()) {  // fleet view stale (docs/fleet.md)
      return AdmissionRefusal{Refusal::ControlPlaneStale, *why};
    }
    if (auto why = svc.revocations->revoked(identity, segment)) {
      return AdmissionRefusal{Refusal::Revoked, "segproxy: access for identity \"" + identity.display() +
                                                    "\" is revoked" + (why->empty() ? std::string() : ": " + *why)};
    }
  }
  return std::nullopt;
}

}  // namespace segproxy::proxy
