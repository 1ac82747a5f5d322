#pragma once
// Maps the YAML `audit:` section (config::AuditSettings, words as loaded and validated by
// config/) onto the audit library's AuditConfig.
#include <string>

#include <memory>

#include "audit/config.hpp"
#include "audit/file_sink.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

// instance: s.instance, or this host's name (gethostname) when empty, or "segproxy"
// when even that fails. Throws std::invalid_argument on a durability / on_failure /
// statement_text word the loader would have rejected (settings built by hand).
audit::AuditConfig to_audit_config(const config::AuditSettings& s);

class ProxyMetrics;
// Feeds the audit writer's commits, failures and queue overflows into `metrics`
// (which must outlive the sink).
std::shared_ptr<audit::SinkObserver> make_audit_observer(ProxyMetrics& metrics);

// This host's name ("segproxy" when gethostname fails).
std::string host_name();

}  // namespace segproxy::proxy
