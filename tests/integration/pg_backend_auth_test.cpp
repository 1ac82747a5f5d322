// Backend authentication pinning (issue 12 item 4.3): the proxy answers only the
// methods listeners[].backend.auth accepts, says so in the client's error when the
// backend asks for another one, and uses SCRAM channel binding over backend TLS.
#include <gtest/gtest.h>

#include <unistd.h>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

class BackendAuth : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }
};

// The environment's legacy_md5 role has an MD5 password: PostgreSQL asks for md5.
TEST_F(BackendAuth, Md5RequestIsRefusedWithAClearErrorUnlessBackendAuthListsMd5) {
  ASSERT_EQ(::access(env().secret_file("legacy_md5.pw").c_str(), R_OK), 0) << env().secret_file("legacy_md5.pw");
  ProxyConfigOptions opts;
  opts.billing_user = "legacy_md5";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr refused = Connect();
  ASSERT_NE(PQstatus(refused.get()), CONNECTION_OK) << "answered an md5 request that backend.auth does not accept";
  const std::string msg = PQerrorMessage(refused.get());
  EXPECT_NE(msg.find("backend asked for md5 authentication, which backend.auth does not accept (scram-sha-256)"),
            std::string::npos)
      << msg;
  EXPECT_TRUE(proxy_.running());

  proxy_.stop();
  opts.backend_extra = "      auth: [scram-sha-256, md5]\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  EXPECT_EQ(pg_exec(conn.get(), "select current_user").value, "legacy_md5");
}

TEST_F(BackendAuth, ScramOverUnverifiedBackendTlsUsesChannelBinding) {
  ProxyConfigOptions opts;
  opts.backend_tls_mode = "require";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  EXPECT_EQ(pg_exec(conn.get(), "select current_user").value, "billing_rw");
  // PostgreSQL accepted the proof, which binds the certificate the proxy saw.
  EXPECT_NE(proxy_.log().find("SCRAM-SHA-256-PLUS"), std::string::npos) << proxy_.log();
}

TEST_F(BackendAuth, ScramOverVerifiedBackendTlsUsesChannelBinding) {
  ProxyConfigOptions opts;
  opts.backend_tls_mode = "verify-full";
  opts.backend_extra = "      auth: [scram-sha-256-plus]\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  // The session.open line is written before the session answers its first query.
  EXPECT_EQ(pg_exec(conn.get(), "select current_user").value, "billing_rw");
  EXPECT_NE(proxy_.log().find("SCRAM-SHA-256-PLUS"), std::string::npos) << proxy_.log();
}

// The test environment's pg_hba.conf asks members of cleartext_login for a cleartext
// password over TLS (and rejects them without TLS).
TEST_F(BackendAuth, CleartextRequestIsAnsweredOnlyWhenBackendAuthListsPasswordOverVerifiedTls) {
  const std::string role = "clear_" + std::to_string(::getpid());
  const std::string password = role + "-secret";
  const std::string password_file = dir_ + "/clear.pw";
  write_file(password_file, password + "\n");
  PgConnPtr su = pg_connect(env().superuser_conninfo());
  ASSERT_EQ(PQstatus(su.get()), CONNECTION_OK) << PQerrorMessage(su.get());
  pg_exec(su.get(), "DROP ROLE IF EXISTS " + role);
  const QueryOutcome created =
      pg_exec(su.get(), "CREATE ROLE " + role + " LOGIN IN ROLE cleartext_login PASSWORD '" + password + "'");
  ASSERT_TRUE(created.ok) << created.error;
  struct DropRole {
    PGconn* su;
    std::string role;
    ~DropRole() { pg_exec(su, "DROP ROLE IF EXISTS " + role); }
  } drop{su.get(), role};

  ProxyConfigOptions opts;
  opts.billing_user = role;
  opts.billing_password_file = password_file;
  opts.backend_tls_mode = "verify-full";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr refused = Connect();
  ASSERT_NE(PQstatus(refused.get()), CONNECTION_OK) << "sent a cleartext password that backend.auth does not accept";
  const std::string msg = PQerrorMessage(refused.get());
  EXPECT_NE(msg.find("backend asked for password (cleartext) authentication, which backend.auth does not accept "
                     "(scram-sha-256-plus)"),
            std::string::npos)
      << msg;
  EXPECT_EQ(proxy_.log().find(password), std::string::npos) << "the backend password was logged";

  proxy_.stop();
  opts.backend_extra = "      auth: [scram-sha-256-plus, password]\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  EXPECT_EQ(pg_exec(conn.get(), "select current_user").value, role);
  EXPECT_NE(proxy_.log().find("backend_auth=password "), std::string::npos) << proxy_.log();
  EXPECT_EQ(proxy_.log().find(password), std::string::npos) << "the backend password was logged";
}

TEST_F(BackendAuth, CleartextBackendAuthWithoutVerifyFullIsAConfigurationError) {
  ProxyConfigOptions opts;
  opts.backend_tls_mode = "require";
  opts.backend_extra = "      auth: [scram-sha-256, password]\n";
  const std::string path = dir_ + "/cleartext.yaml";
  write_file(path, render_config(free_port(), opts));
  const ProcResult r = run_process({env().segproxy_bin, "--check-config", path}, std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE((r.out + r.err).find("needs backend tls.mode verify-full"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace segproxy::it
