#pragma once
// segproxyctl as the admin-socket fixtures run it: `segproxyctl <args> --socket <socket>`,
// bounded at 30 s (a hang fails the test via timed_out).
#include <chrono>
#include <string>
#include <vector>

#include "support/env.hpp"
#include "support/process.hpp"

namespace segproxy::it {

inline ProcResult run_ctl(const std::string& socket, std::vector<std::string> args) {
  std::vector<std::string> argv{env().segproxyctl_bin};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--socket");
  argv.push_back(socket);
  return run_process(argv, std::chrono::seconds(30));
}

}  // namespace segproxy::it
