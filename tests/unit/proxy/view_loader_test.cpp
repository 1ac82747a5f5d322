// ViewLoader's pure parts: which databases a listener's metadata login covers, the libpq
// parameters (sslmode from backend.tls, verify-full with a server name), password reads.
#include "daemon/catalog/view_loader.hpp"
#include "daemon/process_environment.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace segproxy::proxy {
namespace {

std::string param(const std::vector<std::pair<std::string, std::string>>& p, const std::string& k) {
  for (const auto& [key, value] : p) {
    if (key == k) return value;
  }
  return "<absent>";
}

config::Listener listener(config::BackendTlsMode mode) {
  config::Listener l;
  l.name = "pg-main";
  l.backend.endpoint = {"127.0.0.1", 5432};
  l.backend.tls.mode = mode;
  l.backend.tls.ca = "/etc/ca.crt";
  config::MetadataCredential m;
  m.user = "segproxy_meta";
  l.backend.metadata = m;
  return l;
}

TEST(ViewLoader, DatabasesOfSegmentsWithACredentialOnTheListener) {
  config::Config cfg;
  config::Segment a, b, c;
  a.databases = {"shop", "archive"};
  a.credentials["pg-main"] = {};
  b.databases = {"shop", "metrics"};
  b.credentials["pg-main"] = {};
  c.databases = {"elsewhere"};
  c.credentials["pg-other"] = {};
  cfg.segments = {{"a", a}, {"b", b}, {"c", c}};
  EXPECT_EQ(metadata_databases(cfg, listener(config::BackendTlsMode::Disable)),
            (std::vector<std::string>{"archive", "metrics", "shop"}));
}

TEST(ViewLoader, ConnParamsFollowBackendTls) {
  using M = config::BackendTlsMode;
  const auto ms = std::chrono::milliseconds(5000);
  const auto off = metadata_conn_params(listener(M::Disable), "shop", ms);
  EXPECT_EQ(param(off, "sslmode"), "disable");
  EXPECT_EQ(param(off, "host"), "127.0.0.1");
  EXPECT_EQ(param(off, "port"), "5432");
  EXPECT_EQ(param(off, "dbname"), "shop");
  EXPECT_EQ(param(off, "user"), "segproxy_meta");
  EXPECT_EQ(param(off, "connect_timeout"), "5");
  EXPECT_EQ(param(off, "password"), "<absent>");
  EXPECT_EQ(param(metadata_conn_params(listener(M::Require), "shop", ms), "sslmode"), "require");
  auto vf = listener(M::VerifyFull);
  const auto full = metadata_conn_params(vf, "shop", ms);
  EXPECT_EQ(param(full, "sslmode"), "verify-full");
  EXPECT_EQ(param(full, "sslrootcert"), "/etc/ca.crt");
  EXPECT_EQ(param(full, "hostaddr"), "<absent>");
  // A server name that differs from backend.host: verified name in host, address in hostaddr.
  vf.backend.tls.server_name = "db.internal";
  const auto named = metadata_conn_params(vf, "shop", ms, "127.0.0.1");
  EXPECT_EQ(param(named, "host"), "db.internal");
  EXPECT_EQ(param(named, "hostaddr"), "127.0.0.1");
}

// libpq 15 has no require_auth: over backend TLS with backend.auth's default
// [scram-sha-256-plus], channel_binding=require is what refuses an MD5 or cleartext request.
TEST(ViewLoader, ProxyOwnLibpqLoginRequiresChannelBindingWhenBackendAuthAcceptsOnlyScramPlus) {
  using M = config::BackendTlsMode;
  const auto ms = std::chrono::milliseconds(5000);
  auto pinned = listener(M::Require);
  pinned.backend.auth = {"scram-sha-256-plus"};
  EXPECT_EQ(param(metadata_conn_params(pinned, "shop", ms), "channel_binding"), "require");
  auto full = listener(M::VerifyFull);
  full.backend.auth = {"scram-sha-256-plus"};
  EXPECT_EQ(param(metadata_conn_params(full, "shop", ms), "channel_binding"), "require");
  auto with_md5 = listener(M::Require);
  with_md5.backend.auth = {"scram-sha-256-plus", "md5"};
  EXPECT_EQ(param(metadata_conn_params(with_md5, "shop", ms), "channel_binding"), "<absent>");
  auto plain = listener(M::Disable);
  plain.backend.auth = {"scram-sha-256"};
  EXPECT_EQ(param(metadata_conn_params(plain, "shop", ms), "channel_binding"), "<absent>");
}

TEST(ViewLoader, MetadataPasswordEnvComesFromTheInjectedLookupNotTheProcess) {
  config::MetadataCredential e;
  e.password_env = "SEGPROXY_TEST_VIEW_LOADER_INJECTED";
  ::setenv(e.password_env.c_str(), "from-process", 1);
  const authz::EnvironmentLookup lookup = [](std::string_view) { return std::optional<std::string>("from-lookup"); };
  authz::Secret s;
  std::string why;
  ASSERT_TRUE(read_metadata_password(e, lookup, s, why)) << why;
  EXPECT_EQ(s.reveal(), "from-lookup");
  EXPECT_FALSE(read_metadata_password(e, authz::EnvironmentLookup{}, s, why));
  EXPECT_NE(why.find("is not set"), std::string::npos) << why;
  ::unsetenv(e.password_env.c_str());
}

TEST(ViewLoader, PasswordFromFileOrEnvironment) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("segproxy-meta-" + std::to_string(::getpid()) + ".pw");
  std::ofstream(file) << "s3cret\r\n";
  config::MetadataCredential m;
  m.password_file = file.string();
  authz::Secret s;
  std::string why;
  ASSERT_TRUE(read_metadata_password(m, process_environment(), s, why)) << why;
  EXPECT_EQ(s.reveal(), "s3cret");
  std::ofstream(file, std::ios::trunc) << "\n";
  EXPECT_FALSE(read_metadata_password(m, process_environment(), s, why));
  EXPECT_NE(why.find("is empty"), std::string::npos) << why;
  std::filesystem::remove(file);
  why.clear();
  EXPECT_FALSE(read_metadata_password(m, process_environment(), s, why));
  EXPECT_NE(why.find("cannot open"), std::string::npos) << why;

  config::MetadataCredential e;
  e.password_env = "SEGPROXY_TEST_VIEW_LOADER_PW";
  ::setenv(e.password_env.c_str(), "from-env", 1);
  why.clear();
  ASSERT_TRUE(read_metadata_password(e, process_environment(), s, why)) << why;
  EXPECT_EQ(s.reveal(), "from-env");
  ::unsetenv(e.password_env.c_str());
  EXPECT_FALSE(read_metadata_password(e, process_environment(), s, why));
  EXPECT_NE(why.find("is not set"), std::string::npos);
}

}  // namespace
}  // namespace segproxy::proxy
