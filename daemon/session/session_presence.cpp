#include "daemon/session/session_presence.hpp"

#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {

std::string client_arrived(tcp::socket& client, const Services& svc, const std::string& listener,
                           ListenerMetrics*& listener_metrics) {
  std::string address;
  error_code ec;
  auto ep = client.remote_endpoint(ec);
  if (!ec) address = ep.address().to_string() + ":" + std::to_string(ep.port());
  client.set_option(tcp::no_delay(true), ec);
  svc.active_sessions.fetch_add(1);
  if (svc.metrics != nullptr) {
    listener_metrics = &svc.metrics->listener(listener);
    listener_metrics->connections_active->inc();
  }
  return address;
}

void client_departed(const Services& svc, std::uint64_t id, ListenerMetrics* listener_metrics,
                     SegmentMetrics* seg_metrics) {
  if (svc.registry != nullptr) svc.registry->remove(id);
  svc.active_sessions.fetch_sub(1);
  if (listener_metrics != nullptr) listener_metrics->connections_active->dec();
  if (seg_metrics != nullptr) seg_metrics->sessions_active().dec();
}

}  // namespace segproxy::proxy
