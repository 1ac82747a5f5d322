// Every validation error the loader must report, each with its line and key path.
// Cases are edits of the valid config in config_test_util.hpp (which keeps line numbers).
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

struct ErrorCase {
  const char* name;
  std::vector<std::pair<std::string, std::string>> edits;
  int line;
  const char* key_path;
  const char* message_part;
  std::size_t error_count;  // total errors the edit must produce
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

const std::vector<ErrorCase>& error_cases() {
  static const std::vector<ErrorCase> cases = {
      {"YamlSyntaxErrorHasItsLine", {{"protocol: postgres", "protocol: postgres: x"}}, 13, "",
       "YAML syntax error", 1},
      {"UnknownTopLevelKeyIsAnErrorWithLineAndSuggestion", {{"threads: 2", "thread: 2"}}, 1,
       "thread", "unknown key \"thread\" (did you mean \"threads\"?)", 1},
      {"UnknownNestedKeyIsAnErrorWithLineAndSuggestion",
       {{"protocol: postgres", "protocl: postgres"}}, 13, "listeners[0].protocl",
       "unknown key \"protocl\" (did you mean \"protocol\"?)", 2 /* + missing protocol */},
      {"UnknownKeyFarFromAnyValidKeyHasNoSuggestion",
       {{"format: json}", "format: json, colour: always}"}}, 2, "log.colour",
       "unknown key \"colour\"", 1},
      {"UnknownKeyInCredentialSuggestsPasswordFile",
       {{"password_file: secrets/ops_ro.pw", "pasword_file: secrets/ops_ro.pw"}}, 39,
       "segments.ops.credentials.pg-main.pasword_file", "(did you mean \"password_file\"?)",
       2 /* + neither file nor env */},
      {"DuplicateKeyIsAnError", {{"port: 3306}", "port: 3306, port: 3307}"}}, 24,
       "listeners[1].backend.port", "duplicate key \"port\"", 1},
      {"IntegerGivenAsListIsATypeError", {{"threads: 2", "threads: [2]"}}, 1, "threads",
       "expected an integer", 1},
      {"HandshakeThreadsAbove64IsAnError", {{"threads: 2", "threads: 2\nhandshake_threads: 65"}}, 2,
       "handshake_threads", "out of range", 1},
      {"HandshakeNiceAbove19IsAnError", {{"threads: 2", "threads: 2\nhandshake_nice: 20"}}, 2, "handshake_nice",
       "out of range", 1},
      {"NonNumericIntegerIsATypeError", {{"max_connections: 100", "max_connections: many"}}, 6,
       "limits.max_connections", "expected an integer, got \"many\"", 1},
      {"DatabasesGivenAsScalarIsATypeError", {{"databases: [shop]", "databases: shop"}}, 32,
       "segments.billing.databases", "expected a list", 1},
      {"TlsGivenAsScalarIsATypeError",
       {{"tls: {cert: certs/server.crt, key: certs/server.key, client_ca: certs/ca.crt}",
         "tls: on"}},
       23, "listeners[1].tls", "expected a mapping", 1},
      {"MissingBackendPortIsReportedAtItsParent", {{"      port: 5432", "      # no port"}}, 16,
       "listeners[0].backend.port", "missing required key \"port\"", 1},
      {"MissingTlsCertIsReported", {{"{cert: certs/server.crt, ", "{"}}, 15,
       "listeners[0].tls.cert", "missing required key \"cert\"", 1},
      {"MissingListenerNameIsReported", {{"  - name: my-main\n", "  - # no name\n"}}, 21,
       "listeners[1].name", "missing required key \"name\"", 1},
      {"PortAboveRangeIsAnError", {{"port: 5432", "port: 70000"}}, 18,
       "listeners[0].backend.port", "out of range (must be 1..65535)", 1},
      {"PortZeroIsAnError", {{"port: 5432", "port: 0"}}, 18, "listeners[0].backend.port",
       "out of range", 1},
      {"ListenWithoutPortIsAnError", {{"listen: 127.0.0.1:6432", "listen: 127.0.0.1"}}, 14,
       "listeners[0].listen", "expected host:port", 1},
      {"ListenWithBadPortIsAnError", {{"listen: 127.0.0.1:6432", "listen: 127.0.0.1:99999"}},
       14, "listeners[0].listen", "invalid port", 1},
      {"UnbracketedIpv6ListenIsAnError", {{"\"[::1]:3307\"", "\"::1:3307\""}}, 22,
       "listeners[1].listen", "must be written [addr]:port", 1},
      {"DuplicateListenerNameIsAnError",
       {{"name: my-main", "name: pg-main"}, {"      my-main: {user: billing_my", "      # "}},
       20, "listeners[1].name", "duplicate listener name \"pg-main\" (first declared on line 12)",
       1},
      {"DuplicateListenAddressIsAnError", {{"\"[::1]:3307\"", "\"127.0.0.1:6432\""}}, 22,
       "listeners[1].listen", "duplicate listen address 127.0.0.1:6432", 1},
      {"UnknownProtocolIsAnError", {{"protocol: mysql", "protocol: mssql"}}, 21,
       "listeners[1].protocol", "invalid protocol \"mssql\" (expected one of: postgres, mysql)",
       1},
      {"BadTlsMinVersionIsAnError", {{"min_version: \"1.3\"", "min_version: \"1.1\""}}, 15,
       "listeners[0].tls.min_version", "expected one of: 1.2, 1.3", 1},
      {"MissingTlsFileIsAnError", {{"client_ca: certs/ca.crt", "client_ca: certs/nope.crt"}},
       15, "listeners[0].tls.client_ca", "file not found: ", 1},
      {"TlsFileThatIsADirectoryIsAnError", {{"key: certs/server.key", "key: certs"}}, 15,
       "listeners[0].tls.key", "not a regular file", 1},
      {"MissingBackendCaFileIsAnError", {{"ca: certs/backend-ca.crt", "ca: certs/gone.crt"}}, 19,
       "listeners[0].backend.tls.ca", "file not found", 1},
      {"InvalidBackendTlsModeIsAnError", {{"mode: verify-full", "mode: verify"}}, 19,
       "listeners[0].backend.tls.mode", "invalid mode \"verify\"", 1},
      {"VerifyFullWithoutCaIsAnError", {{"ca: certs/backend-ca.crt, ", ""}}, 19,
       "listeners[0].backend.tls.mode", "verify-full requires \"ca\"", 1},
      {"IdentityWithEmptyMatchIsAnError",
       {{"{spiffe_id: \"spiffe://example.org/ns/billing/*\"}", "{}"}}, 26, "identities[0].match",
       "at least one of spiffe_id, cn, ou, dns, cert_sha256", 1},
      {"IdentityWithUnknownMatchKeySuggests", {{"{cn: \"ops-*\"", "{cm: \"ops-*\""}}, 28,
       "identities[1].match.cm", "(did you mean \"cn\"?)", 1},
      {"IdentityNamingUnknownSegmentIsAnError", {{"segment: ops", "segment: opz"}}, 29,
       "identities[1].segment", "unknown segment \"opz\" (did you mean \"ops\"?)", 1},
      {"IdentityWithoutSegmentIsAnError", {{"    segment: ops", "    # none"}}, 28,
       "identities[1].segment", "missing required key \"segment\"", 1},
      {"BadCertSha256IsAnError", {{"{cn: \"ops-*\"", "{cert_sha256: \"abc\", cn: \"ops-*\""}}, 28,
       "identities[1].match.cert_sha256", "64 hex digits", 1},
      {"SegmentWithEmptyDatabasesIsAnError", {{"databases: [shop]", "databases: []"}}, 32,
       "segments.billing.databases", "at least one database", 1},
      {"SegmentWithoutDatabasesIsAnError", {{"    databases: [shop]\n", "    # none\n"}}, 31,
       "segments.billing.databases", "missing required key \"databases\"", 1},
      {"CredentialForUnknownListenerIsAnError",
       {{"my-main: {user: billing_my", "my-mian: {user: billing_my"}}, 35,
       "segments.billing.credentials.my-mian", "unknown listener \"my-mian\" (did you mean \"my-main\"?)",
       1},
      {"CredentialWithBothPasswordSourcesIsAnError",
       {{"password_file: secrets/billing_rw.pw}", "password_file: secrets/billing_rw.pw, "
                                                  "password_env: X}"}},
       34, "segments.billing.credentials.pg-main", "mutually exclusive", 1},
      {"CredentialWithNeitherPasswordSourceIsAnError",
       {{"user: billing_rw, password_file: secrets/billing_rw.pw", "user: billing_rw"}}, 34,
       "segments.billing.credentials.pg-main", "exactly one of password_file or password_env",
       1},
      {"CredentialWithoutUserIsAnError", {{"{user: ops_ro, ", "{"}}, 39,
       "segments.ops.credentials.pg-main.user", "missing required key \"user\"", 1},
      {"MissingPasswordFileIsAnError",
       {{"secrets/billing_rw.pw", "secrets/missing.pw"}}, 34,
       "segments.billing.credentials.pg-main.password_file", "password file not found: ", 1},
      {"ReachableSegmentWithoutPostgresCredentialIsAnError",
       {{"      pg-main: {user: ops_ro", "      my-main: {user: ops_ro"}}, 38,
       "segments.ops.credentials", "segment \"ops\" has no credential for listener \"pg-main\"",
       1},
      {"ReachableSegmentWithoutCredentialsBlockIsAnError",
       {{"    credentials:\n      pg-main: {user: ops_ro, password_file: secrets/ops_ro.pw}\n",
         ""}},
       36, "segments.ops.credentials", "segment \"ops\" has no credential for listener \"pg-main\"",
       1},
      {"DurationWithoutUnitIsAnError", {{"handshake_timeout: 10s", "handshake_timeout: 10"}}, 7,
       "limits.handshake_timeout", "needs a unit (ms, s, m or h)", 1},
      {"DurationWithBadUnitIsAnError", {{"startup_timeout: 500ms", "startup_timeout: 5d"}}, 8,
       "limits.startup_timeout", "invalid duration unit \"d\"", 1},
      {"NegativeDurationIsAnError", {{"backend_connect_timeout: 5m", "backend_connect_timeout: -5s"}},
       9, "limits.backend_connect_timeout", "invalid duration", 1},
      {"ZeroDurationIsAnErrorExceptForIdleTimeout",
       {{"handshake_timeout: 10s", "handshake_timeout: 0s"}}, 7, "limits.handshake_timeout",
       "must be greater than 0", 1},
      {"SizeWithBadUnitIsAnError", {{"64MiB", "64MB"}}, 5, "limits.max_message_size",
       "invalid size unit \"MB\"", 1},
      {"NonNumericSizeIsAnError", {{"max_startup_packet: 10000", "max_startup_packet: big"}}, 4,
       "limits.max_startup_packet", "invalid size", 1},
      {"ZeroSizeIsAnError", {{"64MiB", "0"}}, 5, "limits.max_message_size", "out of range", 1},
      {"InvalidLogLevelIsAnError", {{"level: info", "level: verbose"}}, 2, "log.level",
       "invalid level \"verbose\"", 1},
  };
  return cases;
}

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {
 protected:
  void SetUp() override { write_referenced_files(dir_); }
  TempDir dir_;
};

TEST_P(ConfigErrorTest, IsReportedWithLineAndKeyPath) {
  const ErrorCase& c = GetParam();
  const LoadResult r = load_config_string(edited(c.edits), "test.yaml", dir_.str());
  EXPECT_FALSE(r.config.has_value());
  bool found = false;
  for (const auto& e : r.errors) {
    EXPECT_EQ(e.file, "test.yaml");
    if (e.line == c.line && e.key_path == c.key_path &&
        e.message.find(c.message_part) != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << "expected test.yaml:" << c.line << ": " << c.key_path << ": ..."
                     << c.message_part << "\ngot:\n"
                     << dump(r);
  EXPECT_EQ(r.errors.size(), c.error_count) << dump(r);
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigErrorTest, ::testing::ValuesIn(error_cases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& i) {
                           return std::string(i.param.name);
                         });

TEST(ConfigErrors, BaseConfigOfTheErrorTableIsValid) {
  TempDir dir;
  write_referenced_files(dir);
  const LoadResult r = load_config_string(kValidConfig, "test.yaml", dir.str());
  EXPECT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_TRUE(r.config.has_value());
}

TEST(ConfigErrors, EmptyConfigIsAnError) {
  for (const char* text : {"", "# only a comment\n", "listeners: []\n", "threads: 1\n"}) {
    const LoadResult r = load_config_string(text, "empty.yaml", "/tmp");
    ASSERT_EQ(r.errors.size(), 1u) << text << "\n" << dump(r);
    EXPECT_EQ(r.errors[0].key_path, "listeners");
    EXPECT_NE(r.errors[0].message.find("no listeners"), std::string::npos);
    EXPECT_FALSE(r.config.has_value());
  }
}

TEST(ConfigErrors, TopLevelThatIsNotAMappingIsAnError) {
  const LoadResult r = load_config_string("- a\n- b\n", "list.yaml", "/tmp");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_NE(r.errors[0].message.find("expected a mapping"), std::string::npos);
}

TEST(ConfigErrors, SecondYamlDocumentIsAnError) {
  TempDir dir;
  write_referenced_files(dir);
  const std::string text = std::string(kValidConfig) + "---\nthreads: 3\n";
  const LoadResult r = load_config_string(text, "two.yaml", dir.str());
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].line, 41);
  EXPECT_NE(r.errors[0].message.find("multiple YAML documents"), std::string::npos);
}

// yaml-cpp 0.7's LoadAll never returns on a stray ',' at the top level (it produces empty
// documents until memory runs out; found by fuzz.config): the loader must answer.
TEST(ConfigErrors, StrayCommaAtTopLevelIsAnErrorNotAnEndlessParse) {
  for (const char* text : {",\n", ", a\nb: 1\n", "# c\n,   a b \\\nx: 1\n"}) {
    const LoadResult r = load_config_string(text, "comma.yaml", "/tmp");
    EXPECT_FALSE(r.config.has_value()) << text;
    EXPECT_FALSE(r.errors.empty()) << text;
  }
}

TEST(ConfigErrors, AllErrorsAreCollectedSortedByLine) {
  TempDir dir;
  write_referenced_files(dir);
  const LoadResult r = load_config_string(edited({{"segment: ops", "segment: opz"},
                                                  {"threads: 2", "threads: -1"},
                                                  {"port: 5432", "port: 0"},
                                                  {"64MiB", "64XB"}}),
                                          "test.yaml", dir.str());
  ASSERT_EQ(r.errors.size(), 4u) << dump(r);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_EQ(r.errors[1].line, 5);
  EXPECT_EQ(r.errors[2].line, 18);
  EXPECT_EQ(r.errors[3].line, 29);
}

TEST(ConfigErrors, UnreadableTlsFileIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read any file";
  TempDir dir;
  write_referenced_files(dir);
  ::chmod((dir.path() / "certs/server.key").c_str(), 0);
  const LoadResult r = load_config_string(kValidConfig, "test.yaml", dir.str());
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].line, 15);
  EXPECT_EQ(r.errors[0].key_path, "listeners[0].tls.key");
  EXPECT_NE(r.errors[0].message.find("not readable"), std::string::npos) << dump(r);
}

