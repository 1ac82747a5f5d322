// pgbench through the proxy in every query mode. pgbench's tables have fixed names
// (pgbench_*), so these tests hold the ctest RESOURCE_LOCK "pgbench".
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

using PgbenchThroughProxy = ProxyTest;

ProcResult pgbench(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"pgbench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(240));
}

// pgbench 15 prints "number of failed transactions: N (x%)".
long failed_transactions(const std::string& out) {
  std::smatch m;
  static const std::regex re(R"(number of failed transactions: (\d+))");
  if (!std::regex_search(out, m, re)) return -1;
  return std::stol(m[1].str());
}

long processed_transactions(const std::string& out) {
  std::smatch m;
  static const std::regex re(R"(number of transactions actually processed: (\d+))");
  if (!std::regex_search(out, m, re)) return -1;
  return std::stol(m[1].str());
}

// DataRows checked against their RowDescription, summed over the sessions' close lines.
long rows_checked(const std::string& log) {
  static const std::regex re(R"(datarows_checked=(\d+))");
  long sum = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it)
    sum += std::stol((*it)[1].str());
  return sum;
}

// pgbench -i -s 1, then the builtin script (tpcb-like or select-only) with 8 clients x
// 50 transactions in the given query mode (-M simple | extended | prepared).
void run_builtin(const std::string& conninfo, const std::string& mode, bool select_only) {
  // Leftover pgbench tables owned by someone else (a test that initialised them as the
  // superuser and died) would make billing_rw's `pgbench -i` fail: drop them first.
  const ProcResult clean = pgbench({"-i", "-I", "d", env().superuser_conninfo()});
  ASSERT_EQ(clean.exit_code, 0) << clean.describe();
  const ProcResult init = pgbench({"-i", "-s", "1", "-q", conninfo});
  ASSERT_EQ(init.exit_code, 0) << "pgbench -i failed\n" << init.describe();

  std::vector<std::string> args{"-M", mode, "-c", "8", "-j", "2", "-t", "50", "-n"};
  if (select_only) args.push_back("-S");
  args.push_back(conninfo);
  const ProcResult run = pgbench(args);
  EXPECT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_EQ(failed_transactions(run.out), 0) << run.describe();
  EXPECT_EQ(processed_transactions(run.out), 8 * 50) << run.describe();

  const ProcResult drop = pgbench({"-i", "-I", "d", conninfo});
  EXPECT_EQ(drop.exit_code, 0) << drop.describe();
}

TEST_F(PgbenchThroughProxy, TpcbLikeSimpleProtocolHasNoFailedTransactions) {
  run_builtin(Conninfo(ClientCert::Spiffe), "simple", false);
}

TEST_F(PgbenchThroughProxy, TpcbLikeExtendedProtocolHasNoFailedTransactions) {
  run_builtin(Conninfo(ClientCert::Spiffe), "extended", false);
}

TEST_F(PgbenchThroughProxy, TpcbLikePreparedStatementsHaveNoFailedTransactions) {
  run_builtin(Conninfo(ClientCert::Spiffe), "prepared", false);
}

TEST_F(PgbenchThroughProxy, SelectOnlySimpleProtocolHasNoFailedTransactions) {
  run_builtin(Conninfo(ClientCert::Spiffe), "simple", true);
}

// Issue 12 leftovers (ResultShape): every extended-protocol transaction's row is checked
// against the RowDescription of its portal (Describe, then Execute of the same portal),
// in every batch of a session, not only up to the first one's ReadyForQuery: at least
// the 8 x 50 rows of the run (each session's close line counts them).
void expect_every_row_checked(const ProxyProcess& proxy) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (rows_checked(proxy.log()) < 8 * 50 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(rows_checked(proxy.log()), 8 * 50) << "rows of extended batches went unchecked";
}

TEST_F(PgbenchThroughProxy, SelectOnlyExtendedProtocolHasNoFailedTransactionsAndEveryRowIsChecked) {
  run_builtin(Conninfo(ClientCert::Spiffe), "extended", true);
  expect_every_row_checked(proxy_);
}

TEST_F(PgbenchThroughProxy, SelectOnlyPreparedStatementsHaveNoFailedTransactionsAndEveryRowIsChecked) {
  run_builtin(Conninfo(ClientCert::Spiffe), "prepared", true);
  expect_every_row_checked(proxy_);
}

}  // namespace
}  // namespace segproxy::it
