#pragma once
// Restarts the test environment's PostgreSQL or MariaDB in place (same port), through
// scripts/lib/testenv.sh. Only for tests that run alone (RUN_SERIAL): every other test's
// backend connections die with it.
#include <dirent.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/env.hpp"
#include "support/process.hpp"

namespace segproxy::it {

inline ProcResult restart_backend(const std::string& function, const std::string& extra_arg = "") {
  return run_process({"bash", "-c", "source \"$0/scripts/lib/testenv.sh\" && " + function + " \"$1\" \"$2\"",
                      SEGPROXY_IT_SOURCE_ROOT, env().test_dir, extra_arg},
                     std::chrono::seconds(120));
}

// Open descriptors of a process (entries of /proc/PID/fd), -1 when unreadable.
inline int open_fd_count(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

// Polls open_fd_count(pid) until it is at most `limit` (a generous bounded wait, not a
// timing assertion); returns the last count.
inline int wait_fd_count_at_most(pid_t pid, int limit) {
  int n = open_fd_count(pid);
  for (int i = 0; i < 100 && n > limit; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    n = open_fd_count(pid);
  }
  return n;
}

}  // namespace segproxy::it
