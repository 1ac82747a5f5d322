#include "ctl/config_check.hpp"

#include <exception>
#include <memory>

#include "authz/credential_store.hpp"
#include "authz/policy_engine.hpp"
#include "authz/rule_lint.hpp"
#include "config/loader.hpp"
#include "ctl/command_line.hpp"
#include "tls/material_check.hpp"

namespace segproxy::proxy::ctl {
namespace {

// FILE | --config FILE | --config=FILE after "config check"; empty on a usage error.
std::string config_file_argument(const std::vector<std::string>& args) {
  if (args.size() == 3 && args[2].rfind("--", 0) != 0) return args[2];
  if (args.size() == 4 && args[2] == "--config") return args[3];
  if (args.size() == 3 && args[2].rfind("--config=", 0) == 0) return args[2].substr(9);
  return {};
}

}  // namespace

int run_config_check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                     const authz::EnvironmentLookup& env, std::chrono::system_clock::time_point now) {
  const std::string file = config_file_argument(args);
  if (file.empty()) {
    err << *command_help("config");
    return kCtlExitUsage;
  }
  auto loaded = config::load_config_file(file);
  if (!loaded.errors.empty() || !loaded.config) {
    for (const auto& e : loaded.errors) err << e.to_string() << "\n";
    if (loaded.errors.empty()) err << file << ": configuration could not be loaded\n";
    return 2;
  }
  const config::Config& cfg = *loaded.config;
  authz::print_rules_granting_nothing(cfg, file, err);

  std::vector<std::string> errors;
  const auto credentials = authz::CredentialStore::load(cfg, errors, env);
  if (!credentials && errors.empty()) errors.push_back("credentials could not be loaded");
  try {
    authz::PolicyEngine engine(cfg);
  } catch (const std::exception& e) {
    errors.push_back(std::string("policy: ") + e.what());
  }
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  for (const auto& l : cfg.listeners) {
    tls::MaterialReport tls;
    tls::check_listener_tls(l.tls, now_s, tls);
    tls::check_backend_tls(l.backend.tls, tls);
    for (const auto& e : tls.errors) errors.push_back("listener " + l.name + ": " + e);
    for (const auto& w : tls.warnings) err << "warning: " << file << ": listener " << l.name << ": " << w << "\n";
  }
  for (const auto& e : errors) err << file << ": " << e << "\n";
  if (!errors.empty()) return 2;
  out << "configuration " << file << " is valid: " << cfg.listeners.size() << " listener(s), "
      << cfg.identities.size() << " identity rule(s), " << cfg.segments.size() << " segment(s)\n";
  return 0;
}

}  // namespace segproxy::proxy::ctl
