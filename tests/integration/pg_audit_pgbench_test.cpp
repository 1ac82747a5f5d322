// kill -9 of an audited proxy under load (pgbench select-only, 4 clients) while a libpq
// client loops INSERTs through it: the log verifies (at worst a torn tail, never
// tampering), every INSERT the server committed has its statement.decision allow record
// (records were durable before forwarding), and a restarted proxy continues the chain.
// pgbench's tables have fixed names: integration_pg_bench, RESOURCE_LOCK pgbench.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "audit/verifier.hpp"
#include "support/audit_support.hpp"

namespace segproxy::it {
namespace {

using audit::AuditRecord;

constexpr const char* kHitsInsert = "INSERT INTO it_audit_hits DEFAULT VALUES";

ProcResult pgbench(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  std::vector<std::string> argv{"pgbench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, timeout);
}

class AuditKill : public PolicyTest {
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
    tables_.push_back("it_audit_hits");  // dropped by PolicyTest::TearDown
    ASSERT_NO_FATAL_FAILURE(Su("DROP TABLE IF EXISTS public.it_audit_hits"));
    ASSERT_NO_FATAL_FAILURE(Su("CREATE TABLE public.it_audit_hits (id serial)"));
    ASSERT_NO_FATAL_FAILURE(Su("GRANT ALL ON public.it_audit_hits TO billing_rw"));
    ASSERT_NO_FATAL_FAILURE(Su("GRANT USAGE ON SEQUENCE public.it_audit_hits_id_seq TO billing_rw"));
    audit_dir_ = dir_ + "/audit";
  }
  void TearDown() override {
    proxy_.stop();
    if (initialised_) {
      const ProcResult drop = pgbench({"-i", "-I", "d", env().superuser_conninfo()});
      EXPECT_EQ(drop.exit_code, 0) << drop.describe();
    }
    PolicyTest::TearDown();
  }

  void Start() {
    ProxyConfigOptions opts;
    opts.billing_policy =
        "    rules:\n"
        "      - {id: bench-read, tables: [public.pgbench_accounts, public.pgbench_branches], allow: [select]}\n"
        "      - {id: hits, tables: [public.it_audit_hits], allow: [insert]}\n";
    opts.extra_yaml = audit_yaml(audit_dir_, "durability: group, on_failure: fail_closed");
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }

  bool initialised_ = false;
  std::string audit_dir_;
};

TEST_F(AuditKill, Kill9UnderLoadLeavesAnIntactLogWithARecordForEveryExecutedStatement) {
  ASSERT_NO_FATAL_FAILURE(Start());
  PgConnPtr hits_conn = Connect();
  ASSERT_PG_CONNECTED(hits_conn);

  ProcResult bench;
  std::thread bench_thread([&] {
    bench = pgbench({"-M", "simple", "-S", "-n", "-c", "4", "-j", "2", "-T", "3", Conninfo(ClientCert::Spiffe)},
                    std::chrono::seconds(60));
  });
  std::atomic<long> client_ok{0};
  std::string hits_error;
  std::thread hits_thread([&] {
    const auto stop_at = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < stop_at) {
      const QueryOutcome q = pg_exec(hits_conn.get(), kHitsInsert);
      if (!q.ok) {
        hits_error = q.error;
        return;
      }
      ++client_ok;
    }
    hits_error = "the proxy was not killed within 15 s";
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const long ok_before_kill = client_ok.load();
  ASSERT_EQ(::kill(proxy_.pid(), SIGKILL), 0);
  hits_thread.join();
  bench_thread.join();
  for (int i = 0; i < 100 && proxy_.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(proxy_.running());
  EXPECT_GT(ok_before_kill, 0) << "no INSERT succeeded through the proxy before the kill: " << hits_error;
  // The loop ended because the connection broke (libpq: "SSL SYSCALL error: EOF detected"
  // or "server closed the connection"), not by its own deadline.
  EXPECT_FALSE(hits_error.empty());
  EXPECT_EQ(hits_error.find("not killed"), std::string::npos) << hits_error;
  EXPECT_EQ(PQstatus(hits_conn.get()), CONNECTION_BAD) << hits_error;

  // Integrity: a crash may tear the last line, nothing else.
  const audit::VerifyResult v = audit::verify(audit_dir_);
  EXPECT_TRUE(v.status == audit::VerifyStatus::ok || v.status == audit::VerifyStatus::torn_tail) << v.summary();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.intact()) << log.result.summary();
  ASSERT_FALSE(log.records.empty());
  for (std::size_t i = 0; i < log.records.size(); ++i) ASSERT_EQ(log.records[i].seq, i + 1);

  // Completeness: committed INSERTs <= their allow records <= committed + the one in flight.
  const long committed = std::stol(SuValue("SELECT count(*) FROM public.it_audit_hits"));
  const long ok = client_ok.load();
  const auto allows = records_where(log, [](const AuditRecord& r) {
    return r.event == "statement.decision" && r.decision == "allow" && r.statement == kHitsInsert;
  });
  const long recorded = static_cast<long>(allows.size());
  EXPECT_LE(ok, committed);
  EXPECT_LE(committed, ok + 1);
  EXPECT_LE(committed, recorded) << "INSERTs the server executed without a durable audit record";
  EXPECT_LE(recorded, committed + 1) << "more allow records than executions plus the one in flight";
  for (const auto& r : allows) {
    EXPECT_EQ(r.session_id, allows.front().session_id);
    EXPECT_EQ(r.spiffe_id, "spiffe://example.org/ns/billing/sa/api");
    EXPECT_EQ(r.rule_id, "hits");
  }
  // pgbench's statements were audited too.
  const auto bench_decisions = records_where(log, [](const AuditRecord& r) {
    return r.event == "statement.decision" && r.statement.find("pgbench_accounts") != std::string::npos;
  });
  EXPECT_GT(bench_decisions.size(), 0u) << bench.describe();
  const auto opens = records_where(log, [](const AuditRecord& r) { return r.event == "session.open"; });
  EXPECT_GE(opens.size(), 5u) << "pgbench's 4 sessions and the INSERT loop";
  std::cerr << "[ audit ] client ok " << ok << ", committed " << committed << ", recorded " << recorded
            << ", records " << log.records.size() << ", pgbench decisions " << bench_decisions.size() << ", "
            << v.summary() << "\n";

  // A restarted proxy continues the same chain (torn tail truncated, audit.start without genesis).
  hits_conn.reset();
  ASSERT_NO_FATAL_FAILURE(Start());
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    EXPECT_TRUE(pg_exec(c.get(), kHitsInsert).ok);
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  EXPECT_EQ(proxy_.stop(), "exited with status 0");
  const AuditLog after = read_audit_log(audit_dir_);
  ASSERT_TRUE(after.result.ok()) << after.result.summary();
  const auto starts = records_where(after, [](const AuditRecord& r) { return r.event == "audit.start"; });
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_FALSE(starts[0].genesis.empty());
  EXPECT_TRUE(starts[1].genesis.empty());
  EXPECT_EQ(std::stol(SuValue("SELECT count(*) FROM public.it_audit_hits")),
            static_cast<long>(records_where(after, [](const AuditRecord& r) {
                                return r.event == "statement.decision" && r.decision == "allow" &&
                                       r.statement == kHitsInsert;
                              }).size()) -
                (recorded - committed));
}

}  // namespace
}  // namespace segproxy::it
