// Issue 12 items 1.4 and 1.5 through a real proxy with psql: EXECUTE of a name the
// session has not PREPAREd through segproxy is refused with 42501 and the session goes
// on; DO needs anonymous_code even where procedural (CALL) is granted.
#include <gtest/gtest.h>

#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

using PolicyCodeDdl = PolicyTest;

TEST_F(PolicyCodeDdl, PsqlExecuteOfAnUnpreparedNameIsRefusedWith42501AndTheSessionContinues) {
  const std::string orders = unique_name("it_codeddl");
  ASSERT_NO_FATAL_FAILURE(CreateTable(orders, 2));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(
      "    rules:\n"
      "      - {id: orders-rw, tables: [public." + orders + "], allow: [select, insert, update]}\n"
      "    statements: [transaction, session_safe, prepare, procedural]\n"));
  const std::string script = dir_ + "/script.sql";
  write_file(script,
             "\\set VERBOSITY verbose\n"
             "select 'start';\n"
             "execute nope;\n"
             "select 'after-unknown';\n"
             "prepare p as select v from " + orders + " where id = 1;\n"
             "execute p;\n"
             "deallocate p;\n"
             "execute p;\n"
             "prepare q as select v from " + orders + " where id = 2;\n"
             "discard all;\n"
             "execute q;\n"
             "do $$ begin null; end $$;\n"
             "select 'last';\n");
  const ProcResult r = run_process({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=0", "-f", script,
                                    Conninfo(ClientCert::Spiffe)},
                                   std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "start\nafter-unknown\nv1\nlast\n") << r.describe();
  for (const std::string& needle :
       {std::string("42501: segproxy: EXECUTE of prepared statement \"nope\""),
        std::string("42501: segproxy: EXECUTE of prepared statement \"p\""),
        std::string("42501: segproxy: EXECUTE of prepared statement \"q\""),
        std::string("may not run anonymous_code (DO)")}) {
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing in stderr: " << needle << "\n" << r.describe();
  }
}

}  // namespace
}  // namespace segproxy::it
