#pragma once
// A gtest fixture that runs one segproxy per test on its own port (tests may run in
// parallel), with the configuration from the integration brief.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "support/env.hpp"
#include "support/pg.hpp"
#include "support/process.hpp"

namespace segproxy::it {

struct ProxyConfigOptions {
  // Backend credential of segment "billing" on listener pg-main.
  std::string billing_user = "billing_rw";
  std::string billing_password_file;  // empty: <secrets>/<billing_user>.pw
  // When set: billing's whole credential value on pg-main (a flow map), e.g. a
  // "{dynamic: {...}}" one; billing_user / billing_password_file are then unused.
  std::string billing_credential;
  // Backend TLS: disable | require | verify-full (verify-full uses pki/ca.crt, localhost).
  std::string backend_tls_mode = "disable";
  std::string log_level = "debug";
  // YAML lines appended under pg-main's `backend:` (indented 6 spaces), e.g.
  // "      metadata: {user: m, password_file: \"/x\"}\n".
  std::string backend_extra;
  // pg-main's tls.client_ca; empty: the environment's pki/ca.crt.
  std::string client_ca;
  // Extra keys inside pg-main's `tls: {...}` flow map, e.g. ", crl: \"/x/ca.crl\"".
  std::string listener_tls_extra;
  // Policy YAML lines appended under each segment (indented 4 spaces). The default
  // grants everything, so the relay tests exercise the protocol, not the policy.
  std::string billing_policy = kPermissivePolicy;
  std::string reporting_policy = kPermissivePolicy;
  std::string handshake_timeout = "5s";
  // Extra keys inside the top-level `limits: {...}` flow map, e.g.
  // ", max_statements_per_message: 2".
  std::string limits_extra;
  // Top-level YAML lines appended at the end of the file (no indentation), e.g.
  // "audit: {dir: \"/x\"}\n".
  std::string extra_yaml;
  // `*.*` never reaches system catalogs (docs/policy.md): the metadata list and the two
  // activity views some tests read are granted by name.
  static constexpr const char* kPermissivePolicy =
      "    catalog: metadata\n"
      "    rules:\n"
      "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
      "      - {id: activity, tables: [pg_catalog.pg_stat_activity, pg_catalog.pg_stat_ssl], allow: [select]}\n"
      "    statements: [transaction, session_safe, ddl, admin, procedural, anonymous_code, notify, prepare, cursor, explain]\n";
};

// The YAML configuration for a proxy listening on 127.0.0.1:port.
std::string render_config(std::uint16_t port, const ProxyConfigOptions& opts);

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Whether SetUp starts a proxy with the default options.
  virtual bool auto_start() const { return true; }

  // Writes the config and starts the proxy (fatal failure if it does not come up).
  // Use as ASSERT_NO_FATAL_FAILURE(StartProxy(opts)).
  void StartProxy(const ProxyConfigOptions& opts = {});

  std::string Conninfo(ClientCert cert = ClientCert::Spiffe, std::string_view extra = "") const {
    return proxy_conninfo(port_, cert, extra);
  }
  // Connects through the proxy (check with ASSERT_PG_CONNECTED).
  PgConnPtr Connect(ClientCert cert = ClientCert::Spiffe, std::string_view extra = "") const {
    return pg_connect(Conninfo(cert, extra));
  }

  std::string dir_;  // per-test scratch directory
  std::uint16_t port_ = 0;
  std::string config_path_;
  ProxyProcess proxy_;
};

}  // namespace segproxy::it

#define ASSERT_PG_CONNECTED(conn)                                    \
  ASSERT_EQ(PQstatus((conn).get()), CONNECTION_OK)                   \
      << "connection through the proxy failed: " << PQerrorMessage((conn).get())
