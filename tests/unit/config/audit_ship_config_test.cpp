// `audit.ship:` (issue 17, docs/audit.md "Central store"): the central store's connection
// and the shipper's pace. Appended to the valid config of config_test_util.hpp (39
// lines): `audit:` is on line 40, `ship:` on 42, `postgres:` on 43.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

class AuditShipConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_referenced_files(dir_);
    for (const char* f : {"pki/store-ca.crt", "pki/ship.crt", "pki/ship.key", "secrets/ship.pw"}) dir_.write(f);
  }
  // audit: {dir} + ship: {postgres: `postgres`} + `rest` (indented 4).
  LoadResult load(const std::string& postgres, const std::string& rest = "") const {
    return load_config_string(std::string(kValidConfig) + "audit:\n  dir: audit\n  ship:\n    postgres: " + postgres +
                                  "\n" + rest,
                              "segproxy.yaml", dir_.str());
  }
  void expect_one_error(const LoadResult& r, const std::string& key_path, const std::string& part) const {
    ASSERT_EQ(r.errors.size(), 1u) << dump(r);
    EXPECT_EQ(r.errors[0].key_path, key_path) << dump(r);
    EXPECT_NE(r.errors[0].message.find(part), std::string::npos) << dump(r);
  }
  TempDir dir_;
};

constexpr const char* kFull =
    "{host: audit-db, port: 6543, dbname: audit, user: shipper, password_file: secrets/ship.pw, "
    "tls: {mode: verify-full, ca: pki/store-ca.crt, cert: pki/ship.crt, key: pki/ship.key}}";

TEST_F(AuditShipConfigTest, WithoutShipTheLogStaysLocal) {
  const LoadResult r = load_config_string(std::string(kValidConfig) + "audit:\n  dir: audit\n", "segproxy.yaml", dir_.str());
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_FALSE(r.config->audit->ship);
}

TEST_F(AuditShipConfigTest, EveryKeyParsesWithPathsResolvedAgainstTheConfigDir) {
  const LoadResult r = load(kFull, "    batch: 500\n    interval: 250ms\n    connect_timeout: 3s\n"
                                   "    warn_lag_records: 10\n    warn_lag: 30s\n");
  ASSERT_TRUE(r.config) << dump(r);
  ASSERT_TRUE(r.config->audit->ship);
  const AuditShipSettings& s = *r.config->audit->ship;
  EXPECT_EQ(s.host, "audit-db");
  EXPECT_EQ(s.port, 6543);
  EXPECT_EQ(s.dbname, "audit");
  EXPECT_EQ(s.user, "shipper");
  EXPECT_EQ(s.password_file, dir_.str() + "/secrets/ship.pw");
  EXPECT_EQ(s.tls_mode, "verify-full");
  EXPECT_EQ(s.tls_ca, dir_.str() + "/pki/store-ca.crt");
  EXPECT_EQ(s.tls_cert, dir_.str() + "/pki/ship.crt");
  EXPECT_EQ(s.tls_key, dir_.str() + "/pki/ship.key");
  EXPECT_EQ(s.batch, 500u);
  EXPECT_EQ(s.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(s.connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(s.warn_lag_records, 10u);
  EXPECT_EQ(s.warn_lag, std::chrono::seconds(30));
  EXPECT_EQ(s.line, 42);
}

TEST_F(AuditShipConfigTest, TheStoreCertificateIsVerifiedByDefaultSoACaIsRequired) {
  expect_one_error(load("{host: h, dbname: d, user: u, password_env: SHIP_PW}"), "audit.ship.postgres", "tls.ca is required");
  const LoadResult r = load("{host: h, dbname: d, user: u, password_env: SHIP_PW, tls: {mode: require}}");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->audit->ship->tls_mode, "require");
  EXPECT_EQ(r.config->audit->ship->password_env, "SHIP_PW");
  EXPECT_EQ(r.config->audit->ship->port, 5432);
}

TEST_F(AuditShipConfigTest, RefusedSettingsNameTheirKey) {
  expect_one_error(load("{host: h, dbname: d, user: u, password_file: secrets/ship.pw, password_env: X, tls: {mode: disable}}"),
                   "audit.ship.postgres", "mutually exclusive");
  expect_one_error(load("{host: h, dbname: d, user: u, tls: {mode: disable, cert: pki/ship.crt}}"),
                   "audit.ship.postgres.tls", "both cert and key");
  expect_one_error(load("{host: h, dbname: \"a=b\", user: u, tls: {mode: disable}}"), "audit.ship.postgres.dbname",
                   "PostgreSQL name");
  expect_one_error(load("{host: h, dbname: d, user: u, tls: {mode: prefer}}"), "audit.ship.postgres.tls.mode", "");
  expect_one_error(load("{host: h, dbname: d, user: u, password_file: missing.pw, tls: {mode: disable}}"),
                   "audit.ship.postgres.password_file", "file not found");
  expect_one_error(load("{dbname: d, user: u, tls: {mode: disable}}"), "audit.ship.postgres.host", "");
  expect_one_error(load("{host: h, dbname: d, user: u, tls: {mode: disable}}", "    batch: 0\n"), "audit.ship.batch", "");
  expect_one_error(load("{host: h, dbname: d, user: u, tls: {mode: disable}}", "    interval: 1ms\n"),
                   "audit.ship.interval", "10ms");
  expect_one_error(load("{host: h, dbname: d, user: u, tls: {mode: disable}}", "    bacth: 5\n"), "audit.ship.bacth", "");
}

}  // namespace
}  // namespace segproxy::config::test
