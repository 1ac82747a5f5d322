// `control_plane:` (issue 16, docs/fleet.md): the etcd fleet settings. Appended to the
// valid config of config_test_util.hpp (39 lines): `control_plane:` is on line 40.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

class ControlPlaneConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_referenced_files(dir_);
    for (const char* f : {"pki/etcd-ca.crt", "pki/proxy-a.crt", "pki/proxy-a.key"}) dir_.write(f);
  }
  LoadResult load(const std::string& tail) const {
    return load_config_string(std::string(kValidConfig) + tail, "segproxy.yaml", dir_.str());
  }
  void expect_one_error(const LoadResult& r, int line, const std::string& key_path,
                        const std::string& part) const {
    ASSERT_EQ(r.errors.size(), 1u) << dump(r);
    EXPECT_FALSE(r.config.has_value());
    EXPECT_EQ(r.errors[0].line, line) << dump(r);
    EXPECT_EQ(r.errors[0].key_path, key_path) << dump(r);
    EXPECT_NE(r.errors[0].message.find(part), std::string::npos) << dump(r);
  }
  TempDir dir_;
};

// The block exactly as issue 16 gives it.
const char* kIssueBlock =
    "control_plane:\n"                                                                     // 40
    "  etcd:\n"                                                                            // 41
    "    endpoints: [https://127.0.0.1:2379, https://127.0.0.1:2479, https://127.0.0.1:2579]\n"  // 42
    "    tls: {ca: pki/etcd-ca.crt, cert: pki/proxy-a.crt, key: pki/proxy-a.key}\n"        // 43
    "    prefix: /segproxy/prod            # several fleets can share one etcd\n"         // 44
    "  instance: proxy-a\n"                                                                // 45
    "  max_staleness: 30s\n"                                                               // 46
    "  on_stale: keep_serving\n";                                                          // 47

TEST_F(ControlPlaneConfigTest, WithoutTheBlockThereIsNoControlPlane) {
  const LoadResult r = load("");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_FALSE(r.config->control_plane);
}

TEST_F(ControlPlaneConfigTest, TheIssueBlockParsesWithPathsResolvedAgainstTheConfigDir) {
  const LoadResult r = load(kIssueBlock);
  ASSERT_TRUE(r.config) << dump(r);
  ASSERT_TRUE(r.config->control_plane);
  const ControlPlaneSettings& c = *r.config->control_plane;
  EXPECT_EQ(c.etcd.endpoints, (std::vector<std::string>{"https://127.0.0.1:2379", "https://127.0.0.1:2479",
                                                        "https://127.0.0.1:2579"}));
  EXPECT_EQ(c.etcd.ca, dir_.str() + "/pki/etcd-ca.crt");
  EXPECT_EQ(c.etcd.cert, dir_.str() + "/pki/proxy-a.crt");
  EXPECT_EQ(c.etcd.key, dir_.str() + "/pki/proxy-a.key");
  EXPECT_EQ(c.etcd.prefix, "/segproxy/prod");
  EXPECT_EQ(c.instance, "proxy-a");
  EXPECT_EQ(c.max_staleness, std::chrono::seconds(30));
  EXPECT_EQ(c.on_stale, OnStale::KeepServing);
  EXPECT_EQ(c.line, 40);
}

TEST_F(ControlPlaneConfigTest, DefaultsAreHostNameInstanceThirtySecondsKeepServingAndSegproxyPrefix) {
  const LoadResult r = load(
      "control_plane:\n  etcd:\n    endpoints: [https://etcd-1:2379]\n"
      "    tls: {ca: pki/etcd-ca.crt, cert: pki/proxy-a.crt, key: pki/proxy-a.key}\n");
  ASSERT_TRUE(r.config) << dump(r);
  const ControlPlaneSettings& c = *r.config->control_plane;
  EXPECT_EQ(c.instance, "");  // the daemon uses the host name
  EXPECT_EQ(c.max_staleness, std::chrono::seconds(30));
  EXPECT_EQ(c.on_stale, OnStale::KeepServing);
  EXPECT_EQ(c.etcd.prefix, "/segproxy");
}

TEST_F(ControlPlaneConfigTest, RefuseNewSessionsIsTheOtherOnStaleChoice) {
  std::string block = kIssueBlock;
  block.replace(block.find("keep_serving"), 12, "refuse_new_sessions");
  const LoadResult r = load(block);
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->control_plane->on_stale, OnStale::RefuseNewSessions);
}

