// listeners[].backend.auth and listeners[].tls.verify_depth (issue 12 items 4.2, 4.3):
// defaults, and the combinations refused at load time with line and key path.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

class BackendAuthConfig : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }
  LoadResult load(const std::vector<std::pair<std::string, std::string>>& edits) {
    return load_config_string(edited(edits), "test.yaml", dir_.str());
  }
  TempDir dir_;
};

constexpr const char* kPgBackendTls = "      tls: {mode: verify-full, ca: certs/backend-ca.crt, server_name: db.internal}\n";

TEST_F(BackendAuthConfig, DefaultPinsScramWithChannelBindingOverTlsAndScramWithout) {
  const LoadResult tls = load({});
  ASSERT_TRUE(tls.config) << dump(tls);
  EXPECT_EQ(tls.config->listeners[0].backend.auth, (std::vector<std::string>{"scram-sha-256-plus"}));
  EXPECT_EQ(tls.config->listeners[1].backend.auth,
            (std::vector<std::string>{"mysql_native_password", "caching_sha2_password", "client_ed25519"}));
  const LoadResult plain = load({{kPgBackendTls, ""}});
  ASSERT_TRUE(plain.config) << dump(plain);
  EXPECT_EQ(plain.config->listeners[0].backend.auth, (std::vector<std::string>{"scram-sha-256"}));
}

TEST_F(BackendAuthConfig, Md5IsAcceptedOnlyWhenListed) {
  const LoadResult r = load({{kPgBackendTls, std::string(kPgBackendTls) + "      auth: [scram-sha-256, md5]\n"}});
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->listeners[0].backend.auth, (std::vector<std::string>{"scram-sha-256", "md5"}));
}

TEST_F(BackendAuthConfig, CleartextPasswordNeedsVerifyFullBackendTls) {
  const LoadResult ok = load({{kPgBackendTls, std::string(kPgBackendTls) + "      auth: [password]\n"}});
  EXPECT_TRUE(ok.config) << dump(ok);
  const LoadResult require =
      load({{kPgBackendTls, "      tls: {mode: require}\n      auth: [scram-sha-256, password]\n"}});
  ASSERT_FALSE(require.config);
  ASSERT_EQ(require.errors.size(), 1u) << dump(require);
  EXPECT_EQ(require.errors[0].key_path, "listeners[0].backend.auth");
  EXPECT_NE(require.errors[0].message.find("needs backend tls.mode verify-full"), std::string::npos) << dump(require);
  const LoadResult mysql = load({{"backend: {host: db.internal, port: 3306}",
                                  "backend: {host: db.internal, port: 3306, auth: [mysql_clear_password]}"}});
  ASSERT_FALSE(mysql.config);
  EXPECT_EQ(mysql.errors[0].key_path, "listeners[1].backend.auth");
}

TEST_F(BackendAuthConfig, ChannelBindingNeedsBackendTlsAndUnknownMethodsAreErrors) {
  const LoadResult plus = load({{kPgBackendTls, "      auth: [scram-sha-256-plus]\n"}});
  ASSERT_FALSE(plus.config);
  EXPECT_NE(plus.errors[0].message.find("needs backend TLS"), std::string::npos) << dump(plus);
  const LoadResult unknown = load({{kPgBackendTls, std::string(kPgBackendTls) + "      auth: [trust]\n"}});
  ASSERT_FALSE(unknown.config);
  EXPECT_NE(unknown.errors[0].message.find("unknown authentication method \"trust\""), std::string::npos)
      << dump(unknown);
  const LoadResult cross = load({{kPgBackendTls, std::string(kPgBackendTls) + "      auth: [mysql_native_password]\n"}});
  EXPECT_FALSE(cross.config);
  const LoadResult empty = load({{kPgBackendTls, std::string(kPgBackendTls) + "      auth: []\n"}});
  EXPECT_FALSE(empty.config);
}

TEST_F(BackendAuthConfig, VerifyDepthDefaultsToZeroIntermediates) {
  const LoadResult r = load({});
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls.verify_depth, 0);
  const LoadResult two = load({{"min_version: \"1.3\"}", "min_version: \"1.3\", verify_depth: 2}"}});
  ASSERT_TRUE(two.config) << dump(two);
  EXPECT_EQ(two.config->listeners[0].tls.verify_depth, 2);
  const LoadResult bad = load({{"min_version: \"1.3\"}", "min_version: \"1.3\", verify_depth: -1}"}});
  EXPECT_FALSE(bad.config);
}

}  // namespace
}  // namespace segproxy::config::test
