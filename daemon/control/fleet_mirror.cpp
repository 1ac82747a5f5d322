#include "daemon/control/fleet_mirror.hpp"

#include "etcd/client.hpp"
#include "etcd/prefix_mirror.hpp"

namespace segproxy::proxy {

std::unique_ptr<etcd::Client> open_fleet_client(const config::EtcdSettings& etcd, std::string& error) {
  etcd::ClientOptions o;
  o.endpoints = etcd.endpoints;
  o.tls = {etcd.ca, etcd.cert, etcd.key};
  auto c = etcd::Client::create(o);
  if (!c) {
    error = c.error.message;
    return nullptr;
  }
  return std::move(*c.value);
}

FleetMirror::FleetMirror() = default;
FleetMirror::~FleetMirror() = default;

bool FleetMirror::open(const config::EtcdSettings& etcd, const std::string& prefix, std::string& error) {
  auto c = open_fleet_client(etcd, error);
  auto w = c ? open_fleet_client(etcd, error) : nullptr;
  if (!c || !w) return false;
  client = std::move(c);
  write_client = std::move(w);
  mirror = std::make_unique<etcd::PrefixMirror>(*client, prefix);
  return true;
}

FleetWriteResult fleet_put(etcd::Client& client, const std::string& key, const std::string& value,
                           std::optional<std::chrono::system_clock::time_point> expires_at) {
  FleetWriteResult out;
  std::int64_t lease = 0;
  if (expires_at) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(*expires_at - std::chrono::system_clock::now());
    if (left.count() <= 0) {  // expired already: nothing to publish
      out.status = FleetWriteResult::Status::Expired;
      return out;
    }
    auto g = client.lease_grant(left.count());
    if (!g) {
      out.error = g.error.message;
      return out;
    }
    lease = g.value->id;
  }
  auto p = client.put(key, value, lease);
  if (!p) {
    out.error = p.error.message;
    return out;
  }
  out.status = FleetWriteResult::Status::Written;
  out.revision = p.value->header.revision;
  return out;
}

FleetWriteResult fleet_delete(etcd::Client& client, const std::string& key) {
  FleetWriteResult out;
  auto d = client.remove(key);
  if (!d) {
    out.error = d.error.message;
    return out;
  }
  out.status = FleetWriteResult::Status::Written;
  out.revision = d.value->header.revision;
  return out;
}

}  // namespace segproxy::proxy
