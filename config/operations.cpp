// Operations keys of the config: the admin socket (`admin:`), the metrics endpoint
// (`metrics:`) and per-segment limits (`segments.<name>.limits`).
#include <filesystem>
#include <set>

#include "config/detail.hpp"

namespace segproxy::config::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxUnixSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1

// The directory that will hold `file` must exist and be a directory.
void check_parent_dir(Diagnostics& d, const std::string& key_path, const std::string& file) {
  if (file.empty()) return;
  const fs::path parent = fs::path(file).parent_path();
  std::error_code ec;
  const auto st = fs::status(parent, ec);
  if (ec || !fs::exists(st)) {
    d.error_at(key_path, "directory not found: " + parent.string());
  } else if (!fs::is_directory(st)) {
    d.error_at(key_path, "not a directory: " + parent.string());
  }
}

}  // namespace

AdminSettings parse_admin(Reader& r, const YAML::Node& n, const std::string& base_dir) {
  const std::string path = "admin";
  AdminSettings a;
  a.line = r.diag().line(path);
  if (!r.expect_map(n, path, {"socket", "allowed_uids", "revocations_file", "grants_file", "max_grant_ttl"})) return a;
  if (auto v = r.string(n, path, "socket", true)) {
    a.socket = resolve_path(base_dir, *v);
    if (a.socket.size() > kMaxUnixSocketPath) {
      r.diag().error_at(join_path(path, "socket"),
                        "socket path is longer than 107 bytes (the Unix socket limit): " + a.socket);
    }
  }
  if (r.has(n, "allowed_uids")) {
    const std::string up = join_path(path, "allowed_uids");
    const YAML::Node list = r.get(n, "allowed_uids");
    if (!list.IsSequence()) {
      r.diag().error_at(up, std::string("expected a list of numeric uids, got ") + node_kind(list));
    } else {
      for (std::size_t i = 0; i < list.size(); ++i) {
        const YAML::Node item = list[i];
        std::optional<std::uint64_t> uid;
        if (item.IsScalar()) uid = parse_uint(item.Scalar());
        if (!uid || *uid > 0xfffffffeu) {
          r.diag().error(line_of(item), index_path(up, i), "expected a numeric uid (0..4294967294)");
          continue;
        }
        a.allowed_uids.push_back(static_cast<std::uint32_t>(*uid));
      }
      if (list.size() == 0) r.diag().error_at(up, "must list at least one uid (or leave the key out)");
    }
  }
  const auto rev = r.string(n, path, "revocations_file", false);
  a.revocations_file = resolve_path(base_dir, rev ? *rev : std::string("revocations.json"));
  const auto grants = r.string(n, path, "grants_file", false);
  a.grants_file = resolve_path(base_dir, grants ? *grants : std::string("grants.json"));
  if (auto ttl = r.duration(n, path, "max_grant_ttl", false)) {
    // Whole seconds, 1 minute .. 7 days: a break-glass grant is short by design.
    if (*ttl < std::chrono::minutes(1) || *ttl > std::chrono::hours(24 * 7) || ttl->count() % 1000 != 0) {
      r.diag().error_at(join_path(path, "max_grant_ttl"), "must be whole seconds between 1m and 7d");
    } else {
      a.max_grant_ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
    }
  }
  return a;
}

MetricsSettings parse_metrics(Reader& r, const YAML::Node& n) {
  const std::string path = "metrics";
  MetricsSettings m;
  m.line = r.diag().line(path);
  if (!r.expect_map(n, path, {"listen"})) return m;
  if (auto v = r.string(n, path, "listen", true)) {
    std::string why;
    if (auto ep = parse_host_port(*v, why)) m.listen = *ep;
    else r.diag().error_at(join_path(path, "listen"), why);
  }
  return m;
}

void parse_segment_limits(Reader& r, const YAML::Node& n, const std::string& path, SegmentLimits& out) {
  if (!r.expect_map(n, path,
                    {"max_connections", "max_connections_per_identity", "statement_timeout",
                     "idle_timeout"})) {
    return;
  }
  if (auto v = r.uint(n, path, "max_connections", 0, 10'000'000, false)) out.max_connections = *v;
  if (auto v = r.uint(n, path, "max_connections_per_identity", 0, 10'000'000, false)) {
    out.max_connections_per_identity = *v;
  }
  if (auto v = r.duration(n, path, "statement_timeout", true)) out.statement_timeout = *v;
  if (auto v = r.duration(n, path, "idle_timeout", true)) out.idle_timeout = *v;
}

void validate_operations(Diagnostics& d, const Config& cfg) {
  if (cfg.admin) {
    check_parent_dir(d, "admin.socket", cfg.admin->socket);
    check_parent_dir(d, "admin.revocations_file", cfg.admin->revocations_file);
    std::error_code ec;
    if (fs::is_directory(cfg.admin->revocations_file, ec)) {
      d.error_at("admin.revocations_file", "is a directory: " + cfg.admin->revocations_file);
    }
    check_parent_dir(d, "admin.grants_file", cfg.admin->grants_file);
    if (fs::is_directory(cfg.admin->grants_file, ec)) {
      d.error_at("admin.grants_file", "is a directory: " + cfg.admin->grants_file);
    }
    if (cfg.admin->grants_file == cfg.admin->revocations_file) {
      d.error_at("admin.grants_file", "must differ from admin.revocations_file");
    }
  }
  if (cfg.metrics && cfg.metrics->listen.port != 0) {
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
      const Listener& l = cfg.listeners[i];
      if (l.listen.port == cfg.metrics->listen.port && l.listen.host == cfg.metrics->listen.host) {
        d.error_at("metrics.listen", "address is already used by listener " + quote(l.name));
      }
    }
  }
}

}  // namespace segproxy::config::detail
