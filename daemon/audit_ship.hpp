#pragma once
// The daemon's side of the central audit store (docs/audit.md "Central store"):
// audit.ship -> audit::store::Shipper (its own thread, reading the FileSink's durable
// log), and the /readyz warning when shipping lags past the configured bounds.
#include <memory>
#include <string>

#include "audit/config.hpp"
#include "audit/file_sink.hpp"
#include "audit/store/shipper.hpp"
#include "authz/environment.hpp"
#include "config/config.hpp"
#include "daemon/log.hpp"

namespace segproxy::proxy {

// The started shipper; null + error when the password cannot be read (the daemon does
// not start: shipping was asked for). The store being unreachable is not an error here:
// the shipper retries and the lag metrics grow.
std::unique_ptr<audit::store::Shipper> start_audit_shipper(const config::AuditShipSettings& s,
                                                           const audit::AuditConfig& audit, audit::FileSink& sink,
                                                           const authz::EnvironmentLookup& environment, Logger& log,
                                                           std::string& error);

// "" within bounds, else a one-line warning for /readyz.
std::string audit_ship_warning(const config::AuditShipSettings& s, const audit::store::ShipperStatus& st);

}  // namespace segproxy::proxy
