// The operations keys: `admin:`, `metrics:`, `segments.<s>.limits` and `tls.crl`.
// Sections are appended to the valid config of config_test_util.hpp (39 lines), so an
// appended top-level key is on line 40 and its first sub-key on line 41.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

class OperationsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }

  LoadResult load(const std::string& tail) const {
    return load_config_string(std::string(kValidConfig) + tail, "segproxy.yaml", dir_.str());
  }
  LoadResult load_text(const std::string& text) const {
    return load_config_string(text, "segproxy.yaml", dir_.str());
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

TEST_F(OperationsConfigTest, AbsentSectionsMeanNoAdminNoMetricsNoLimits) {
  const LoadResult r = load("");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_FALSE(r.config->admin);
  EXPECT_FALSE(r.config->metrics);
  const auto& lim = r.config->segments.at("billing").limits;
  EXPECT_EQ(lim.max_connections, 0u);
  EXPECT_EQ(lim.max_connections_per_identity, 0u);
  EXPECT_EQ(lim.statement_timeout.count(), 0);
  EXPECT_FALSE(lim.idle_timeout);
  EXPECT_TRUE(r.config->listeners[0].tls.crl.empty());
}

TEST_F(OperationsConfigTest, AdminPathsResolveAgainstConfigDirAndRevocationsDefaultBesideIt) {
  const LoadResult r = load("admin:\n  socket: admin.sock\n  allowed_uids: [0, 1000]\n");
  ASSERT_TRUE(r.config) << dump(r);
  ASSERT_TRUE(r.config->admin);
  EXPECT_EQ(r.config->admin->socket, dir_.str() + "/admin.sock");
  EXPECT_EQ(r.config->admin->allowed_uids, (std::vector<std::uint32_t>{0, 1000}));
  EXPECT_EQ(r.config->admin->revocations_file, dir_.str() + "/revocations.json");
}

TEST_F(OperationsConfigTest, AdminSocketIsRequired) {
  expect_one_error(load("admin:\n  allowed_uids: [0]\n"), 40, "admin.socket", "missing required key");
}

TEST_F(OperationsConfigTest, NonNumericUidIsRejectedWithItsLine) {
  expect_one_error(load("admin:\n  socket: a.sock\n  allowed_uids:\n    - 0\n    - root\n"), 44,
                   "admin.allowed_uids[1]", "numeric uid");
}

TEST_F(OperationsConfigTest, RevocationsFileInMissingDirectoryIsRejected) {
  expect_one_error(load("admin:\n  socket: a.sock\n  revocations_file: nowhere/rev.json\n"), 42,
                   "admin.revocations_file", "directory not found");
}

TEST_F(OperationsConfigTest, OverlongSocketPathIsRejected) {
  const std::string longname(120, 's');
  expect_one_error(load("admin:\n  socket: " + longname + "\n"), 41, "admin.socket", "107 bytes");
}

TEST_F(OperationsConfigTest, UnknownAdminKeyIsAnError) {
  const LoadResult r = load("admin:\n  socket: a.sock\n  alowed_uids: [0]\n");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_NE(r.errors[0].message.find("allowed_uids"), std::string::npos) << dump(r);
}

TEST_F(OperationsConfigTest, MetricsListenIsParsedAndMayNotReuseAListenerAddress) {
  const LoadResult ok = load("metrics:\n  listen: 127.0.0.1:9187\n");
  ASSERT_TRUE(ok.config) << dump(ok);
  EXPECT_EQ(ok.config->metrics->listen.port, 9187);
  expect_one_error(load("metrics:\n  listen: 127.0.0.1:6432\n"), 41, "metrics.listen",
                   "already used by listener \"pg-main\"");
  expect_one_error(load("metrics:\n  listen: nope\n"), 41, "metrics.listen", "");
}

TEST_F(OperationsConfigTest, SegmentLimitsAreParsed) {
  const LoadResult r = load_text(edited(
      {{"    databases: [shop]\n",
        "    databases: [shop]\n    limits: {max_connections: 20, max_connections_per_identity: 3, "
        "statement_timeout: 30s, idle_timeout: 0}\n"}}));
  ASSERT_TRUE(r.config) << dump(r);
  const auto& lim = r.config->segments.at("billing").limits;
  EXPECT_EQ(lim.max_connections, 20u);
  EXPECT_EQ(lim.max_connections_per_identity, 3u);
  EXPECT_EQ(lim.statement_timeout, std::chrono::seconds(30));
  ASSERT_TRUE(lim.idle_timeout);
  EXPECT_EQ(lim.idle_timeout->count(), 0);
}

TEST_F(OperationsConfigTest, UnknownSegmentLimitIsAnErrorAtItsLine) {
  const LoadResult r = load_text(edited(
      {{"    databases: [shop]\n", "    databases: [shop]\n    limits:\n      max_conections: 2\n"}}));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].line, 34) << dump(r);
  EXPECT_NE(r.errors[0].message.find("max_connections"), std::string::npos) << dump(r);
}

TEST_F(OperationsConfigTest, CrlFileMustExist) {
  const LoadResult missing = load_text(edited({{"min_version: \"1.3\"}", "min_version: \"1.3\", crl: certs/ca.crl}"}}));
  expect_one_error(missing, 15, "listeners[0].tls.crl", "file not found");
  dir_.write("certs/ca.crl", "-----BEGIN X509 CRL-----\n");
  const LoadResult ok = load_text(edited({{"min_version: \"1.3\"}", "min_version: \"1.3\", crl: certs/ca.crl}"}}));
  ASSERT_TRUE(ok.config) << dump(ok);
  EXPECT_EQ(ok.config->listeners[0].tls.crl, dir_.str() + "/certs/ca.crl");
}

}  // namespace
}  // namespace segproxy::config::test
