// Issue 16 (docs/fleet.md): on the MySQL path, a fleet view past max_staleness with
// on_stale: refuse_new_sessions refuses new sessions with ERR 1053 / SQLSTATE 08S01 and a
// message naming the control plane. Here etcd is never reached (its endpoints are
// closed ports), so the view was never confirmed: stale from the start.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "support/mysql_fixture.hpp"
#include "support/process.hpp"

namespace segproxy::it {
namespace {

class MysqlFleetStale : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

TEST_F(MysqlFleetStale, NeverConfirmedViewWithRefuseNewSessionsGivesErr1053NamingTheControlPlane) {
  const std::string ca = env_or_empty("SEGPROXY_TEST_ETCD_CA");
  if (ca.empty()) GTEST_SKIP() << "etcd test PKI not set up (SEGPROXY_TEST_ETCD_CA unset)";
  MysqlProxyOptions opts;
  opts.extra_yaml = "control_plane:\n"
                    "  etcd:\n"
                    "    endpoints: [https://127.0.0.1:" + std::to_string(free_port()) + "]\n"
                    "    tls: {ca: \"" + ca + "\", cert: \"" + env_or_empty("SEGPROXY_TEST_ETCD_CERT") +
                    "\", key: \"" + env_or_empty("SEGPROXY_TEST_ETCD_KEY") + "\"}\n"
                    "  instance: my-stale\n"
                    "  on_stale: refuse_new_sessions\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  MyError err;
  EXPECT_FALSE(Connect(ClientCert::Spiffe, &err));
  EXPECT_EQ(err.code, 1053) << err.describe();
  EXPECT_EQ(err.sqlstate, "08S01") << err.describe();
  EXPECT_NE(err.message.find("control plane"), std::string::npos) << err.describe();
}

}  // namespace
}  // namespace segproxy::it
