// The write-ahead audit rule on the MySQL path when records cannot be written or are
// slow to become durable (issue 14, docs/audit.md "The guarantee" 4 and 5), against the
// real MariaDB with `durability: group`, `on_failure: fail_closed`, `statement_text:
// full`. The twins of the PostgreSQL tests in pg_wal_test.cpp:
//  - the audit disk fills in the middle of a transaction: the COMMIT is refused with
//    ER_ERROR_ON_WRITE (1026) and rolled back, nothing runs unrecorded while the disk is
//    full (in this session or a new one), and the same session writes again once space
//    returns;
//  - a command held for its record (the writer stopped with ptrace) and killed by KILL
//    QUERY from another connection through the proxy gets ER_QUERY_INTERRUPTED (1317)
//    at once, is never run, and its decision record still reaches the log.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>

#include "support/audit_failure.hpp"
#include "support/audit_support.hpp"
#include "support/ctl.hpp"
#include "support/env.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

constexpr int kErrorOnWrite = 1026;     // ER_ERROR_ON_WRITE: the audit log cannot record it
constexpr int kQueryInterrupted = 1317;  // ER_QUERY_INTERRUPTED

// Allowed decision records whose statement text is exactly `text`.
std::size_t decisions_of(const AuditLog& log, const std::string& text) {
  return records_where(log, [&](const audit::AuditRecord& r) {
           return r.event == "statement.decision" && r.decision == "allow" && r.statement == text;
         }).size();
}

// `sql` run on its own thread (Connector/C++ blocks until the answer).
std::future<MyResult> exec_async(sql::Connection* conn, std::string sql) {
  return std::async(std::launch::async, [conn, sql = std::move(sql)] {
    my_thread_init();
    MyResult r = mysql_exec(conn, sql);
    my_thread_end();
    return r;
  });
}

class MysqlWalFailure : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    audit_dir_ = dir_ + "/audit";
    socket_ = dir_ + "/admin.sock";
    table_ = unique_name("wal_fail");
    MyError err;
    root_ = mysql_connect(my_superuser_target(), &err);
    ASSERT_TRUE(root_) << err.describe();
    ASSERT_TRUE(mysql_exec(root_.get(), "CREATE TABLE " + table_ +
                                            " (id BIGINT PRIMARY KEY, kind VARCHAR(16)) ENGINE=InnoDB")
                    .ok);
    ASSERT_TRUE(mysql_exec(root_.get(), "GRANT ALL ON shop." + table_ + " TO billing_rw@'%'").ok);
  }
  void TearDown() override {
    proxy_.stop();
    disk_.unmount();
    if (root_) mysql_exec(root_.get(), "DROP TABLE IF EXISTS " + table_);
    MysqlProxyTest::TearDown();
  }
  // Audit options `audit_extra`; an admin socket (`segproxyctl sessions`).
  void Start(const std::string& audit_extra) {
    MysqlProxyOptions opts;
    opts.log_level = "info";
    opts.extra_yaml = audit_yaml(audit_dir_, audit_extra) + "admin: {socket: \"" + socket_ + "\"}\n";
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  // The audit directory on a 64 KiB tmpfs (skips the test when it cannot be mounted).
  void UseSmallDisk() {
    std::string why;
    if (!disk_.mount(dir_ + "/walfs", &why)) {
      GTEST_SKIP() << "cannot mount a tmpfs (" << why << "): no way to make the audit log unwritable";
    }
    audit_dir_ = disk_.path() + "/log";
  }
  std::string Insert(long long id, const char* kind, std::size_t comment = 0) const {
    std::string sql = "INSERT INTO " + table_ + " VALUES (" + std::to_string(id) + ", '" + kind + "')";
    if (comment > 0) sql += " /* " + std::string(comment, 'x') + " */";
    return sql;
  }
  std::string Rows() { return mysql_exec(root_.get(), "SELECT count(*) FROM " + table_).value(); }
  bool RowVisible(long long id) {
    const MyResult r = mysql_exec(root_.get(), "SELECT count(*) FROM " + table_ + " WHERE id = " + std::to_string(id));
    return r.ok && r.value() == "1";
  }

  std::string audit_dir_;
  std::string socket_;
  std::string table_;
  std::unique_ptr<sql::Connection> root_;
  SmallTmpfs disk_;
};

