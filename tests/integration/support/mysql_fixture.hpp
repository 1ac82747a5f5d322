#pragma once
// A gtest fixture for the MySQL path: one segproxy per test with a `protocol: mysql`
// listener in front of the test MariaDB (SEGPROXY_TEST_MY*), on its own port, so tests
// may run in parallel. The counterpart of support/fixture.hpp (PostgreSQL).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "support/env.hpp"
#include "support/fixture.hpp"  // ProxyConfigOptions::kPermissivePolicy
#include "support/mysql.hpp"
#include "support/process.hpp"

namespace segproxy::it {

struct MysqlProxyOptions {
  // Backend credential of segment "billing" on listener my-main (password file:
  // <secrets>/<billing_user>.my.pw unless given). E.g. legacy_native, billing_ed25519.
  std::string billing_user = "billing_rw";
  std::string billing_password_file;
  // Backend TLS: disable | require | verify-full (verify-full: pki/ca.crt, localhost).
  std::string backend_tls_mode = "disable";
  std::string log_level = "debug";
  // YAML lines appended under my-main's `backend:` (indented 6 spaces).
  std::string backend_extra;
  // Extra keys inside my-main's `tls: {...}` flow map, e.g. ", min_version: \"1.3\"".
  std::string listener_tls_extra;
  // Policy YAML appended under each segment (indented 4 spaces); default: everything.
  std::string billing_policy = ProxyConfigOptions::kPermissivePolicy;
  std::string reporting_policy = ProxyConfigOptions::kPermissivePolicy;
  // Extra keys inside the top-level `limits: {...}` flow map, e.g.
  // ", max_statement_length: 32MiB".
  std::string limits_extra;
  // Top-level YAML appended at the end (no indentation), e.g. "audit: {dir: \"/x\"}\n".
  std::string extra_yaml;
};

// The YAML of a proxy whose listener my-main (protocol mysql) listens on
// 127.0.0.1:port. Identities as on the PostgreSQL side: client-spiffe -> billing,
// client-cn (CN=reporting-job) -> reporting (backend user reporting_ro); both segments
// may use database SEGPROXY_TEST_MYDB (shop).
std::string render_mysql_config(std::uint16_t port, const MysqlProxyOptions& opts);

class MysqlProxyTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  virtual bool auto_start() const { return true; }

  // Writes the config and starts the proxy (fatal failure if it does not come up).
  // Use as ASSERT_NO_FATAL_FAILURE(StartProxy(opts)).
  void StartProxy(const MysqlProxyOptions& opts = {});

  // Through the proxy with certificate `cert` (user "whatever", no password, shop).
  MyTarget Target(ClientCert cert = ClientCert::Spiffe) const {
    return my_proxy_target(port_, cert);
  }
  // Connector/C++ through the proxy; nullptr + *error on failure.
  std::unique_ptr<sql::Connection> Connect(ClientCert cert = ClientCert::Spiffe,
                                           MyError* error = nullptr) const {
    MyError local;
    return mysql_connect(Target(cert), error != nullptr ? error : &local);
  }

  std::string dir_;  // per-test scratch directory
  std::uint16_t port_ = 0;
  std::string config_path_;
  ProxyProcess proxy_;
};

}  // namespace segproxy::it
