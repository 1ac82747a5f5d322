#include "fleet/instance_record.hpp"

#include <map>

#include "json/json.hpp"

namespace segproxy::fleet {
namespace {

bool str(const json::Value& o, std::string_view k, std::string& out) {
  const json::Value* v = o.find(k);
  if (v == nullptr || !v->is_string()) return false;
  out = v->as_string();
  return true;
}

bool i64(const json::Value& o, std::string_view k, std::int64_t& out) {
  const json::Value* v = o.find(k);
  if (v == nullptr || !v->is_int()) return false;
  out = v->as_int();
  return true;
}
}  // namespace

std::string instances_prefix(std::string_view prefix) { return std::string(prefix) + "/instances/"; }

std::string instance_key(std::string_view prefix, std::string_view instance) {
  return instances_prefix(prefix) + std::string(instance);
}

std::string encode_instance(const InstanceRecord& r) {
  json::Writer w;
  w.begin_object();
  w.field("instance", r.instance).field("version", r.version).field("config_sha256", r.config_sha256);
  w.key("listeners").begin_array();
  for (const ListenerInfo& l : r.listeners) {
    w.begin_object().field("name", l.name).field("protocol", l.protocol).field("address", l.address).end_object();
  }
  w.end_array();
  w.field("sessions", r.sessions).field("started_at", r.started_at).field("updated_at", r.updated_at);
  w.field("applied_revision", r.applied_revision);
  w.end_object();
  return w.take();
}

std::optional<InstanceRecord> decode_instance(std::string_view text, std::string& error) {
  json::Limits limits;
  limits.max_depth = 4;
  json::ParseResult p = json::parse(text, limits);
  if (!p || !p.value->is_object()) {
    error = p ? "not an object" : p.error;
    return std::nullopt;
  }
  const json::Value& o = *p.value;
  InstanceRecord r;
  std::int64_t sessions = 0;
  const json::Value* ls = o.find("listeners");
  if (!str(o, "instance", r.instance) || !str(o, "version", r.version) ||
      !str(o, "config_sha256", r.config_sha256) || !i64(o, "sessions", sessions) || sessions < 0 ||
      !i64(o, "started_at", r.started_at) || !i64(o, "updated_at", r.updated_at) ||
      !i64(o, "applied_revision", r.applied_revision) || ls == nullptr || !ls->is_array()) {
    error = "missing or mistyped field";
    return std::nullopt;
  }
  r.sessions = static_cast<std::uint64_t>(sessions);
  for (const json::Value& l : ls->as_array()) {
    ListenerInfo li;
    if (!l.is_object() || !str(l, "name", li.name) || !str(l, "protocol", li.protocol) ||
        !str(l, "address", li.address)) {
      error = "malformed listener";
      return std::nullopt;
    }
    r.listeners.push_back(std::move(li));
  }
  return r;
}

std::vector<bool> config_drift(const std::vector<InstanceRecord>& records) {
  std::map<std::string, std::size_t> counts;
  for (const InstanceRecord& r : records) ++counts[r.config_sha256];
  std::string majority;
  std::size_t best = 0;
  bool tie = false;
  for (const auto& [hash, n] : counts) {
    if (n > best) {
      best = n;
      majority = hash;
      tie = false;
    } else if (n == best) {
      tie = true;
    }
  }
  std::vector<bool> drift(records.size(), false);
  if (tie) return drift;
  for (std::size_t i = 0; i < records.size(); ++i) drift[i] = records[i].config_sha256 != majority;
  return drift;
}

}  // namespace segproxy::fleet
