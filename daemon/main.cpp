// segproxy: the daemon.
//   segproxy --config FILE        run
//   segproxy --check-config FILE  validate everything the daemon would load, then exit
#include <cstring>
#include <iostream>
#include <string>

#include "daemon/config_check.hpp"
#include "daemon/log.hpp"
#include "daemon/server.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: segproxy --config FILE\n"
         "       segproxy --check-config FILE\n"
         "       segproxy --version\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace segproxy::proxy;
  std::string config_path;
  bool check_only = false;
  bool enforce_policy = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c" || a == "--check-config") && i + 1 < argc) {
      check_only = check_only || a == "--check-config";
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a.rfind("--check-config=", 0) == 0) {
      check_only = true;
      config_path = a.substr(15);
    } else if (a == "--bench-policy-off") {
      enforce_policy = false;  // measurement aid for bench/pg_policy_compare.sh only
    } else if (a == "--version" || a == "-V") {
      std::cout << "segproxy " << segproxy::kVersion << "\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "segproxy: unknown argument: " << a << "\n";
      usage(std::cerr);
      return 64;
    }
  }
  if (config_path.empty()) {
    usage(std::cerr);
    return 64;
  }
  // The process's statement-fingerprint key: drawn here once, inherited by every reload.
  const segproxy::authz::sql::SipKey statement_hash_key = segproxy::authz::sql::random_sip_key();
  auto rt = load_runtime(config_path, statement_hash_key, std::cerr);
  if (!rt) {
    std::cerr << "segproxy: configuration " << config_path << " is invalid\n";
    return 2;
  }
  if (check_only) {
    std::cout << "segproxy: configuration " << config_path << " is valid\n";
    return 0;
  }
  Logger log(rt->config.log);
  log_rule_warnings(rt->config, log);
  Server server(rt, log, enforce_policy);
  return server.run();
}
