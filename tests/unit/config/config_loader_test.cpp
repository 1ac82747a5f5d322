// Loading valid configs: every field lands in the right struct member, relative paths
// resolve against the config's directory, and the shipped example stays loadable.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

using std::chrono::milliseconds;

TEST(ConfigLoader, ValidFullConfigFillsEveryField) {
  TempDir dir;
  write_referenced_files(dir);
  const LoadResult r = load_config_string(kValidConfig, "full.yaml", dir.str());
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  EXPECT_EQ(c.source_path, "full.yaml");
  EXPECT_EQ(c.threads, 2u);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, LogFormat::Json);
  EXPECT_EQ(c.limits.max_startup_packet, 10000u);
  EXPECT_EQ(c.limits.max_message_size, 64u * 1024 * 1024);
  EXPECT_EQ(c.limits.max_connections, 100u);
  EXPECT_EQ(c.limits.handshake_timeout, milliseconds(10000));
  EXPECT_EQ(c.limits.startup_timeout, milliseconds(500));
  EXPECT_EQ(c.limits.backend_connect_timeout, milliseconds(300000));
  EXPECT_EQ(c.limits.idle_timeout, milliseconds(0));

  ASSERT_EQ(c.listeners.size(), 2u);
  const Listener& pg = c.listeners[0];
  EXPECT_EQ(pg.name, "pg-main");
  EXPECT_EQ(pg.protocol, Protocol::Postgres);
  EXPECT_EQ(pg.listen.host, "127.0.0.1");
  EXPECT_EQ(pg.listen.port, 6432);
  EXPECT_EQ(pg.tls.min_version, "1.3");
  EXPECT_EQ(pg.backend.endpoint.host, "127.0.0.1");
  EXPECT_EQ(pg.backend.endpoint.port, 5432);
  EXPECT_EQ(pg.backend.tls.mode, BackendTlsMode::VerifyFull);
  EXPECT_EQ(pg.backend.tls.server_name, "db.internal");
  EXPECT_EQ(pg.line, 12);
  const Listener& my = c.listeners[1];
  EXPECT_EQ(my.protocol, Protocol::Mysql);
  EXPECT_EQ(my.listen.host, "::1");
  EXPECT_EQ(my.listen.port, 3307);
  EXPECT_EQ(my.tls.min_version, "1.2");  // default
  EXPECT_EQ(my.backend.tls.mode, BackendTlsMode::Disable);  // default

  ASSERT_EQ(c.identities.size(), 2u);
  EXPECT_EQ(c.identities[0].match.spiffe_id, "spiffe://example.org/ns/billing/*");
  EXPECT_FALSE(c.identities[0].match.cn.has_value());
  EXPECT_EQ(c.identities[0].segment, "billing");
  EXPECT_EQ(c.identities[0].line, 26);
  EXPECT_EQ(c.identities[1].match.cn, "ops-*");
  EXPECT_EQ(c.identities[1].match.ou, "Operations");

  ASSERT_EQ(c.segments.size(), 2u);
  const Segment& billing = c.segments.at("billing");
  EXPECT_EQ(billing.name, "billing");
  EXPECT_EQ(billing.line, 31);
  EXPECT_EQ(billing.databases, std::vector<std::string>{"shop"});
  ASSERT_EQ(billing.credentials.size(), 2u);
  EXPECT_EQ(billing.credentials.at("pg-main").user, "billing_rw");
  EXPECT_EQ(billing.credentials.at("pg-main").line, 34);
  EXPECT_EQ(billing.credentials.at("my-main").password_env, "SEGPROXY_TEST_MY_PW");
  EXPECT_TRUE(billing.credentials.at("my-main").password_file.empty());
  EXPECT_EQ(c.segments.at("ops").databases, (std::vector<std::string>{"shop", "metrics"}));
}

TEST(ConfigLoader, RelativePathsResolveAgainstBaseDir) {
  TempDir dir;
  write_referenced_files(dir);
  const LoadResult r = load_config_string(kValidConfig, "full.yaml", dir.str());
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.listeners[0].tls.cert, (dir.path() / "certs/server.crt").string());
  EXPECT_EQ(c.listeners[0].tls.key, (dir.path() / "certs/server.key").string());
  EXPECT_EQ(c.listeners[0].tls.client_ca, (dir.path() / "certs/ca.crt").string());
  EXPECT_EQ(c.listeners[0].backend.tls.ca, (dir.path() / "certs/backend-ca.crt").string());
  EXPECT_EQ(c.segments.at("billing").credentials.at("pg-main").password_file,
            (dir.path() / "secrets/billing_rw.pw").string());
}

TEST(ConfigLoader, AbsolutePathsAreKeptAndDotDotIsNormalized) {
  TempDir dir;
  TempDir other;
  write_referenced_files(dir);
  const std::string abs_ca = other.write("elsewhere/ca.pem");
  const LoadResult r = load_config_string(
      edited({{"client_ca: certs/ca.crt", "client_ca: " + abs_ca},
              {"key: certs/server.key", "key: secrets/../certs/server.key"}}),
      "full.yaml", dir.str());
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls.client_ca, abs_ca);
  EXPECT_EQ(r.config->listeners[0].tls.key, (dir.path() / "certs/server.key").string());
}

TEST(ConfigLoader, FileLoadUsesTheFilesDirectoryAsBaseDir) {
  TempDir dir;
  write_referenced_files(dir);
  const std::string file = dir.write("segproxy.yaml", kValidConfig);
  const LoadResult r = load_config_file(file);
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  EXPECT_EQ(r.config->source_path, file);
  EXPECT_EQ(r.config->listeners[0].tls.cert, (dir.path() / "certs/server.crt").string());
}

