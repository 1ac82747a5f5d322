#pragma once
// Child processes for the integration tests: client tools (psql, pgbench) run to
// completion with a timeout, and the proxy daemon under test.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace segproxy::it {

struct ProcResult {
  int exit_code = -1;      // exit status, or 128 + signal
  bool timed_out = false;  // killed because it ran past the timeout
  std::string out;
  std::string err;
  std::string describe() const;  // for assertion messages
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and captures stdout and
// stderr. The child gets this process's environment minus every PG* variable (so a
// developer's PGHOST cannot redirect a test), plus `env`.
ProcResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                       const std::vector<std::pair<std::string, std::string>>& env = {});

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
std::uint16_t free_port();

// True if a TCP connect to 127.0.0.1:port succeeds (the connection is closed at once).
bool port_accepts(std::uint16_t port);

// How long the fixtures let a starting proxy take to accept: generous, because a proxy
// that does start ends the wait at once, while a loaded 2-core machine or a sanitizer
// build (TSan: 5-15x slower) can need many seconds to load its TLS material and views.
inline constexpr std::chrono::seconds kProxyStartTimeout{60};

// The daemon under test: `bin --config FILE`, stdout+stderr appended to a log file.
class ProxyProcess {
 public:
  ProxyProcess() = default;
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;
  ~ProxyProcess() { stop(); }

  // Starts the proxy and waits until `port` accepts connections. On failure the child
  // is stopped and *error says why (including whether it exited early).
  bool start(const std::string& bin, const std::vector<std::string>& args,
             const std::string& log_path, std::uint16_t port, std::chrono::milliseconds timeout,
             std::string* error);
  bool running();
  // SIGTERM, up to kStopGrace, then SIGKILL. Returns the wait status description.
  // Generous: an orderly shutdown (drain, audit flush, LeakSanitizer's exit scan) on a
  // loaded machine or under a sanitizer takes far longer than on an idle one.
  static constexpr std::chrono::seconds kStopGrace{30};
  std::string stop();
  pid_t pid() const { return pid_; }
  std::string log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::string exit_description_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content, unsigned mode = 0600);

// A fresh directory under `parent` (mkdtemp); empty string on failure.
std::string make_temp_dir(const std::string& parent, const std::string& prefix);
void remove_tree(const std::string& path);

// Unique per process and call: for table and channel names.
std::string unique_name(const std::string& prefix);

}  // namespace segproxy::it
