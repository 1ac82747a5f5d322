#include "support/etcd_cluster.hpp"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/process.hpp"

namespace segproxy::it {
namespace {

std::string get(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

const EtcdCluster& etcd_cluster() {
  static const EtcdCluster c = [] {
    EtcdCluster e;
    e.endpoints = split_commas(get("SEGPROXY_TEST_ETCD_ENDPOINTS"));
    e.ca = get("SEGPROXY_TEST_ETCD_CA");
    e.cert = get("SEGPROXY_TEST_ETCD_CERT");
    e.key = get("SEGPROXY_TEST_ETCD_KEY");
    e.dir = get("SEGPROXY_TEST_ETCD_DIR");
    e.present = e.endpoints.size() == 3 && !e.ca.empty() && !e.dir.empty();
    return e;
  }();
  return c;
}

etcd::ClientOptions EtcdCluster::client_options() const {
  etcd::ClientOptions o;
  o.endpoints = endpoints;
  o.tls = {ca, cert, key};
  o.request_timeout = std::chrono::milliseconds(3000);
  return o;
}

int EtcdCluster::member_of(const std::string& endpoint) const {
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i] == endpoint) return static_cast<int>(i);
  }
  return -1;
}

std::string EtcdCluster::stop_member(int i) const {
  const std::string pid_file = dir + "/m" + std::to_string(i + 1) + ".pid";
  std::string text = read_file(pid_file);
  const long pid = std::strtol(text.c_str(), nullptr, 10);
  if (pid <= 1) return "no pid in " + pid_file;
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0) return "kill failed for " + pid_file;
  for (int waited = 0; waited < 200; ++waited) {  // at most 20 s
    if (::kill(static_cast<pid_t>(pid), 0) != 0) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(static_cast<pid_t>(pid), SIGKILL);
  return {};
}

std::string EtcdCluster::signal_member(int i, int sig) const {
  const std::string pid_file = dir + "/m" + std::to_string(i + 1) + ".pid";
  const long pid = std::strtol(read_file(pid_file).c_str(), nullptr, 10);
  if (pid <= 1) return "no pid in " + pid_file;
  if (::kill(static_cast<pid_t>(pid), sig) != 0) return "kill failed for " + pid_file;
  return {};
}

std::string EtcdCluster::start_member(int i) const {
  const std::string m = dir + "/m" + std::to_string(i + 1);
  ProcResult r = run_process(
      {"sh", "-c", "setsid \"$1.run\" >>\"$1.log\" 2>&1 </dev/null & echo $! >\"$1.pid\"", "sh", m},
      std::chrono::seconds(10));
  if (r.exit_code != 0) return "cannot start " + m + ": " + r.describe();
  return {};
}

}  // namespace segproxy::it
