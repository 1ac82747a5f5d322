// The write-ahead audit rule on the MySQL path (issue 14, docs/audit.md "The
// guarantee"), against the real MariaDB with `durability: group`, `on_failure:
// fail_closed` and `statement_text: full`: every row change the backend committed and
// every answer a client received has its decision record in the log, also after the
// proxy is killed with SIGKILL; an implicit commit (DDL inside a transaction) and a
// prepared execution have their records written before they take effect.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>

#include "support/audit_support.hpp"
#include "support/env.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

// The decision records whose statement text contains `needle`.
std::size_t decisions_naming(const AuditLog& log, const std::string& needle) {
  return records_where(log, [&](const audit::AuditRecord& r) {
           return r.event == "statement.decision" && r.decision == "allow" &&
                  r.statement.find(needle) != std::string::npos;
         }).size();
}

class MysqlWriteAhead : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    audit_dir_ = dir_ + "/audit";
    table_ = unique_name("wal_probe");
    MyError err;
    root_ = mysql_connect(my_superuser_target(), &err);
    ASSERT_TRUE(root_) << err.describe();
    ASSERT_TRUE(mysql_exec(root_.get(), "CREATE TABLE " + table_ +
                                            " (id BIGINT PRIMARY KEY, kind VARCHAR(16)) ENGINE=InnoDB")
                    .ok);
    ASSERT_TRUE(mysql_exec(root_.get(), "GRANT ALL ON shop." + table_ + " TO billing_rw@'%'").ok);
    MysqlProxyOptions opts;
    opts.log_level = "info";
    opts.extra_yaml = audit_yaml(audit_dir_, "statement_text: full, durability: group, on_failure: fail_closed");
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  void TearDown() override {
    if (root_) mysql_exec(root_.get(), "DROP TABLE IF EXISTS " + table_);
    MysqlProxyTest::TearDown();
  }
  // The ids the backend holds (committed), straight from MariaDB.
  std::set<std::string> committed_ids() {
    std::set<std::string> ids;
    const MyResult r = mysql_exec(root_.get(), "SELECT id FROM " + table_);
    EXPECT_TRUE(r.ok) << r.error.describe();
    for (const auto& row : r.rows) ids.insert(row.front());
    return ids;
  }
  bool row_visible(long long id) {
    const MyResult r = mysql_exec(root_.get(), "SELECT count(*) FROM " + table_ + " WHERE id = " + std::to_string(id));
    return r.ok && r.value() == "1";
  }

  std::string audit_dir_;
  std::string table_;
  std::unique_ptr<sql::Connection> root_;
};

// One client of the mixed load: autocommit inserts, transactions that COMMIT or ROLL
// BACK, reads and prepared executions, every id unique (thread * 1e6 + n). What the
// client received an answer for is logged (the statement text that names it).
struct LoadClient {
  int thread = 0;
  std::vector<std::string> answered;  // texts whose answer (OK / rows) arrived
  std::vector<std::string> prepared;  // ... of which prepared executions (PREPARE + EXECUTE records)
  std::string error;

  void run(const MyTarget& target, const std::string& table, const std::atomic<bool>& stop) {
    my_thread_init();
    MyError err;
    auto conn = mysql_connect(target, &err);
    if (!conn) {
      error = err.describe();
      my_thread_end();
      return;
    }
    long long n = static_cast<long long>(thread) * 1000000;
    try {
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      while (!stop.load()) {
        const std::string a = std::to_string(++n);
        const std::string ins = "INSERT INTO " + table + " VALUES (" + a + ", 'auto')";
        st->execute(ins);
        answered.push_back(ins);
        const std::string b = std::to_string(++n), c = std::to_string(++n);
        st->execute("START TRANSACTION");
        const std::string tb = "INSERT INTO " + table + " VALUES (" + b + ", 'tx')";
        st->execute(tb);
        answered.push_back(tb);
        const std::string tc = "INSERT INTO " + table + " VALUES (" + c + ", 'tx2')";
        st->execute(tc);
        answered.push_back(tc);
        // Every third transaction rolls back (c: its row never commits), the others commit.
        if (n % 3 == 0) {
          st->execute("ROLLBACK");
        } else {
          st->execute("COMMIT");
        }
        const std::string read = "SELECT kind FROM " + table + " WHERE id = " + a;
        std::unique_ptr<sql::ResultSet> rs(st->executeQuery(read));
        while (rs->next()) {
        }
        answered.push_back(read);
        const std::string p = std::to_string(++n);
        const std::string prep_text = "INSERT INTO " + table + " VALUES (" + p + ", 'prepared')";
        std::unique_ptr<sql::PreparedStatement> ps(conn->prepareStatement(prep_text));
        ps->execute();
        answered.push_back(prep_text);
        prepared.push_back(prep_text);
      }
    } catch (const sql::SQLException& e) {
      error = e.what();  // the proxy was killed (expected)
    }
    conn.reset();
    my_thread_end();
  }
};

