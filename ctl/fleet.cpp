#include "ctl/fleet.hpp"

#include <algorithm>

#include "config/loader.hpp"
#include "etcd/client.hpp"
#include "fleet/instance_record.hpp"
#include "json/json.hpp"

namespace segproxy::proxy::ctl {

int run_fleet(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string config_path;
  bool as_json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      as_json = true;
    } else if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else {
      err << "usage: segproxyctl fleet --config FILE [--json]\n";
      return 64;
    }
  }
  if (config_path.empty()) {
    err << "usage: segproxyctl fleet --config FILE [--json]\n";
    return 64;
  }
  config::LoadResult loaded = config::load_config_file(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) err << e.to_string() << "\n";
    return 2;
  }
  if (!loaded.config->control_plane) {
    err << "segproxyctl fleet: " << config_path << " has no control_plane block\n";
    return 2;
  }
  const config::ControlPlaneSettings& cp = *loaded.config->control_plane;
  etcd::ClientOptions o;
  o.endpoints = cp.etcd.endpoints;
  o.tls = {cp.etcd.ca, cp.etcd.cert, cp.etcd.key};
  auto client = etcd::Client::create(o);
  if (!client) {
    err << "segproxyctl fleet: " << client.error.message << "\n";
    return 2;
  }
  auto range = (*client.value)->range_prefix(fleet::instances_prefix(cp.etcd.prefix));
  if (!range) {
    err << "segproxyctl fleet: " << range.error.message << "\n";
    return 1;
  }
  std::vector<fleet::InstanceRecord> records;
  int rc = 0;
  for (const etcd::KeyValue& kv : range.value->kvs) {
    std::string error;
    auto r = fleet::decode_instance(kv.value, error);
    if (!r) {
      err << "segproxyctl fleet: unreadable record " << kv.key << ": " << error << "\n";
      rc = 1;
      continue;
    }
    records.push_back(std::move(*r));
  }
  const std::vector<bool> drift = fleet::config_drift(records);
  // Lag: an instance whose applied revision is below the newest revocation write has
  // not applied it yet (its record is rewritten every 5 s, so a fresh revoke can show
  // LAG for up to that long). Keys: daemon/control/fleet_state (docs/fleet.md).
  auto revocations = (*client.value)->range_prefix(cp.etcd.prefix + "/revocations/");
  if (!revocations) {
    err << "segproxyctl fleet: " << revocations.error.message << "\n";
    return 1;
  }
  std::int64_t newest = 0;
  for (const etcd::KeyValue& kv : revocations.value->kvs) newest = std::max(newest, kv.mod_revision);
  auto lagging = [newest](const fleet::InstanceRecord& r) { return r.applied_revision < newest; };
  if (as_json) {
    json::Writer w;
    w.begin_object().field("revision", range.value->header.revision).field("revocations_revision", newest);
    w.key("instances").begin_array();
    for (std::size_t i = 0; i < records.size(); ++i) {
      const fleet::InstanceRecord& r = records[i];
      w.begin_object().field("instance", r.instance).field("version", r.version);
      w.field("config_sha256", r.config_sha256).field("config_drift", static_cast<bool>(drift[i]));
      w.key("listeners").begin_array();
      for (const auto& l : r.listeners) {
        w.begin_object().field("name", l.name).field("protocol", l.protocol).field("address", l.address).end_object();
      }
      w.end_array();
      w.field("sessions", r.sessions).field("started_at", r.started_at).field("updated_at", r.updated_at);
      w.field("applied_revision", r.applied_revision).field("lagging", lagging(r)).end_object();
    }
    w.end_array().end_object();
    out << w.str() << "\n";
    return rc;
  }
  out << "INSTANCE\tVERSION\tCONFIG\tSESSIONS\tLISTENERS\tAPPLIED\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const fleet::InstanceRecord& r = records[i];
    std::string listeners;
    for (const auto& l : r.listeners) listeners += (listeners.empty() ? "" : ",") + l.name + "=" + l.address;
    out << r.instance << "\t" << r.version << "\t" << r.config_sha256.substr(0, 12)
        << (drift[i] ? " (DRIFT)" : "") << "\t" << r.sessions << "\t" << listeners << "\t"
        << r.applied_revision << (lagging(r) ? " (LAG)" : "") << "\n";
  }
  out << records.size() << " instance(s) at etcd revision " << range.value->header.revision << "\n";
  return rc;
}

}  // namespace segproxy::proxy::ctl
