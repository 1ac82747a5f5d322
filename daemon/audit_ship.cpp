// audit.ship -> the central store's shipper (see audit_ship.hpp).
#include "daemon/audit_ship.hpp"

#include "daemon/catalog/view_loader.hpp"  // read_metadata_password: the one password_file/env reader

namespace segproxy::proxy {

std::unique_ptr<audit::store::Shipper> start_audit_shipper(const config::AuditShipSettings& s,
                                                           const audit::AuditConfig& audit, audit::FileSink& sink,
                                                           const authz::EnvironmentLookup& environment, Logger& log,
                                                           std::string& error) {
  audit::store::ShipperOptions o;
  o.endpoint.host = s.host;
  o.endpoint.port = s.port;
  o.endpoint.dbname = s.dbname;
  o.endpoint.user = s.user;
  o.endpoint.tls_mode = s.tls_mode;
  o.endpoint.tls_ca = s.tls_ca;
  o.endpoint.tls_cert = s.tls_cert;
  o.endpoint.tls_key = s.tls_key;
  o.endpoint.connect_timeout = s.connect_timeout;
  o.endpoint.statement_timeout = 6 * s.connect_timeout;
  if (!s.password_file.empty() || !s.password_env.empty()) {
    config::MetadataCredential m;
    m.user = s.user;
    m.password_file = s.password_file;
    m.password_env = s.password_env;
    authz::Secret secret;
    if (!read_metadata_password(m, environment, secret, error)) {
      error = "audit.ship.postgres: " + error;
      return nullptr;
    }
    o.password = secret.reveal();
  }
  o.instance = audit.instance;
  o.dir = audit.dir;
  o.batch = s.batch;
  o.interval = s.interval;
  auto shipper = std::make_unique<audit::store::Shipper>(
      std::move(o), [&sink] { return sink.durable_seq(); },
      [&log](bool is_error, const std::string& event, const std::string& detail) {
        if (is_error) log.warn(event, {{"error", detail}});
        else log.info(event, {{"detail", detail}});
      });
  shipper->start();
  log.info("audit.ship_started", {{"store", s.host + ":" + std::to_string(s.port) + "/" + s.dbname},
                                  {"user", s.user}, {"instance", audit.instance}});
  return shipper;
}

std::string audit_ship_warning(const config::AuditShipSettings& s, const audit::store::ShipperStatus& st) {
  std::string w;
  const bool records = s.warn_lag_records > 0 && st.lag_records() > s.warn_lag_records;
  const bool age = s.warn_lag.count() > 0 && st.lag_seconds * 1000.0 > static_cast<double>(s.warn_lag.count());
  if (!records && !age) return w;
  w = "warning: audit shipping lags (" + std::to_string(st.lag_records()) + " records, " +
      std::to_string(static_cast<long long>(st.lag_seconds)) + " s behind the local log)";
  if (!st.error.empty()) w += ": " + st.error;
  return w;
}

}  // namespace segproxy::proxy
