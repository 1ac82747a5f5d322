// sysbench through the proxy (issue 6): oltp_point_select and oltp_read_write with
// prepared statements (--db-ps-mode=auto, binary protocol) and without (disable, text
// protocol), 4 threads, over mTLS with the policy and audit on: no failed statement (a
// sysbench run exits non-zero on one), zero reconnects, and the work really ran.
#include <gtest/gtest.h>

#include "support/audit_support.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

// What sysbench needs and nothing more: its own tables, DDL to create and drop them,
// transactions, prepared statements.
const char* kSysbenchPolicy =
    "    rules:\n"
    "      - {id: sysbench, tables: [\"shop.sbtest*\"], allow: [all]}\n"
    "    statements: [transaction, session_safe, prepare, ddl]\n";

class MysqlSysbench : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    MysqlProxyOptions opts;
    opts.billing_policy = kSysbenchPolicy;
    opts.log_level = "info";
    opts.extra_yaml = audit_yaml(dir_ + "/audit");
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  void Run(const std::string& test, const std::string& ps_mode) {
    SysbenchOptions o;
    o.test = test;
    o.tables = 1;
    o.table_size = 2000;
    o.threads = 4;
    o.time_s = 4;
    o.ps_mode = ps_mode;
    o.command = "cleanup";
    run_sysbench(Target(ClientCert::Spiffe), o);
    o.command = "prepare";
    const ProcResult prep = run_sysbench(Target(ClientCert::Spiffe), o);
    ASSERT_EQ(prep.exit_code, 0) << prep.describe();
    o.command = "run";
    const ProcResult run = run_sysbench(Target(ClientCert::Spiffe), o);
    o.command = "cleanup";
    run_sysbench(Target(ClientCert::Spiffe), o);
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const SysbenchCounts c = parse_sysbench(run.out);
    EXPECT_GT(c.transactions, 0) << run.out;
    // sysbench fails the run on any error it does not ignore; it ignores only deadlocks and
    // lock-wait timeouts (1213, 1205, 1020), which concurrent read_write transactions may
    // hit against MariaDB directly too. A read-only workload has none.
    if (test == "oltp_point_select") {
      EXPECT_EQ(c.ignored_errors, 0) << run.out;
    }
    EXPECT_EQ(c.reconnects, 0) << run.out;
    std::cout << "[ figure ] " << test << " --db-ps-mode=" << ps_mode << ": " << c.transactions
              << " transactions in " << o.time_s << " s through segproxy\n";
  }
};

TEST_F(MysqlSysbench, PointSelectPreparedRunsWithoutErrors) { Run("oltp_point_select", "auto"); }
TEST_F(MysqlSysbench, PointSelectTextRunsWithoutErrors) { Run("oltp_point_select", "disable"); }
TEST_F(MysqlSysbench, ReadWritePreparedRunsWithoutErrors) { Run("oltp_read_write", "auto"); }
TEST_F(MysqlSysbench, ReadWriteTextRunsWithoutErrors) { Run("oltp_read_write", "disable"); }

}  // namespace
}  // namespace segproxy::it