TEST(ConfigLoader, FileErrorsNameTheFile) {
  TempDir dir;
  const std::string file = dir.write("bad.yaml", "threads: 2\nlistenrs: []\n");
  const LoadResult r = load_config_file(file);
  ASSERT_EQ(r.errors.size(), 2u) << dump(r);  // unknown key + no listeners
  EXPECT_EQ(r.errors[0].to_string(), file + ":2: listenrs: unknown key \"listenrs\" (did you mean \"listeners\"?)");
}

TEST(ConfigLoader, UnreadableFileIsExactlyOneError) {
  TempDir dir;
  for (const std::string& path : {(dir.path() / "missing.yaml").string(), dir.str()}) {
    const LoadResult r = load_config_file(path);
    ASSERT_EQ(r.errors.size(), 1u) << dump(r);
    EXPECT_EQ(r.errors[0].file, path);
    EXPECT_EQ(r.errors[0].line, 0);
    EXPECT_NE(r.errors[0].message.find("cannot read config file"), std::string::npos);
    EXPECT_FALSE(r.config.has_value());
  }
}

TEST(ConfigLoader, ErrorToStringOmitsZeroLineAndEmptyKeyPath) {
  EXPECT_EQ((ConfigError{"a.yaml", 3, "x.y", "bad"}).to_string(), "a.yaml:3: x.y: bad");
  EXPECT_EQ((ConfigError{"a.yaml", 0, "x.y", "bad"}).to_string(), "a.yaml: x.y: bad");
  EXPECT_EQ((ConfigError{"a.yaml", 7, "", "bad"}).to_string(), "a.yaml:7: bad");
}

TEST(ConfigLoader, CertSha256IsStoredNormalized) {
  TempDir dir;
  write_referenced_files(dir);
  const std::string upper =
      "3A:7B:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
      "AA:BB:CC";
  const LoadResult r = load_config_string(
      edited({{"{cn: \"ops-*\", ou: Operations}", "{cert_sha256: \"" + upper + "\"}"}}),
      "t.yaml", dir.str());
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  EXPECT_EQ(r.config->identities[1].match.cert_sha256,
            "3a7b9c00112233445566778899aabbccddeeff00112233445566778899aabbcc");
}

TEST(ConfigLoader, OptionalSectionsTakeDefaults) {
  TempDir dir;
  write_referenced_files(dir);
  const std::string minimal =
      "listeners:\n"
      "  - name: pg\n"
      "    protocol: postgres\n"
      "    listen: 0.0.0.0:6432\n"
      "    tls: {cert: certs/server.crt, key: certs/server.key, client_ca: certs/ca.crt}\n"
      "    backend: {host: db, port: 5432}\n";
  const LoadResult r = load_config_string(minimal, "min.yaml", dir.str());
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  const LimitsConfig defaults;
  EXPECT_EQ(r.config->threads, 0u);
  EXPECT_EQ(r.config->handshake_threads, 1u);  // client handshakes off the I/O threads by default
  EXPECT_EQ(r.config->handshake_nice, 10);
  EXPECT_EQ(r.config->log.level, "info");
  EXPECT_EQ(r.config->limits.max_message_size, defaults.max_message_size);
  EXPECT_EQ(r.config->limits.handshake_timeout, defaults.handshake_timeout);
  EXPECT_TRUE(r.config->identities.empty());  // nobody is admitted: allowed, fail closed
  EXPECT_TRUE(r.config->segments.empty());
}

// Creates, under `base`, every file the YAML references (TLS files and password files).
void create_referenced_files(const YAML::Node& n, const TempDir& base) {
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (it->second.IsScalar() &&
          (key == "cert" || key == "key" || key == "client_ca" || key == "ca" ||
           key == "password_file" || key == "crl")) {
        base.write(it->second.Scalar(), "placeholder\n");
      } else if (it->second.IsScalar() && key == "socket") {
        std::filesystem::create_directories(base.path() / std::filesystem::path(it->second.Scalar()).parent_path());
      } else {
        create_referenced_files(it->second, base);
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n) create_referenced_files(item, base);
  }
}

TEST(ConfigLoader, ShippedExampleLoadsWithoutErrors) {
  const std::filesystem::path example =
      std::filesystem::path(__FILE__).parent_path() / "../../../config/examples/segproxy.yaml";
  std::ifstream in(example);
  ASSERT_TRUE(in) << "cannot open " << example;
  std::stringstream text;
  text << in.rdbuf();
  TempDir dir;
  create_referenced_files(YAML::Load(text.str()), dir);
  const LoadResult r = load_config_string(text.str(), "segproxy.yaml", dir.str());
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  // The example documents every section; make sure none silently vanished.
  const Config& c = *r.config;
  EXPECT_GE(c.listeners.size(), 2u);
  EXPECT_GE(c.identities.size(), 3u);
  EXPECT_GE(c.segments.size(), 2u);
  bool postgres = false, mysql = false, verify_full = false;
  for (const auto& l : c.listeners) {
    postgres |= l.protocol == Protocol::Postgres;
    mysql |= l.protocol == Protocol::Mysql;
    verify_full |= l.backend.tls.mode == BackendTlsMode::VerifyFull;
  }
  EXPECT_TRUE(postgres && mysql && verify_full);
  EXPECT_TRUE(c.admin && c.metrics);
  EXPECT_FALSE(c.listeners[0].tls.crl.empty());
  EXPECT_GT(c.segments.at("billing").limits.max_connections, 0u);
}

}  // namespace
}  // namespace segproxy::config::test
