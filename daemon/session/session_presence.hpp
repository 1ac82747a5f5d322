#pragma once
// An accepted client connection's presence in the process, the same for both protocols.
// Arrival: its peer address is read, Nagle is turned off, the process-wide session count
// and the listener's connections_active gauge count it. Departure (the session's
// destructor): the registry forgets it and the gauges stop counting it (the segment's
// sessions_active too once it was admitted, daemon/session/admission.hpp).
#include <cstdint>
#include <string>

#include "daemon/net/asio.hpp"
#include "daemon/runtime.hpp"

namespace segproxy::proxy {

struct ListenerMetrics;
class SegmentMetrics;

// Returns the client's "address:port" ("" when unknown); sets `listener_metrics` (null
// without metrics).
std::string client_arrived(tcp::socket& client, const Services& svc, const std::string& listener,
                           ListenerMetrics*& listener_metrics);
void client_departed(const Services& svc, std::uint64_t id, ListenerMetrics* listener_metrics,
                     SegmentMetrics* seg_metrics);

}  // namespace segproxy::proxy