// docs/audit.md "The guarantee" 5 and docs/mysql.md: a refused COMMIT is rolled back and
// leaves no aborted state (the refused statement ended the transaction itself).
TEST_F(MysqlWalFailure, CommitIsRefusedWith1026AndRolledBackWhenTheLogFillsMidTransactionAndTheSessionWritesAgainWhenSpaceReturns) {
  ASSERT_NO_FATAL_FAILURE(UseSmallDisk());
  if (IsSkipped()) return;
  // Full text kept whole: the big statements' records need new pages of the log file.
  ASSERT_NO_FATAL_FAILURE(
      Start("statement_text: full, durability: group, on_failure: fail_closed, max_statement_text: 64KiB"));
  MyError err;
  auto c = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(c) << err.describe();
  ASSERT_TRUE(mysql_exec(c.get(), "START TRANSACTION").ok);
  const MyResult in_tx = mysql_exec(c.get(), Insert(1, "tx"));
  ASSERT_TRUE(in_tx.ok) << in_tx.error.describe();
  ASSERT_GT(disk_.fill(), 0u);

  // A commit point waits for every record of the session; its own cannot be written.
  const std::string commit = "COMMIT /* " + std::string(8 * 1024, 'c') + " */";
  const MyResult refused = mysql_exec(c.get(), commit);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error.code, kErrorOnWrite) << refused.error.describe();
  EXPECT_EQ(Rows(), "0") << "a refused COMMIT committed";

  // While the disk is full nothing runs without its record. A 32 KiB record needs more
  // pages than the failed segment's cut-back tail can give back (the tmpfs has 64 KiB).
  const std::string big = Insert(3, "full", 32 * 1024);
  const MyResult no_room = mysql_exec(c.get(), big);
  EXPECT_FALSE(no_room.ok);
  EXPECT_EQ(no_room.error.code, kErrorOnWrite) << no_room.error.describe();
  EXPECT_FALSE(RowVisible(3)) << "a statement ran whose record could not be written";
  // A new session: refused at login (its session.open cannot be made durable), or let in
  // with a durable session.open (small records may fit in a page's tail) and then
  // refused for a statement whose record cannot be written.
  MyError late_err;
  auto late = Connect(ClientCert::Spiffe, &late_err);
  if (!late) {
    EXPECT_EQ(late_err.code, kErrorOnWrite) << late_err.describe();
  } else {
    const MyResult late_big = mysql_exec(late.get(), Insert(4, "full", 32 * 1024));
    EXPECT_FALSE(late_big.ok);
    EXPECT_EQ(late_big.error.code, kErrorOnWrite) << late_big.error.describe();
    EXPECT_FALSE(RowVisible(4)) << "a new session's statement ran without its record";
  }

  // Space again: the writer recovers by itself and the same session writes. Until then
  // every refusal is 1026 (never "transaction aborted": the COMMIT ended the transaction).
  disk_.release();
  MyResult again;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    again = mysql_exec(c.get(), Insert(2, "auto"));
    if (again.ok) break;
    ASSERT_EQ(again.error.code, kErrorOnWrite) << again.error.describe();
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(again.ok) << "writing did not resume: " << again.error.describe();
  EXPECT_EQ(Rows(), "1") << "only the row written after recovery is committed";
  EXPECT_EQ(mysql_exec(c.get(), "SELECT @@in_transaction").value(), "0")
      << "the backend transaction of the refused COMMIT is still open";
  // New sessions are let in again.
  auto next = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(next) << err.describe();
  EXPECT_TRUE(mysql_exec(next.get(), Insert(5, "next")).ok);
  EXPECT_EQ(Rows(), "2");

  c.reset();
  late.reset();
  next.reset();
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const audit::AuditRecord& r) {
    return r.event == "session.close" && r.protocol == "mysql";
  }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_EQ(decisions_of(log, commit), 0u) << "the refused COMMIT's record is in the chain";
  EXPECT_EQ(decisions_of(log, big), 0u) << "the refused statement's record is in the chain";
  EXPECT_EQ(decisions_of(log, Insert(2, "auto")), 1u) << log.describe();
  EXPECT_EQ(decisions_of(log, Insert(5, "next")), 1u) << log.describe();
  EXPECT_FALSE(records_where(log, [](const audit::AuditRecord& r) { return r.event == "audit.resume"; }).empty())
      << "the recovery is not in the log\n"
      << log.describe();
}

