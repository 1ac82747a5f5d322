// psql running a script through the proxy with a restrictive policy: refused
// statements are ordinary errors to psql (stderr, exit code by ON_ERROR_STOP), the
// allowed ones print their results, and the session survives every refusal.
#include <gtest/gtest.h>

#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

using PolicyPsql = PolicyTest;

ProcResult psql_file(const std::string& conninfo, const std::string& file, bool stop_on_error) {
  return run_process({"psql", "-X", "-q", "-At", "-v", stop_on_error ? "ON_ERROR_STOP=1" : "ON_ERROR_STOP=0",
                      "-f", file, conninfo},
                     std::chrono::seconds(60));
}

TEST_F(PolicyPsql, ScriptWithDeniedStatementsReportsThemAndRunsTheRest) {
  const std::string orders = unique_name("it_pol_psql");
  const std::string pii = unique_name("it_pol_psql_pii");
  ASSERT_NO_FATAL_FAILURE(CreateTable(orders, 2));
  ASSERT_NO_FATAL_FAILURE(CreateTable(pii, 1));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(orders, pii)));

  const std::string script = dir_ + "/script.sql";
  write_file(script,
             "select 'first-ok';\n"
             "delete from " + orders + " where id = 1;\n"
             "select v from " + orders + " where id = 1;\n"
             "select * from " + pii + ";\n"
             "set search_path = public;\n"
             "insert into " + orders + " values (3, 'three');\n"
             "begin;\n"
             "update " + orders + " set v = 'changed' where id = 2;\n"
             "truncate " + orders + ";\n"
             "select 'in-failed-transaction';\n"
             "commit;\n"
             "select string_agg(v, ',' order by id) from " + orders + ";\n"
             "selec 'typo';\n"
             "select 'last-ok';\n");

  const ProcResult r = psql_file(Conninfo(ClientCert::Spiffe), script, false);
  // psql: 0 = finished normally (errors in a script without ON_ERROR_STOP do not count).
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out,
            "first-ok\n"
            "v1\n"
            "v1,v2,three\n"  // the update was rolled back with the refused truncate
            "last-ok\n")
      << r.describe();
  for (const std::string& needle :
       {"segproxy: segment \"billing\" may not delete from public." + orders,
        "segproxy: segment \"billing\" may not select from public." + pii,
        "segproxy: segment \"billing\" may not truncate public." + orders,
        std::string("current transaction is aborted"), std::string("syntax error")}) {
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing in stderr: " << needle << "\n" << r.describe();
  }
  EXPECT_NE(r.err.find("search_path"), std::string::npos) << r.describe();
  EXPECT_EQ(RowCount(orders), 3);
  EXPECT_EQ(SuValue("SELECT v FROM public." + orders + " WHERE id = 2"), "v2");

  // With ON_ERROR_STOP=1 psql stops at the first refusal and exits 3.
  const ProcResult stop = psql_file(Conninfo(ClientCert::Spiffe), script, true);
  EXPECT_EQ(stop.exit_code, 3) << stop.describe();
  EXPECT_EQ(stop.out, "first-ok\n") << stop.describe();
  EXPECT_NE(stop.err.find("may not delete from public." + orders), std::string::npos) << stop.describe();
  EXPECT_EQ(RowCount(orders), 3);
}

}  // namespace
}  // namespace segproxy::it
