#pragma once
// `segproxyctl config check FILE`: what the daemon would refuse at start, found without
// the daemon (ctl/ never links it): parse + validation (file:line errors), rules that
// grant nothing (warnings), credentials (secret files and password_env readable),
// policies, and each listener's TLS material read with libcrypto (tls/material_check:
// certificate, key and their match, validity period, client CA, CRL; backend CA).
#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "authz/environment.hpp"

namespace segproxy::proxy::ctl {

// args: the whole command line ("config", "check", FILE | --config FILE |
// --config=FILE). Exit codes: 0 valid (warnings allowed), 2 invalid, kCtlExitUsage for
// a usage error. `env` resolves password_env; `now` dates the certificate checks.
int run_config_check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                     const authz::EnvironmentLookup& env, std::chrono::system_clock::time_point now);

}  // namespace segproxy::proxy::ctl
