// segproxyctl: the operator tool. Grows with the admin socket (status, sessions,
// revoke, reload) and the policy/audit tooling.
//   segproxyctl version
//   segproxyctl config check FILE
//   segproxyctl policy explain|test ...   (proxy/ctl_policy.hpp)
//   segproxyctl audit verify|export|keygen ...   (proxy/ctl_audit.hpp)
//   segproxyctl status|sessions|kill|revoke|unrevoke|revocations|reload|audit-checkpoint
//                                                (admin socket client, proxy/ctl_admin.hpp)
#include <iostream>
#include <string>
#include <vector>

#include "daemon/config_check.hpp"
#include "proxy/ctl_admin.hpp"
#include "proxy/ctl_audit.hpp"
#include "proxy/ctl_fleet.hpp"
#include "proxy/ctl_policy.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: segproxyctl version\n"
         "       segproxyctl config check FILE\n"
         "       segproxyctl policy explain --config FILE --identity ID --database DB [--at RFC3339] [--json] SQL\n"
         "       segproxyctl policy test --config FILE [--at RFC3339] [--verbose] CASES.tsv\n"
         "       segproxyctl audit verify DIR [--pubkey FILE] [--checkpoints FILE] [--json]\n"
         "       segproxyctl audit export DIR [--format jsonl|csv|ocsf] [filters...]  (audit --help)\n"
         "       segproxyctl audit keygen --out FILE\n"
         "       segproxyctl fleet --config FILE [--json]   (instances registered in etcd)\n"
      << segproxy::proxy::ctl::admin_usage();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace segproxy::proxy;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 64 : 0;
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::cout << "segproxyctl " << kVersion << "\n";
    return 0;
  }
  if (args.size() == 3 && args[0] == "config" && args[1] == "check") {
    auto rt = load_runtime(args[2], std::cerr);
    if (!rt) return 2;
    std::cout << "configuration " << args[2] << " is valid: " << rt->config.listeners.size() << " listener(s), "
              << rt->config.identities.size() << " identity rule(s), " << rt->config.segments.size()
              << " segment(s)\n";
    return 0;
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
  std::cerr << "segproxyctl: unknown command\n";
  usage(std::cerr);
  return 64;
}