// Runs as root too (CI does), unlike the permission test above.
TEST(ConfigErrors, TlsPathThatIsADirectoryIsAnError) {
  TempDir dir;
  write_referenced_files(dir);
  std::filesystem::remove(dir.path() / "certs/server.key");
  std::filesystem::create_directory(dir.path() / "certs/server.key");
  const LoadResult r = load_config_string(kValidConfig, "test.yaml", dir.str());
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].line, 15);
  EXPECT_EQ(r.errors[0].key_path, "listeners[0].tls.key");
  EXPECT_NE(r.errors[0].message.find("not a regular file"), std::string::npos) << dump(r);
}

TEST(ConfigErrors, MysqlOnlyCredentialGapIsNotAnError) {
  // Only postgres listeners require a credential in every reachable segment.
  TempDir dir;
  write_referenced_files(dir);
  const LoadResult r = load_config_string(
      edited({{"      my-main: {user: billing_my, password_env: SEGPROXY_TEST_MY_PW}", "      #"}}),
      "test.yaml", dir.str());
  EXPECT_TRUE(r.errors.empty()) << dump(r);
}

TEST(ConfigErrors, UnreachableSegmentNeedsNoCredential) {
  TempDir dir;
  write_referenced_files(dir);
  const LoadResult r = load_config_string(
      std::string(kValidConfig) + "  spare:\n    databases: [x]\n", "test.yaml", dir.str());
  EXPECT_TRUE(r.errors.empty()) << dump(r);
}

}  // namespace
}  // namespace segproxy::config::test
