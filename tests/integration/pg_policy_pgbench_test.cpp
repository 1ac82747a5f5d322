// pgbench through a proxy whose policy grants exactly what the select-only script
// needs (select on pgbench_accounts, and on pgbench_branches, which pgbench counts at
// start): no failed transactions in the simple and the extended protocol; the tpcb-like
// script (which writes) is refused and changes nothing. pgbench's tables have fixed names
// (pgbench_*), so this runs in integration_pg_bench under RESOURCE_LOCK pgbench. The
// tables are created by the superuser directly on the server (the policy grants no DDL).
#include <gtest/gtest.h>

#include <regex>

#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

ProcResult pgbench(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"pgbench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(120));
}

long count_of(const std::string& out, const std::regex& re) {
  std::smatch m;
  if (!std::regex_search(out, m, re)) return -1;
  return std::stol(m[1].str());
}

long failed_transactions(const std::string& out) {
  static const std::regex re(R"(number of failed transactions: (\d+))");
  return count_of(out, re);
}

long processed_transactions(const std::string& out) {
  static const std::regex re(R"(number of transactions actually processed: (\d+))");
  return count_of(out, re);
}

class PolicyPgbench : public PolicyTest {
 protected:
  void SetUp() override {
    PolicyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const ProcResult init = pgbench({"-i", "-s", "1", "-q", env().superuser_conninfo()});
    ASSERT_EQ(init.exit_code, 0) << "pgbench -i as the superuser failed\n" << init.describe();
    initialised_ = true;
    for (const char* t : {"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"}) {
      ASSERT_NO_FATAL_FAILURE(Su(std::string("GRANT ALL ON public.") + t + " TO billing_rw"));
    }
    ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(
        "    rules:\n"
        "      - {id: bench-read, tables: [public.pgbench_accounts, public.pgbench_branches], allow: [select]}\n"));
  }
  void TearDown() override {
    if (initialised_) {
      const ProcResult drop = pgbench({"-i", "-I", "d", env().superuser_conninfo()});
      EXPECT_EQ(drop.exit_code, 0) << drop.describe();
    }
    PolicyTest::TearDown();
  }

  void RunSelectOnly(const std::string& mode) {
    // -n: no vacuum (it would need maintain on the other tables). Before running, pgbench
    // 15 counts pgbench_branches (always) and reads the catalog for partitioning.
    const ProcResult run =
        pgbench({"-M", mode, "-S", "-n", "-c", "4", "-j", "2", "-T", "3", Conninfo(ClientCert::Spiffe)});
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(failed_transactions(run.out), 0) << run.describe();
    EXPECT_GT(processed_transactions(run.out), 0) << run.describe();
    EXPECT_EQ(run.err.find("segproxy:"), std::string::npos) << run.describe();
  }

  bool initialised_ = false;
};

TEST_F(PolicyPgbench, SelectOnlySimpleProtocolWithMinimalGrantHasNoFailedTransactions) {
  RunSelectOnly("simple");
}

TEST_F(PolicyPgbench, SelectOnlyExtendedProtocolWithMinimalGrantHasNoFailedTransactions) {
  RunSelectOnly("extended");
}

TEST_F(PolicyPgbench, TpcbLikeIsRefusedAndChangesNothing) {
  const ProcResult run =
      pgbench({"-M", "extended", "-n", "-c", "2", "-j", "1", "-t", "5", Conninfo(ClientCert::Spiffe)});
  EXPECT_NE(run.exit_code, 0) << run.describe();
  // The first refusal is BEGIN (no `transaction` class); the updates would be next.
  EXPECT_NE(run.err.find("segproxy: segment \"billing\" may not"), std::string::npos) << run.describe();
  EXPECT_EQ(processed_transactions(run.out), 0) << run.describe();
  EXPECT_EQ(SuValue("SELECT sum(abalance) FROM public.pgbench_accounts"), "0");
  EXPECT_EQ(SuValue("SELECT count(*) FROM public.pgbench_history"), "0");
}

}  // namespace
}  // namespace segproxy::it
