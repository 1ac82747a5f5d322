// The fleet keys of the config: `control_plane:` (issue 16, docs/fleet.md).
//
//   control_plane:
//     etcd:
//       endpoints: [https://127.0.0.1:2379, ...]   # required, https only, 1..16
//       tls: {ca: ..., cert: ..., key: ...}         # required: etcd runs --client-cert-auth
//       prefix: /segproxy/prod                      # default /segproxy
//     instance: proxy-a                             # default: the host name
//     max_staleness: 30s                            # default 30s
//     on_stale: keep_serving                        # or refuse_new_sessions
#include <set>

#include "config/detail.hpp"

namespace segproxy::config::detail {
namespace {

constexpr std::size_t kMaxEndpoints = 16;
constexpr std::size_t kMaxPrefix = 256;
constexpr std::size_t kMaxInstance = 253;  // a DNS name

// "https://host:port" (optionally with a trailing '/'); why set on failure.
bool valid_endpoint(std::string_view url, std::string& why) {
  constexpr std::string_view https = "https://";
  if (url.substr(0, 7) == "http://") {
    why = "plaintext etcd endpoint " + quote(url) + " refused: use https:// (etcd with TLS)";
    return false;
  }
  if (url.substr(0, https.size()) != https) {
    why = "invalid etcd endpoint " + quote(url) + " (expected https://host:port)";
    return false;
  }
  std::string_view rest = url.substr(https.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    why = "invalid etcd endpoint " + quote(url) + " (expected https://host:port, no path)";
    return false;
  }
  return parse_host_port(rest, why).has_value();
}

// A key prefix: absolute, no trailing or doubled '/', printable ASCII, bounded.
bool valid_prefix(std::string_view p, std::string& why) {
  if (p.size() < 2 || p.front() != '/' || p.back() == '/') {
    why = "must start with '/', name something below the root and not end with '/' (e.g. /segproxy/prod)";
    return false;
  }
  if (p.size() > kMaxPrefix) {
    why = "is longer than 256 bytes";
    return false;
  }
  if (p.find("//") != std::string_view::npos) {
    why = "must not contain an empty segment ('//')";
    return false;
  }
  for (char c : p) {
    if (c < 0x21 || c > 0x7e) {
      why = "may only contain printable ASCII without spaces";
      return false;
    }
  }
  return true;
}

// An instance name becomes a key segment and the audit `instance`: a host-name-like word.
bool valid_instance(std::string_view s, std::string& why) {
  if (s.empty() || s.size() > kMaxInstance) {
    why = "must be 1..253 characters";
    return false;
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s.front())) {
    why = "must start with a letter or digit";
    return false;
  }
  for (char c : s) {
    if (!alnum(c) && c != '.' && c != '-' && c != '_') {
      why = "may only contain letters, digits, '.', '-' and '_'";
      return false;
    }
  }
  return true;
}

void parse_etcd(Reader& r, const YAML::Node& n, const std::string& path,
                const std::string& base_dir, EtcdSettings& out) {
  if (!r.expect_map(n, path, {"endpoints", "tls", "prefix"})) return;
  const std::string ep = join_path(path, "endpoints");
  if (!r.has(n, "endpoints")) {
    r.diag().error_at(ep, "missing required key \"endpoints\"");
  } else {
    const YAML::Node list = r.get(n, "endpoints");
    if (!list.IsSequence()) {
      r.diag().error_at(ep, std::string("expected a list of https://host:port, got ") + node_kind(list));
    } else if (list.size() == 0 || list.size() > kMaxEndpoints) {
      r.diag().error_at(ep, "must list 1..16 etcd members");
    } else {
      std::set<std::string> seen;
      for (std::size_t i = 0; i < list.size(); ++i) {
        const YAML::Node item = list[i];
        std::string why;
        if (!item.IsScalar()) {
          r.diag().error(line_of(item), index_path(ep, i), "expected https://host:port");
        } else if (!valid_endpoint(item.Scalar(), why)) {
          r.diag().error(line_of(item), index_path(ep, i), why);
        } else if (!seen.insert(item.Scalar()).second) {
          r.diag().error(line_of(item), index_path(ep, i), "duplicate endpoint " + quote(item.Scalar()));
        } else {
          out.endpoints.push_back(item.Scalar());
        }
      }
    }
  }
  const std::string tp = join_path(path, "tls");
  if (!r.has(n, "tls")) {
    r.diag().error_at(tp, "missing required key \"tls\" (etcd must verify this instance's certificate)");
  } else if (const YAML::Node tls = r.get(n, "tls"); r.expect_map(tls, tp, {"ca", "cert", "key"})) {
    if (auto v = r.string(tls, tp, "ca", true)) out.ca = resolve_path(base_dir, *v);
    if (auto v = r.string(tls, tp, "cert", true)) out.cert = resolve_path(base_dir, *v);
    if (auto v = r.string(tls, tp, "key", true)) out.key = resolve_path(base_dir, *v);
  }
  if (auto v = r.string(n, path, "prefix", false)) {
    std::string why;
    if (valid_prefix(*v, why)) out.prefix = *v;
    else r.diag().error_at(join_path(path, "prefix"), "prefix " + quote(*v) + " " + why);
  }
}

}  // namespace

ControlPlaneSettings parse_control_plane(Reader& r, const YAML::Node& n, const std::string& base_dir) {
  const std::string path = "control_plane";
  ControlPlaneSettings c;
  c.line = r.diag().line(path);
  if (!r.expect_map(n, path, {"etcd", "instance", "max_staleness", "on_stale"})) return c;
  if (!r.has(n, "etcd")) {
    r.diag().error_at(join_path(path, "etcd"), "missing required key \"etcd\"");
  } else {
    parse_etcd(r, r.get(n, "etcd"), join_path(path, "etcd"), base_dir, c.etcd);
  }
  if (auto v = r.string(n, path, "instance", false)) {
    std::string why;
    if (valid_instance(*v, why)) c.instance = *v;
    else r.diag().error_at(join_path(path, "instance"), "instance " + quote(*v) + " " + why);
  }
  if (auto v = r.duration(n, path, "max_staleness", false)) c.max_staleness = *v;
  if (auto v = r.one_of(n, path, "on_stale", {"keep_serving", "refuse_new_sessions"}, false)) {
    c.on_stale = *v == "refuse_new_sessions" ? OnStale::RefuseNewSessions : OnStale::KeepServing;
  }
  return c;
}

void validate_control_plane(Diagnostics& d, const Config& cfg) {
  if (!cfg.control_plane) return;
  const EtcdSettings& e = cfg.control_plane->etcd;
  check_readable_file(d, "control_plane.etcd.tls.ca", e.ca);
  check_readable_file(d, "control_plane.etcd.tls.cert", e.cert);
  check_readable_file(d, "control_plane.etcd.tls.key", e.key);
  // One name per instance: the registry key and the audit records must agree.
  const std::string& name = cfg.control_plane->instance;
  if (!name.empty() && cfg.audit && !cfg.audit->instance.empty() && cfg.audit->instance != name) {
    d.error_at("control_plane.instance",
               "differs from audit.instance " + quote(cfg.audit->instance) +
                   " (one name per instance: set one of them, or both the same)");
  }
}

}  // namespace segproxy::config::detail