TEST_F(MysqlWriteAhead, AfterSigkillEveryCommittedRowAndEveryReceivedAnswerHasItsRecordAndTheLogVerifies) {
  constexpr int kClients = 4;
  std::vector<LoadClient> clients(kClients);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const MyTarget target = Target(ClientCert::Spiffe);
  for (int i = 0; i < kClients; ++i) {
    clients[static_cast<std::size_t>(i)].thread = i + 1;
    threads.emplace_back([&, i] { clients[static_cast<std::size_t>(i)].run(target, table_, stop); });
  }
  // Kill the proxy in the middle of the load (no clean shutdown, no final flush).
  std::this_thread::sleep_for(2500ms);
  ASSERT_EQ(::kill(proxy_.pid(), SIGKILL), 0);
  stop = true;
  for (auto& t : threads) t.join();
  proxy_.stop();

  const AuditLog log = read_audit_log(audit_dir_);
  const auto status = log.result.status;
  EXPECT_TRUE(status == audit::VerifyStatus::ok || status == audit::VerifyStatus::torn_tail) << log.describe();
  // segproxyctl audit verify: 0 ok, 3 torn tail only.
  const ProcResult verify = run_process({env().segproxyctl_bin, "audit", "verify", audit_dir_}, 30s);
  EXPECT_TRUE(verify.exit_code == 0 || verify.exit_code == 3) << verify.describe();

  std::set<std::string> texts;
  for (const auto& r : log.records) {
    if (r.event == "statement.decision" && r.decision == "allow") texts.insert(r.statement);
  }
  std::size_t answers = 0;
  for (const auto& c : clients) {
    for (const auto& a : c.answered) {
      ++answers;
      EXPECT_TRUE(texts.count(a) == 1) << "answer received without its record: " << a;
    }
    for (const auto& p : c.prepared) {
      EXPECT_GE(decisions_naming(log, p), 2u) << "a prepared execution without its own record: " << p;
    }
  }
  EXPECT_GT(answers, 20u) << "the load did not run";
  // Every committed id has a record naming it (an autocommit insert, a committed
  // transaction's insert, a prepared execution).
  const std::set<std::string> ids = committed_ids();
  EXPECT_FALSE(ids.empty());
  for (const auto& id : ids) {
    const std::string needle = "VALUES (" + id + ",";
    EXPECT_GE(decisions_naming(log, needle), 1u) << "committed id " << id << " has no record";
  }
}

TEST_F(MysqlWriteAhead, ImplicitCommitOfDdlInATransactionHappensOnlyAfterTheSessionsRecordsAreInTheLog) {
  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  for (int i = 1; i <= 10; ++i) {
    const long long id = 5000000 + i;
    ASSERT_TRUE(mysql_exec(conn.get(), "START TRANSACTION").ok);
    const std::string ins = "INSERT INTO " + table_ + " VALUES (" + std::to_string(id) + ", 'ddl')";
    ASSERT_TRUE(mysql_exec(conn.get(), ins).ok);
    EXPECT_FALSE(row_visible(id)) << "the transaction is still open";
    // The DDL commits the transaction implicitly (before it runs): run it in the
    // background and watch the backend for the moment the row is committed.
    const std::string ddl = "ALTER TABLE " + table_ + " COMMENT = 'wal " + std::to_string(i) + "'";
    std::atomic<bool> done{false};
    std::thread t([&] {
      my_thread_init();
      mysql_exec(conn.get(), ddl);
      done = true;
      my_thread_end();
    });
    bool visible = false;
    while (!(visible = row_visible(id)) && !done.load()) std::this_thread::sleep_for(200us);
    // Committed: the insert's and the DDL's records are already in the log.
    const AuditLog log = read_audit_log(audit_dir_);
    t.join();
    ASSERT_TRUE(visible || row_visible(id)) << "the DDL did not commit the insert";
    EXPECT_EQ(decisions_naming(log, ins), 1u) << log.describe();
    EXPECT_EQ(decisions_naming(log, ddl), 1u) << "the implicit commit ran before its record\n" << log.describe();
  }
}

TEST_F(MysqlWriteAhead, EveryPreparedExecutionHasItsOwnDecisionRecordBeforeItRuns) {
  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  const std::string text = "INSERT INTO " + table_ + " VALUES (?, 'prepared')";
  std::unique_ptr<sql::PreparedStatement> ps(conn->prepareStatement(text));
  for (int i = 1; i <= 3; ++i) {
    const long long id = 7000000 + i;
    ps->setInt64(1, id);
    ASSERT_FALSE(ps->execute());
    ASSERT_TRUE(row_visible(id));
    // The PREPARE's record and one per execution so far, each written before it ran
    // (the row is committed: autocommit writes wait for their record).
    const AuditLog log = read_audit_log(audit_dir_);
    EXPECT_EQ(decisions_naming(log, text), static_cast<std::size_t>(1 + i)) << log.describe();
  }
}

}  // namespace
}  // namespace segproxy::it
