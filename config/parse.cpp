// Pass 1 of the config loader: YAML tree -> Config. Checks shapes, types, ranges,
// unknown keys and the rules local to one entry; cross references are in validate.cpp.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "config/detail.hpp"
#include "config/name_template.hpp"

namespace segproxy::config::detail {
namespace {

std::string resolve(const std::string& base_dir, const std::string& p) { return resolve_path(base_dir, p); }

void parse_log(Reader& r, const YAML::Node& n, LogConfig& out) {
  const std::string path = "log";
  if (!r.expect_map(n, path, {"level", "format"})) return;
  if (auto v = r.one_of(n, path, "level", {"debug", "info", "warn", "error"}, false)) out.level = *v;
  if (auto v = r.one_of(n, path, "format", {"text", "json"}, false)) {
    out.format = *v == "json" ? LogFormat::Json : LogFormat::Text;
  }
}

void parse_limits(Reader& r, const YAML::Node& n, LimitsConfig& out) {
  const std::string path = "limits";
  if (!r.expect_map(n, path,
                    {"max_startup_packet", "max_message_size", "max_connections",
                     "handshake_timeout", "startup_timeout", "backend_connect_timeout", "backend_message_timeout",
                     "idle_timeout", "max_handshakes_per_address", "max_connections_per_address", "max_concurrent_handshakes",
                     "cancel_requests_per_second", "max_statement_length", "max_statements_per_message",
                     "max_parse_depth", "max_statement_tokens"})) {
    return;
  }
  constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;
  if (auto v = r.size(n, path, "max_startup_packet", 1, kGiB)) out.max_startup_packet = *v;
  if (auto v = r.size(n, path, "max_message_size", 1, kGiB)) out.max_message_size = *v;
  if (auto v = r.uint(n, path, "max_connections", 1, 10'000'000, false)) out.max_connections = *v;
  if (auto v = r.duration(n, path, "handshake_timeout", false)) out.handshake_timeout = *v;
  if (auto v = r.duration(n, path, "startup_timeout", false)) out.startup_timeout = *v;
  if (auto v = r.duration(n, path, "backend_connect_timeout", false)) {
    out.backend_connect_timeout = *v;
  }
  if (auto v = r.duration(n, path, "backend_message_timeout", true)) out.backend_message_timeout = *v;
  if (auto v = r.duration(n, path, "idle_timeout", true)) out.idle_timeout = *v;
  if (auto v = r.uint(n, path, "max_handshakes_per_address", 0, 10'000'000, false)) out.max_handshakes_per_address = *v;
  if (auto v = r.uint(n, path, "max_concurrent_handshakes", 0, 10'000'000, false)) out.max_concurrent_handshakes = *v;
  if (auto v = r.uint(n, path, "max_connections_per_address", 0, 10'000'000, false)) {
    out.max_connections_per_address = *v;
  }
  if (auto v = r.uint(n, path, "cancel_requests_per_second", 0, 1'000'000, false)) {
    out.cancel_requests_per_second = static_cast<std::uint32_t>(*v);
  }
  // Upper bounds: the proxy's I/O threads reserve stack for max_parse_depth (~2.3 KiB per
  // level); 64 MiB of text is the largest client message anyway.
  if (auto v = r.size(n, path, "max_statement_length", 1, 64ull * 1024 * 1024)) out.max_statement_length = *v;
  if (auto v = r.uint(n, path, "max_statements_per_message", 1, 1'000'000, false)) {
    out.max_statements_per_message = *v;
  }
  if (auto v = r.uint(n, path, "max_parse_depth", 1, 10'000, false)) out.max_parse_depth = *v;
  if (auto v = r.uint(n, path, "max_statement_tokens", 1, 10'000'000, false)) out.max_statement_tokens = *v;
}

void parse_listener_tls(Reader& r, const YAML::Node& n, const std::string& path,
                        const std::string& base_dir, ListenerTls& out) {
  if (!r.expect_map(n, path, {"cert", "key", "client_ca", "min_version", "crl", "verify_depth"})) return;
  if (auto v = r.string(n, path, "cert", true)) out.cert = resolve(base_dir, *v);
  if (auto v = r.string(n, path, "key", true)) out.key = resolve(base_dir, *v);
  if (auto v = r.string(n, path, "client_ca", true)) out.client_ca = resolve(base_dir, *v);
  if (auto v = r.one_of(n, path, "min_version", {"1.2", "1.3"}, false)) out.min_version = *v;
  if (auto v = r.string(n, path, "crl", false)) out.crl = resolve(base_dir, *v);
  if (auto v = r.uint(n, path, "verify_depth", 0, 16, false)) out.verify_depth = static_cast<int>(*v);
}

void parse_backend_tls(Reader& r, const YAML::Node& n, const std::string& path,
                       const std::string& base_dir, BackendTls& out) {
  if (!r.expect_map(n, path, {"mode", "ca", "server_name"})) return;
  const auto mode = r.one_of(n, path, "mode", {"disable", "require", "verify-full"}, true);
  if (mode == "require") out.mode = BackendTlsMode::Require;
  if (mode == "verify-full") out.mode = BackendTlsMode::VerifyFull;
  if (auto v = r.string(n, path, "ca", false)) out.ca = resolve(base_dir, *v);
  if (auto v = r.string(n, path, "server_name", false)) out.server_name = *v;
  if (mode == "verify-full" && !r.has(n, "ca")) {
    r.diag().error_at(join_path(path, "mode"), "mode verify-full requires \"ca\"");
  }
}

// backend.metadata: the catalog login for learning view dependencies.
MetadataCredential parse_metadata(Reader& r, const YAML::Node& n, const std::string& path,
                                  const std::string& base_dir) {
  MetadataCredential m;
  m.line = r.diag().line(path);
  if (!r.expect_map(n, path, {"user", "password_file", "password_env", "refresh"})) return m;
  if (auto v = r.string(n, path, "user", true)) m.user = *v;
  const bool has_file = r.has(n, "password_file");
  const bool has_env = r.has(n, "password_env");
  if (auto v = r.string(n, path, "password_file", false)) m.password_file = resolve(base_dir, *v);
  if (auto v = r.string(n, path, "password_env", false)) m.password_env = *v;
  if (has_file && has_env) {
    r.diag().error_at(path, "password_file and password_env are mutually exclusive; give one");
  } else if (!has_file && !has_env) {
    r.diag().error_at(path, "exactly one of password_file or password_env is required");
  }
  if (auto v = r.duration(n, path, "refresh", true)) {
    if (v->count() != 0 && *v < std::chrono::seconds(1)) {
      r.diag().error_at(join_path(path, "refresh"),
                        "refresh must be 0 (start, reload and after DDL only) or at least 1s");
    }
    m.refresh = *v;
  }
  return m;
}

// backend.auth: the methods the proxy answers at its backend login (pinned; a backend
// asking for another one is refused). Cleartext needs a verified backend.
void parse_backend_auth(Reader& r, const YAML::Node& n, const std::string& path, Protocol protocol, Backend& out) {
  const bool pg = protocol == Protocol::Postgres;
  const bool tls = out.tls.mode != BackendTlsMode::Disable;
  const std::vector<std::string> known =
      pg ? std::vector<std::string>{"scram-sha-256", "scram-sha-256-plus", "md5", "password"}
         : std::vector<std::string>{"mysql_native_password", "caching_sha2_password", "client_ed25519",
                                    "sha256_password", "mysql_clear_password"};
  auto list = r.string_list(n, path, "auth", false);
  if (!list) {
    if (pg) out.auth = {tls ? "scram-sha-256-plus" : "scram-sha-256"};
    else out.auth = {"mysql_native_password", "caching_sha2_password", "client_ed25519"};
    return;
  }
  const std::string kp = join_path(path, "auth");
  if (list->empty()) {
    r.diag().error_at(kp, "must name at least one authentication method");
    return;
  }
  for (const auto& m : *list) {
    if (std::find(known.begin(), known.end(), m) == known.end()) {
      std::string all;
      for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
      r.diag().error_at(kp, "unknown authentication method " + quote(m) + " (expected one of: " + all + ")");
      return;
    }
    // These hand the backend the password itself (sha256_password: in clear inside TLS,
    // or encrypted to a key the server supplies): only to a verified backend.
    const bool gives_password = m == "password" || m == "mysql_clear_password" || m == "sha256_password";
    if (gives_password && out.tls.mode != BackendTlsMode::VerifyFull) {
      r.diag().error_at(kp, quote(m) +
                                " gives the backend the password itself: it needs backend tls.mode verify-full");
      return;
    }
    if (m == "scram-sha-256-plus" && !tls) {
      r.diag().error_at(kp, "\"scram-sha-256-plus\" (channel binding) needs backend TLS (tls.mode require or "
                            "verify-full)");
      return;
    }
  }
  out.auth = std::move(*list);
}

void parse_backend(Reader& r, const YAML::Node& n, const std::string& path,
                   const std::string& base_dir, Protocol protocol, Backend& out) {
  if (!r.expect_map(n, path, {"host", "port", "tls", "metadata", "auth"})) return;
  if (r.has(n, "metadata")) {
    out.metadata = parse_metadata(r, r.get(n, "metadata"), join_path(path, "metadata"), base_dir);
  }
  if (auto v = r.string(n, path, "host", true)) out.endpoint.host = *v;
  if (auto v = r.uint(n, path, "port", 1, 65535, true)) {
    out.endpoint.port = static_cast<std::uint16_t>(*v);
  }
  if (r.has(n, "tls")) parse_backend_tls(r, r.get(n, "tls"), join_path(path, "tls"), base_dir, out.tls);
  parse_backend_auth(r, n, path, protocol, out);
}

Listener parse_listener(Reader& r, const YAML::Node& n, const std::string& path,
                        const std::string& base_dir) {
  Listener l;
  l.line = line_of(n);
  r.diag().note_line(path, l.line);
  if (!r.expect_map(n, path, {"name", "protocol", "listen", "tls", "backend"})) return l;
  if (auto v = r.string(n, path, "name", true)) l.name = *v;
  const auto proto = r.one_of(n, path, "protocol", {"postgres", "mysql"}, true);
  if (proto == "mysql") l.protocol = Protocol::Mysql;
  if (auto v = r.string(n, path, "listen", true)) {
    std::string why;
    if (auto ep = parse_host_port(*v, why)) l.listen = *ep;
    else r.diag().error_at(join_path(path, "listen"), why);
  }
  if (r.has(n, "tls")) parse_listener_tls(r, r.get(n, "tls"), join_path(path, "tls"), base_dir, l.tls);
  else r.diag().error(l.line, join_path(path, "tls"), "missing required key \"tls\" (client certificates are mandatory)");
  if (r.has(n, "backend")) {
    parse_backend(r, r.get(n, "backend"), join_path(path, "backend"), base_dir, l.protocol, l.backend);
  } else {
    r.diag().error(l.line, join_path(path, "backend"), "missing required key \"backend\"");
  }
  return l;
}

// A duration key held in whole seconds: 0 (disabled) or at least `min_nonzero`.
std::optional<std::chrono::seconds> whole_seconds(Reader& r, const YAML::Node& n,
                                                  const std::string& path, std::string_view key,
                                                  std::chrono::seconds min_nonzero) {
  const auto v = r.duration(n, path, key, true);
  if (!v) return std::nullopt;
  const std::string kp = join_path(path, key);
  if (v->count() % 1000 != 0) {
    r.diag().error_at(kp, "must be a whole number of seconds (e.g. 60s, 5m, 24h) or 0");
    return std::nullopt;
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*v);
  if (secs.count() != 0 && secs < min_nonzero) {
    r.diag().error_at(kp, "must be 0 (disabled) or at least " +
                              std::to_string(min_nonzero.count()) + "s");
    return std::nullopt;
  }
  return secs;
}

// `audit:` -> AuditSettings (enum words are checked here, files in validate.cpp).
AuditSettings parse_audit(Reader& r, const YAML::Node& n, const std::string& base_dir) {
  const std::string path = "audit";
  AuditSettings a;
  a.line = r.diag().line(path);
  if (!r.expect_map(n, path,
                    {"dir", "durability", "sync_interval", "on_failure", "statement_text",
                     "checkpoint_every_records", "checkpoint_every", "rotate_size",
                     "rotate_every", "signing_key", "max_queue", "instance", "max_statement_text",
                     "max_wait", "group_delay", "ship"})) {
    return a;
  }
  if (auto v = r.string(n, path, "dir", true)) a.dir = resolve(base_dir, *v);
  if (auto v = r.one_of(n, path, "durability", {"fsync_each", "group", "interval"}, false)) {
    a.durability = *v;
  }
  if (auto v = r.duration(n, path, "sync_interval", false)) a.sync_interval = *v;
  if (auto v = r.one_of(n, path, "on_failure", {"fail_closed", "fail_open"}, false)) {
    a.on_failure = *v;
  }
  if (auto v = r.one_of(n, path, "statement_text", {"full", "normalized", "none"}, false)) {
    a.statement_text = *v;
  }
  if (auto v = r.uint(n, path, "checkpoint_every_records", 0, 1'000'000'000, false)) {
    a.checkpoint_every_records = *v;
  }
  if (auto v = whole_seconds(r, n, path, "checkpoint_every", std::chrono::seconds(1))) {
    a.checkpoint_every = *v;
  }
  constexpr std::uint64_t kMinRotateSize = 64 * 1024;
  constexpr std::uint64_t kMaxRotateSize = 1ull << 40;  // 1 TiB
  if (auto v = r.size(n, path, "rotate_size", 0, kMaxRotateSize)) {
    if (*v != 0 && *v < kMinRotateSize) {
      r.diag().error_at(join_path(path, "rotate_size"),
                        "must be 0 (no size rotation) or at least 64KiB");
    } else {
      a.rotate_size = *v;
    }
  }
  if (auto v = whole_seconds(r, n, path, "rotate_every", std::chrono::seconds(60))) {
    a.rotate_every = *v;
  }
  if (auto v = r.string(n, path, "signing_key", false)) a.signing_key = resolve(base_dir, *v);
  if (auto v = r.size(n, path, "max_statement_text", 256, 16ull * 1024 * 1024)) {
    a.max_statement_text = static_cast<std::size_t>(*v);
  }
  if (auto v = r.uint(n, path, "max_queue", 1, 10'000'000, false)) {
    a.max_queue = static_cast<std::size_t>(*v);
  }
  if (auto v = r.string(n, path, "instance", false)) a.instance = *v;
  if (auto v = r.duration(n, path, "max_wait", false)) {
    if (*v < std::chrono::milliseconds(10) || *v > std::chrono::minutes(10)) {
      r.diag().error_at(join_path(path, "max_wait"), "must be between 10ms and 10m");
    } else {
      a.max_wait = *v;
    }
  }
  if (auto v = r.string(n, path, "group_delay", false)) {
    std::string why;
    if (auto d = parse_micro_duration(*v, why); !d) {
      r.diag().error_at(join_path(path, "group_delay"), why);
    } else if (*d > std::chrono::milliseconds(10)) {
      r.diag().error_at(join_path(path, "group_delay"), "must be between 0 and 10ms");
    } else {
      a.group_delay = *d;
    }
  }
  if (r.has(n, "ship")) a.ship = parse_audit_ship(r, r.get(n, "ship"), base_dir);
  return a;
}

// Lower-case hex without ':' separators; nullopt when it is not 64 hex digits.
std::optional<std::string> normalize_sha256(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

IdentityRule parse_identity(Reader& r, const YAML::Node& n, const std::string& path) {
  IdentityRule rule;
  rule.line = line_of(n);
  r.diag().note_line(path, rule.line);
  if (!r.expect_map(n, path, {"match", "segment"})) return rule;
  if (auto v = r.string(n, path, "segment", true)) rule.segment = *v;
  if (!r.has(n, "match")) {
    r.diag().error(rule.line, join_path(path, "match"), "missing required key \"match\"");
    return rule;
  }
  const std::string mp = join_path(path, "match");
  const YAML::Node m = r.get(n, "match");
  if (!r.expect_map(m, mp, {"spiffe_id", "cn", "ou", "dns", "cert_sha256"})) return rule;
  IdentityMatch& im = rule.match;
  im.spiffe_id = r.string(m, mp, "spiffe_id", false);
  im.cn = r.string(m, mp, "cn", false);
  im.ou = r.string(m, mp, "ou", false);
  im.dns = r.string(m, mp, "dns", false);
  if (auto v = r.string(m, mp, "cert_sha256", false)) {
    im.cert_sha256 = normalize_sha256(*v);
    if (!im.cert_sha256) {
      r.diag().error_at(join_path(mp, "cert_sha256"),
                        "expected 64 hex digits (':' separators allowed)");
    }
  }
  const bool any_key = r.has(m, "spiffe_id") || r.has(m, "cn") || r.has(m, "ou") ||
                       r.has(m, "dns") || r.has(m, "cert_sha256");
  if (!any_key) {
    r.diag().error_at(mp, "match needs at least one of spiffe_id, cn, ou, dns, cert_sha256");
  }
  return rule;
}

// `credentials.<listener>.dynamic` (shape, durations, template syntax; names against
// the segment/listener and per-protocol keys are checked in validate.cpp).
DynamicCredentialConfig parse_dynamic_credential(Reader& r, const YAML::Node& n, const std::string& path,
                                                 const std::string& base_dir) {
  DynamicCredentialConfig d;
  d.line = r.diag().line(path);
  if (!r.expect_map(n, path, {"admin", "grant_roles", "grants", "ttl", "renew_before", "name_template"})) {
    return d;
  }
  const std::string ap = join_path(path, "admin");
  if (!r.has(n, "admin")) {
    r.diag().error_at(path, "missing required key \"admin\" (the login that creates and drops users)");
  } else if (const YAML::Node a = r.get(n, "admin"); r.expect_map(a, ap, {"user", "password_file", "password_env"})) {
    if (auto v = r.string(a, ap, "user", true)) d.admin_user = *v;
    const bool has_file = r.has(a, "password_file");
    const bool has_env = r.has(a, "password_env");
    if (auto v = r.string(a, ap, "password_file", false)) d.admin_password_file = resolve(base_dir, *v);
    if (auto v = r.string(a, ap, "password_env", false)) d.admin_password_env = *v;
    if (has_file && has_env) {
      r.diag().error_at(ap, "password_file and password_env are mutually exclusive; give one");
    } else if (!has_file && !has_env) {
      r.diag().error_at(ap, "exactly one of password_file or password_env is required");
    }
  }
  if (auto v = r.string_list(n, path, "grant_roles", false)) d.grant_roles = std::move(*v);
  if (auto v = r.string_list(n, path, "grants", false)) d.grants = std::move(*v);
  bool ttl_ok = true;
  if (auto v = r.duration(n, path, "ttl", false)) {
    if (*v < std::chrono::minutes(1)) {
      r.diag().error_at(join_path(path, "ttl"), "ttl must be at least 1m");
      ttl_ok = false;
    }
    d.ttl = *v;
  } else if (r.has(n, "ttl")) {
    ttl_ok = false;
  }
  if (auto v = r.duration(n, path, "renew_before", false)) {
    d.renew_before = *v;
    if (ttl_ok && d.renew_before >= d.ttl) {
      r.diag().error_at(join_path(path, "renew_before"), "renew_before must be shorter than ttl");
    }
  } else if (!r.has(n, "renew_before")) {
    d.renew_before = d.ttl / 6;  // 10m for the default 1h
  }
  if (auto v = r.string(n, path, "name_template", false)) {
    std::string why;
    if (!check_name_template(*v, why)) r.diag().error_at(join_path(path, "name_template"), why);
    d.name_template = *v;
  }
  return d;
}

void parse_credentials(Reader& r, const YAML::Node& n, const std::string& path,
                       const std::string& base_dir, Segment& seg) {
  if (!r.expect_map(n, path, {})) return;  // keys are listener names: checked in validate
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string listener = it->first.Scalar();
    const std::string cp = join_path(path, listener);
    const YAML::Node c = it->second;
    CredentialRef ref;
    ref.line = r.diag().line(cp);
    if (!r.expect_map(c, cp, {"user", "password_file", "password_env", "dynamic"})) {
      seg.credentials.emplace(listener, ref);
      continue;
    }
    if (r.has(c, "dynamic")) {
      if (r.has(c, "user") || r.has(c, "password_file") || r.has(c, "password_env")) {
        r.diag().error_at(cp, "a credential is either static (user + password_file/password_env) "
                              "or dynamic, not both");
      }
      ref.dynamic = parse_dynamic_credential(r, r.get(c, "dynamic"), join_path(cp, "dynamic"), base_dir);
      seg.credentials.emplace(listener, ref);
      continue;
    }
    if (auto v = r.string(c, cp, "user", true)) ref.user = *v;
    const bool has_file = r.has(c, "password_file");
    const bool has_env = r.has(c, "password_env");
    if (auto v = r.string(c, cp, "password_file", false)) ref.password_file = resolve(base_dir, *v);
    if (auto v = r.string(c, cp, "password_env", false)) ref.password_env = *v;
    if (has_file && has_env) {
      r.diag().error_at(cp, "password_file and password_env are mutually exclusive; give one");
    } else if (!has_file && !has_env) {
      r.diag().error_at(cp, "exactly one of password_file or password_env is required");
    }
    seg.credentials.emplace(listener, ref);
  }
}

Segment parse_segment(Reader& r, const std::string& name, const YAML::Node& n,
                      const std::string& path, const std::string& base_dir) {
  Segment seg;
  seg.name = name;
  seg.line = r.diag().line(path);
  if (!r.expect_map(n, path,
                    {"databases", "credentials", "default_schema", "mode", "windows", "on_window_close",
                     "window_close_grace", "catalog", "rules", "statements", "functions", "views", "limits"})) {
    return seg;
  }
  if (auto v = r.string_list(n, path, "databases", true)) {
    if (v->empty()) r.diag().error_at(join_path(path, "databases"), "must list at least one database");
    seg.databases = std::move(*v);
  }
  if (r.has(n, "credentials")) {
    parse_credentials(r, r.get(n, "credentials"), join_path(path, "credentials"), base_dir, seg);
  }
  parse_segment_policy(r, n, path, name, seg.policy);
  if (r.has(n, "limits")) parse_segment_limits(r, r.get(n, "limits"), join_path(path, "limits"), seg.limits);
  return seg;
}

// A list under `key`; absent is allowed (returns an empty node).
YAML::Node sequence(Reader& r, const YAML::Node& root, std::string_view key) {
  if (!r.has(root, key)) return YAML::Node(YAML::NodeType::Sequence);
  const YAML::Node n = r.get(root, key);
  if (n.IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  if (!n.IsSequence()) {
    r.diag().error_at(std::string(key), std::string("expected a list, got ") + node_kind(n));
    return YAML::Node(YAML::NodeType::Sequence);
  }
  return n;
}

}  // namespace

void parse_config(Reader& r, const YAML::Node& root, const std::string& base_dir, Config& out) {
  if (root.IsNull() || !root.IsDefined()) {
    r.diag().error(0, "listeners", "empty config: no listeners configured");
    return;
  }
  if (!r.expect_map(root, "",
                    {"threads", "handshake_threads", "handshake_nice", "log", "limits", "listeners", "identities",
                     "segments", "audit", "admin", "metrics", "control_plane"})) {
    return;
  }
  if (auto v = r.uint(root, "", "threads", 0, 1024, false)) out.threads = static_cast<unsigned>(*v);
  if (auto v = r.uint(root, "", "handshake_threads", 0, 64, false)) out.handshake_threads = static_cast<unsigned>(*v);
  if (auto v = r.uint(root, "", "handshake_nice", 0, 19, false)) out.handshake_nice = static_cast<int>(*v);
  if (r.has(root, "log")) parse_log(r, r.get(root, "log"), out.log);
  if (r.has(root, "limits")) parse_limits(r, r.get(root, "limits"), out.limits);
  if (r.has(root, "audit")) out.audit = parse_audit(r, r.get(root, "audit"), base_dir);
  if (r.has(root, "admin")) out.admin = parse_admin(r, r.get(root, "admin"), base_dir);
  if (r.has(root, "metrics")) out.metrics = parse_metrics(r, r.get(root, "metrics"));
  if (r.has(root, "control_plane")) {
    out.control_plane = parse_control_plane(r, r.get(root, "control_plane"), base_dir);
  }

  const YAML::Node listeners = sequence(r, root, "listeners");
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    out.listeners.push_back(parse_listener(r, listeners[i], index_path("listeners", i), base_dir));
  }
  if (listeners.size() == 0) r.diag().error_at("listeners", "no listeners configured");

  const YAML::Node identities = sequence(r, root, "identities");
  for (std::size_t i = 0; i < identities.size(); ++i) {
    out.identities.push_back(parse_identity(r, identities[i], index_path("identities", i)));
  }

  if (r.has(root, "segments")) {
    const YAML::Node segs = r.get(root, "segments");
    if (segs.IsNull()) return;
    if (!r.expect_map(segs, "segments", {})) return;  // keys are segment names
    for (auto it = segs.begin(); it != segs.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string name = it->first.Scalar();
      if (out.segments.count(name) != 0) continue;  // duplicate: already reported
      out.segments.emplace(name, parse_segment(r, name, it->second, join_path("segments", name), base_dir));
    }
  }
}

}  // namespace segproxy::config::detail
