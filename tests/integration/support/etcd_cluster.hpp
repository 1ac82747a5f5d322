#pragma once
// The test etcd cluster (scripts/lib/testenv-etcd.sh exports SEGPROXY_TEST_ETCD_*):
// client options for it, and stopping / restarting one member by its pid file and run
// script (DIR/etcd/m<N>.pid, m<N>.run; members in the order of the endpoint list).
#include <string>
#include <vector>

#include "etcd/client.hpp"

namespace segproxy::it {

struct EtcdCluster {
  bool present = false;
  std::vector<std::string> endpoints;
  std::string ca, cert, key, dir;

  etcd::ClientOptions client_options() const;
  // Index of `endpoint` in `endpoints`, or -1.
  int member_of(const std::string& endpoint) const;
  // SIGTERM to member i and wait until it is gone (bounded). Empty on success.
  std::string stop_member(int i) const;
  // Sends `sig` to member i (SIGSTOP freezes it: connections hang instead of failing).
  std::string signal_member(int i, int sig) const;
  // Starts member i again from its run script. Empty on success.
  std::string start_member(int i) const;
};

const EtcdCluster& etcd_cluster();

}  // namespace segproxy::it

// Skips (or fails under SEGPROXY_REQUIRE_INTEGRATION=1) without the etcd cluster.
#define SEGPROXY_IT_REQUIRE_ETCD()                                                       \
  do {                                                                                   \
    if (!::segproxy::it::etcd_cluster().present) {                                       \
      if (::segproxy::it::env().required) {                                              \
        GTEST_FAIL() << "SEGPROXY_TEST_ETCD_ENDPOINTS is unset but "                     \
                        "SEGPROXY_REQUIRE_INTEGRATION=1 (testenv_up starts etcd)";        \
      } else {                                                                           \
        GTEST_SKIP() << "etcd test cluster not set up (SEGPROXY_TEST_ETCD_ENDPOINTS unset)"; \
      }                                                                                  \
    }                                                                                    \
  } while (0)
