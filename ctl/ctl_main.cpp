// segproxyctl: the operator tool. Grows with the admin socket (status, sessions,
// revoke, reload) and the policy/audit tooling.
//   segproxyctl version
//   segproxyctl config check FILE   (ctl/config_check.hpp)
//   segproxyctl policy explain|test ...   (ctl/policy.hpp)
//   segproxyctl audit verify|export|keygen ...   (ctl/audit.hpp)
//   segproxyctl status|sessions|kill|revoke|unrevoke|revocations|reload|audit-checkpoint
//                                                (admin socket client, ctl/admin.hpp)
// Global options before the command, `help CMD`, `CMD --help`: ctl/command_line.hpp.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/version.hpp"
#include "ctl/admin.hpp"
#include "ctl/audit.hpp"
#include "ctl/command_line.hpp"
#include "ctl/config_check.hpp"
#include "ctl/fleet.hpp"
#include "ctl/policy.hpp"

namespace {

using namespace segproxy::proxy;

int help(const std::vector<std::string>& args) {
  if (args.size() == 1) {
    std::cout << ctl::general_usage();
    return 0;
  }
  const auto text = args.size() == 2 ? ctl::command_help(args[1]) : std::nullopt;
  if (!text) {
    std::cerr << "segproxyctl: help: unknown command " << (args.size() > 1 ? args[1] : "") << "\n"
              << ctl::general_usage();
    return ctl::kCtlExitUsage;
  }
  std::cout << *text;
  return 0;
}

// password_env as `segproxyctl config check` resolves it: the process environment (the
// entry point is the one place of segproxyctl that reads it).
segproxy::authz::EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    const char* v = std::getenv(key.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> raw(argv + 1, argv + argc);
  std::string error;
  const auto hoisted = ctl::hoist_global_options(raw, error);
  if (!hoisted) {
    std::cerr << "segproxyctl: " << error << "\n" << ctl::general_usage();
    return ctl::kCtlExitUsage;
  }
  const std::vector<std::string>& args = *hoisted;
  if (args.empty()) {
    std::cerr << ctl::general_usage();
    return ctl::kCtlExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::vector<std::string> words{"help"};  // `--help revoke` = `help revoke`
    words.insert(words.end(), args.begin() + 1, args.end());
    return help(words);
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::cout << "segproxyctl " << segproxy::kVersion << "\n";
    return 0;
  }
  if (ctl::asks_for_help(args)) {
    if (const auto text = ctl::command_help(args[0])) {
      std::cout << *text;
      return 0;
    }
  }
  if (args[0] == "config" && args.size() >= 2 && args[1] == "check") {
    return ctl::run_config_check(args, std::cout, std::cerr, process_environment(), std::chrono::system_clock::now());
  }
  if (args[0] == "policy") {
    return ctl::run_policy(std::vector<std::string>(args.begin() + 1, args.end()), std::cout, std::cerr);
  }
  if (ctl::is_admin_command(args[0])) return ctl::run_admin(args, std::cout, std::cerr);
  if (args[0] == "fleet") {
    return ctl::run_fleet(std::vector<std::string>(args.begin() + 1, args.end()), std::cout, std::cerr);
  }
  if (args[0] == "audit") {
    return ctl::run_audit(std::vector<std::string>(args.begin() + 1, args.end()), std::cout, std::cerr);
  }
  std::cerr << "segproxyctl: unknown command " << args[0] << "\n" << ctl::general_usage();
  return ctl::kCtlExitUsage;
}
