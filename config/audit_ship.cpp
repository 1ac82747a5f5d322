// `audit.ship:` of the config (issue 17, docs/audit.md "Central store"):
//
//   audit:
//     ship:
//       postgres:
//         host: audit-db.internal          # required
//         port: 5432
//         dbname: audit                    # required
//         user: segproxy_audit_shipper     # required: INSERT + SELECT only
//         password_file: secrets/ship.pw   # or password_env; neither: certificate / trust
//         tls: {mode: verify-full, ca: ca.crt, cert: ship.crt, key: ship.key}
//       batch: 5000                        # records per COPY, 1..100000
//       interval: 1s                       # poll period when caught up
//       connect_timeout: 5s
//       warn_lag_records: 100000           # /readyz warns past either bound; 0: never
//       warn_lag: 5m
#include "config/detail.hpp"

namespace segproxy::config::detail {
namespace {

constexpr std::size_t kMaxName = 63;  // PostgreSQL identifiers

void parse_postgres(Reader& r, const YAML::Node& n, const std::string& path, const std::string& base_dir,
                    AuditShipSettings& s) {
  if (!r.expect_map(n, path, {"host", "port", "dbname", "user", "password_file", "password_env", "tls"})) return;
  if (auto v = r.string(n, path, "host", true)) s.host = *v;
  if (auto v = r.uint(n, path, "port", 1, 65535, false)) s.port = static_cast<std::uint16_t>(*v);
  for (const char* key : {"dbname", "user"}) {
    auto v = r.string(n, path, key, true);
    if (!v) continue;
    if (v->empty() || v->size() > kMaxName || v->find('=') != std::string::npos) {
      r.diag().error_at(join_path(path, key), "must be a PostgreSQL name (1..63 bytes, no '=')");
      continue;
    }
    (std::string(key) == "dbname" ? s.dbname : s.user) = *v;
  }
  const bool has_file = r.has(n, "password_file");
  const bool has_env = r.has(n, "password_env");
  if (auto v = r.string(n, path, "password_file", false)) s.password_file = resolve_path(base_dir, *v);
  if (auto v = r.string(n, path, "password_env", false)) s.password_env = *v;
  if (has_file && has_env) r.diag().error_at(path, "password_file and password_env are mutually exclusive; give one");
  const std::string tp = join_path(path, "tls");
  if (r.has(n, "tls")) {
    const YAML::Node tls = r.get(n, "tls");
    if (r.expect_map(tls, tp, {"mode", "ca", "cert", "key"})) {
      if (auto v = r.one_of(tls, tp, "mode", {"disable", "require", "verify-ca", "verify-full"}, false)) s.tls_mode = *v;
      if (auto v = r.string(tls, tp, "ca", false)) s.tls_ca = resolve_path(base_dir, *v);
      if (auto v = r.string(tls, tp, "cert", false)) s.tls_cert = resolve_path(base_dir, *v);
      if (auto v = r.string(tls, tp, "key", false)) s.tls_key = resolve_path(base_dir, *v);
      if (r.has(tls, "cert") != r.has(tls, "key")) r.diag().error_at(tp, "give both cert and key, or neither");
    }
  }
  if ((s.tls_mode == "verify-ca" || s.tls_mode == "verify-full") && s.tls_ca.empty() &&
      !r.diag().has_error(join_path(tp, "mode"))) {
    r.diag().error_at(r.has(n, "tls") ? tp : path,
                      "tls.ca is required: the store's certificate is verified (tls.mode " + s.tls_mode +
                          ", the default); mode require or disable only on a trusted network");
  }
}

}  // namespace

AuditShipSettings parse_audit_ship(Reader& r, const YAML::Node& n, const std::string& base_dir) {
  const std::string path = "audit.ship";
  AuditShipSettings s;
  s.line = r.diag().line(path);
  if (!r.expect_map(n, path, {"postgres", "batch", "interval", "connect_timeout", "warn_lag_records", "warn_lag"}))
    return s;
  const std::string pp = join_path(path, "postgres");
  if (!r.has(n, "postgres")) r.diag().error_at(pp, "missing required key \"postgres\"");
  else parse_postgres(r, r.get(n, "postgres"), pp, base_dir, s);
  if (auto v = r.uint(n, path, "batch", 1, 100000, false)) s.batch = static_cast<std::size_t>(*v);
  if (auto v = r.duration(n, path, "interval", false)) {
    if (*v < std::chrono::milliseconds(10) || *v > std::chrono::hours(1))
      r.diag().error_at(join_path(path, "interval"), "must be between 10ms and 1h");
    else s.interval = *v;
  }
  if (auto v = r.duration(n, path, "connect_timeout", false)) {
    if (*v < std::chrono::seconds(1) || *v > std::chrono::minutes(5))
      r.diag().error_at(join_path(path, "connect_timeout"), "must be between 1s and 5m");
    else s.connect_timeout = *v;
  }
  if (auto v = r.uint(n, path, "warn_lag_records", 0, 1'000'000'000'000ull, false)) s.warn_lag_records = *v;
  if (auto v = r.duration(n, path, "warn_lag", true)) s.warn_lag = *v;
  return s;
}

void validate_audit_ship(Diagnostics& d, const Config& cfg) {
  if (!cfg.audit || !cfg.audit->ship) return;
  const AuditShipSettings& s = *cfg.audit->ship;
  check_readable_file(d, "audit.ship.postgres.password_file", s.password_file);
  check_readable_file(d, "audit.ship.postgres.tls.ca", s.tls_ca);
  check_readable_file(d, "audit.ship.postgres.tls.cert", s.tls_cert);
  check_readable_file(d, "audit.ship.postgres.tls.key", s.tls_key);
}

}  // namespace segproxy::config::detail
