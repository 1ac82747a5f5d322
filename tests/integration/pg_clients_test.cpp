// Stock PostgreSQL clients (psql) through the proxy: the certificate, not the startup
// `user`, decides which backend role the session runs as.
#include <gtest/gtest.h>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

using PsqlThroughProxy = ProxyTest;

ProcResult psql(const std::string& conninfo, const std::string& sql) {
  return run_process({"psql", "-X", "-v", "ON_ERROR_STOP=1", "-Atc", sql, conninfo},
                     std::chrono::seconds(60));
}

TEST_F(PsqlThroughProxy, SpiffeCertificateRunsAsBillingRole) {
  const ProcResult r = psql(Conninfo(ClientCert::Spiffe), "select current_user");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "billing_rw\n");
}

TEST_F(PsqlThroughProxy, CommonNameCertificateRunsAsReportingRole) {
  const ProcResult r = psql(Conninfo(ClientCert::Cn), "select current_user");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "reporting_ro\n");
}

TEST_F(PsqlThroughProxy, StartupUserIsInformationalOnly) {
  // Asking to be the superuser changes nothing: the segment's credential is used.
  const ProcResult r =
      psql(Conninfo(ClientCert::Spiffe, "user=postgres"), "select current_user, session_user");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "billing_rw|billing_rw\n");
}

TEST_F(PsqlThroughProxy, MultiStatementScriptWithTransactionsRuns) {
  const std::string table = unique_name("it_psql");
  const std::string sql = "create table " + table + " (id int primary key, v text);"
                          "begin; insert into " + table + " values (1, 'a'), (2, 'b'); commit;"
                          "select string_agg(v, ',' order by id) from " + table + ";"
                          "drop table " + table + ";";
  const ProcResult r = psql(Conninfo(ClientCert::Spiffe), sql);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("a,b\n"), std::string::npos) << r.out;
}

TEST_F(PsqlThroughProxy, ReportingRoleCannotWrite) {
  const ProcResult r =
      psql(Conninfo(ClientCert::Cn), "insert into public.orders(customer, amount) values ('x', 1)");
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.describe();
}

using ProxyLifecycle = ProxyTest;

TEST_F(ProxyLifecycle, SigtermWithOpenSessionExitsZeroPromptly) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  ASSERT_TRUE(pg_exec(conn.get(), "select 1").ok);
  const auto start = std::chrono::steady_clock::now();
  const std::string how = proxy_.stop();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  EXPECT_EQ(how, "exited with status 0");
  EXPECT_LT(took, 5000);
  // The client sees its session end rather than hang.
  const QueryOutcome q = pg_exec(conn.get(), "select 1");
  EXPECT_FALSE(q.ok);
}

}  // namespace
}  // namespace segproxy::it
