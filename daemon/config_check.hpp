#pragma once
// Full configuration check shared by `segproxy --check-config` and `segproxyctl config
// check`: parse + validate (file:line errors), then build the runtime (TLS material,
// secrets) so that everything the daemon would refuse at start is reported.
#include <memory>
#include <ostream>
#include <string>

#include "config/version.hpp"  // kVersion
#include "daemon/runtime.hpp"
#include "daemon/log.hpp"

namespace segproxy::proxy {

// Prints every problem to `err`; returns null on failure. Warnings (rules that can
// grant nothing, authz/rule_lint.hpp) are printed as "warning: FILE:LINE: ..." lines and
// do not fail the load.
// `statement_hash_key`: the process's key (Runtime::statement_hash_key).
std::shared_ptr<const Runtime> load_runtime(const std::string& path, const authz::sql::SipKey& statement_hash_key,
                                            std::ostream& err);

// The same warnings as log lines `config.rule_grants_nothing` (daemon start and reload).
void log_rule_warnings(const config::Config& cfg, Logger& log);

}  // namespace segproxy::proxy