TEST_F(ControlPlaneConfigTest, UnknownOnStaleValueIsRejectedWithItsLine) {
  std::string block = kIssueBlock;
  block.replace(block.find("keep_serving"), 12, "best_effort");
  expect_one_error(load(block), 47, "control_plane.on_stale", "keep_serving");
}

TEST_F(ControlPlaneConfigTest, PlaintextEtcdEndpointIsRefused) {
  std::string block = kIssueBlock;
  block.replace(block.find("https://127.0.0.1:2479"), 22, "http://127.0.0.1:2479");
  expect_one_error(load(block), 42, "control_plane.etcd.endpoints[1]", "plaintext");
}

TEST_F(ControlPlaneConfigTest, EndpointWithoutPortOrWithPathIsRejected) {
  std::string block = kIssueBlock;
  block.replace(block.find("https://127.0.0.1:2579"), 22, "https://127.0.0.1");
  expect_one_error(load(block), 42, "control_plane.etcd.endpoints[2]", "host:port");
  block = kIssueBlock;
  block.replace(block.find("https://127.0.0.1:2579"), 22, "https://127.0.0.1:2579/v3");
  expect_one_error(load(block), 42, "control_plane.etcd.endpoints[2]", "no path");
}

TEST_F(ControlPlaneConfigTest, DuplicateEndpointIsRejected) {
  std::string block = kIssueBlock;
  block.replace(block.find("https://127.0.0.1:2579"), 22, "https://127.0.0.1:2379");
  expect_one_error(load(block), 42, "control_plane.etcd.endpoints[2]", "duplicate");
}

TEST_F(ControlPlaneConfigTest, EndpointsAndTlsAreRequired) {
  const LoadResult r = load("control_plane:\n  etcd:\n    prefix: /segproxy/prod\n");
  ASSERT_EQ(r.errors.size(), 2u) << dump(r);
  EXPECT_EQ(r.errors[0].key_path, "control_plane.etcd.endpoints");
  EXPECT_EQ(r.errors[1].key_path, "control_plane.etcd.tls");
  expect_one_error(load("control_plane:\n  instance: a\n"), 40, "control_plane.etcd", "missing required key");
}

TEST_F(ControlPlaneConfigTest, MissingClientKeyFileIsRejectedWithItsLine) {
  std::string block = kIssueBlock;
  block.replace(block.find("key: pki/proxy-a.key"), 20, "key: pki/nope.key");
  expect_one_error(load(block), 43, "control_plane.etcd.tls.key", "file not found");
}

TEST_F(ControlPlaneConfigTest, PrefixMustBeAbsoluteWithoutTrailingSlash) {
  for (const char* bad : {"segproxy", "/", "/segproxy/", "/a//b", "/a b"}) {
    std::string block = kIssueBlock;
    block.replace(block.find("/segproxy/prod  "), 14, std::string("'") + bad + "'");
    expect_one_error(load(block), 44, "control_plane.etcd.prefix", "prefix");
  }
}

TEST_F(ControlPlaneConfigTest, InstanceNameMustBeAKeySafeWord) {
  for (const char* bad : {"proxy/a", "-proxy", "proxy a", "../x"}) {
    std::string block = kIssueBlock;
    block.replace(block.find("proxy-a\n"), 7, std::string("'") + bad + "'");
    expect_one_error(load(block), 45, "control_plane.instance", "instance");
  }
}

TEST_F(ControlPlaneConfigTest, ZeroMaxStalenessIsRejected) {
  std::string block = kIssueBlock;
  block.replace(block.find("30s"), 3, "0s");
  expect_one_error(load(block), 46, "control_plane.max_staleness", "");
}

TEST_F(ControlPlaneConfigTest, UnknownKeyIsRejectedWithASuggestion) {
  std::string block = kIssueBlock;
  block.replace(block.find("on_stale"), 8, "on_stall");
  expect_one_error(load(block), 47, "control_plane.on_stall", "on_stale");
}

TEST_F(ControlPlaneConfigTest, InstanceThatDiffersFromTheAuditInstanceIsRejected) {
  dir_.write("audit/.keep");
  const std::string audit_block = "audit:\n  dir: audit\n  instance: proxy-b\n";  // 48..50
  expect_one_error(load(std::string(kIssueBlock) + audit_block), 45, "control_plane.instance",
                   "audit.instance");
  const std::string same = "audit:\n  dir: audit\n  instance: proxy-a\n";
  const LoadResult r = load(std::string(kIssueBlock) + same);
  EXPECT_TRUE(r.config) << dump(r);
}

}  // namespace
}  // namespace segproxy::config::test
