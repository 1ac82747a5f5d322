// How the proxy logs in to PostgreSQL: SCRAM (default), MD5, TLS to the backend, and a
// wrong stored password (a clean refusal, never a hang, never the secret in a message).
#include <gtest/gtest.h>

#include <unistd.h>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

class BackendLogin : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }
};

TEST_F(BackendLogin, ScramCredentialLogsInAsBillingRole) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  EXPECT_EQ(pg_exec(conn.get(), "select current_user").value, "billing_rw");
}

TEST_F(BackendLogin, Md5CredentialLogsInAsLegacyRole) {
  if (::access(env().secret_file("legacy_md5.pw").c_str(), R_OK) != 0) {
    GTEST_FAIL() << "missing " << env().secret_file("legacy_md5.pw");
  }
  ProxyConfigOptions opts;
  opts.billing_user = "legacy_md5";
  opts.backend_extra = "      auth: [md5]\n";  // backend.auth pins SCRAM unless md5 is listed
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  EXPECT_EQ(pg_exec(conn.get(), "select current_user").value, "legacy_md5");
}

TEST_F(BackendLogin, VerifyFullBackendTlsIsUsed) {
  ProxyConfigOptions opts;
  opts.backend_tls_mode = "verify-full";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const QueryOutcome q = pg_exec(conn.get(), "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "t");
}

TEST_F(BackendLogin, RequireBackendTlsIsUsed) {
  ProxyConfigOptions opts;
  opts.backend_tls_mode = "require";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const QueryOutcome q = pg_exec(conn.get(), "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "t");
}

TEST_F(BackendLogin, DisabledBackendTlsIsPlain) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const QueryOutcome q = pg_exec(conn.get(), "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "f");
}

TEST_F(BackendLogin, WrongBackendPasswordGivesCleanFatalWithoutTheSecret) {
  const std::string secret = "Wr0ng-Secret-" + unique_name("pw");
  const std::string pw_file = dir_ + "/wrong.pw";
  write_file(pw_file, secret);
  ProxyConfigOptions opts;
  opts.billing_password_file = pw_file;
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));

  const auto start = std::chrono::steady_clock::now();
  PgConnPtr conn = Connect();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD) << "logged in with a wrong password";
  const std::string msg = PQerrorMessage(conn.get());
  EXPECT_NE(msg.find("FATAL"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(secret), std::string::npos) << "the stored password leaked to the client";
  EXPECT_LT(took, 10000) << "refusal took " << took << " ms";
  EXPECT_EQ(proxy_.log().find(secret), std::string::npos) << "the stored password leaked to the log";
  EXPECT_TRUE(proxy_.running());
}

}  // namespace
}  // namespace segproxy::it