// docs/audit.md "The guarantee" 4: a cancel for a held message cancels it in the proxy
// and it is never forwarded; the cancel does not wait for the writer.
TEST_F(MysqlWalFailure, HeldCommandKilledByKillQueryGets1317AtOnceIsNeverRunAndKeepsItsDecisionRecord) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed, max_wait: 10m"));
  MyError err;
  auto victim = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(victim) << err.describe();
  auto killer = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(killer) << err.describe();
  const std::string backend_id = mysql_exec(victim.get(), "SELECT CONNECTION_ID()").value();
  ASSERT_FALSE(backend_id.empty());
  ASSERT_TRUE(mysql_exec(victim.get(), "SELECT count(*) FROM " + table_).ok);
  const pid_t tid = audit_writer_tid(proxy_.pid());
  ASSERT_NE(tid, 0) << "no segproxy-audit thread";
  const std::string held = Insert(7, "held");
  const std::string kill = "KILL QUERY " + backend_id;
  // Declared before the stop: on an early return the writer runs again before a future's
  // destructor waits for its answer.
  std::future<MyResult> answer;
  std::future<MyResult> kill_answer;
  {
    ThreadStop stall(tid);
    if (!stall.stopped()) GTEST_SKIP() << "cannot ptrace the audit writer: " << std::strerror(errno);
    // An autocommit write is a commit point: held until its record is durable.
    answer = exec_async(victim.get(), held);
    // Held: the session lists the INSERT as its statement (set, on the session's thread,
    // just before the hold begins; the listing is answered on that thread).
    bool listed = false;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!listed && std::chrono::steady_clock::now() < deadline) {
      const ProcResult s = run_ctl(socket_, {"sessions", "--json"});
      listed = s.exit_code == 0 && s.out.find("INSERT INTO " + table_) != std::string::npos;
      if (!listed) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(listed) << "the INSERT never reached the proxy";
    ASSERT_EQ(answer.wait_for(0s), std::future_status::timeout) << "the INSERT was answered without its record";
    // The KILL waits for its own record (escaping) while the writer is stopped; the
    // held INSERT is cancelled at once, without the writer.
    kill_answer = exec_async(killer.get(), kill);
    ASSERT_EQ(answer.wait_for(60s), std::future_status::ready)
        << "the held INSERT was not cancelled while the audit writer was stopped";
    const MyResult cancelled = answer.get();
    EXPECT_FALSE(cancelled.ok);
    EXPECT_EQ(cancelled.error.code, kQueryInterrupted) << cancelled.error.describe();
    EXPECT_FALSE(RowVisible(7)) << "a cancelled held command was forwarded";
  }
  // The writer runs again: the KILL is answered, the session is usable, the INSERT never ran.
  ASSERT_EQ(kill_answer.wait_for(60s), std::future_status::ready) << "the KILL QUERY was never answered";
  const MyResult killed = kill_answer.get();
  EXPECT_TRUE(killed.ok) << killed.error.describe();
  const MyResult after = mysql_exec(victim.get(), "SELECT count(*) FROM " + table_);
  ASSERT_TRUE(after.ok) << after.error.describe();
  EXPECT_EQ(after.value(), "0");
  EXPECT_FALSE(RowVisible(7)) << "a cancelled held command was forwarded";

  victim.reset();
  killer.reset();
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const audit::AuditRecord& r) {
    return r.event == "session.close" && r.protocol == "mysql";
  }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_EQ(decisions_of(log, held), 1u) << "the cancelled command's decision record is not in the log\n"
                                         << log.describe();
  EXPECT_EQ(decisions_of(log, kill), 1u) << log.describe();
}

}  // namespace
}  // namespace segproxy::it
