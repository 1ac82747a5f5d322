// The write-ahead audit rule in a real PostgreSQL session (issue 14, docs/audit.md "The
// guarantee"): after a SIGKILL of the proxy under a mixed load every committed row and
// every answer a client received has its decision record and the log verifies; a
// message held for its record and cancelled by a CancelRequest is never forwarded; one
// record per execution. A full audit disk: pg_wal_disk_full_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_wal_fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using audit::AuditRecord;

TEST_F(WalTest, AfterSigkillEveryCommittedRowAndEveryReceivedAnswerHasItsRecord) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed"));
  std::mutex mu;
  std::vector<std::string> answered;  // statement texts whose answer the client received
  std::atomic<long> next_id{1};
  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0};
  auto log_answer = [&](const std::string& sql) {
    std::lock_guard lock(mu);
    answered.push_back(sql);
  };
  std::vector<std::thread> threads;
  // Autocommit writes and reads.
  threads.emplace_back([&] {
    PgConnPtr c = Connect();
    if (PQstatus(c.get()) != CONNECTION_OK) return;
    while (!stop) {
      const long id = next_id++;
      const std::string ins = Insert(id, "auto");
      if (!pg_exec(c.get(), ins).ok) return;
      log_answer(ins);
      const std::string sel = "SELECT count(*) FROM " + probe_ + " WHERE id = " + std::to_string(id);
      if (!pg_exec(c.get(), sel).ok) return;
      log_answer(sel);
      ++rounds;
    }
  });
  // Transactions: COMMIT and ROLLBACK in turn.
  threads.emplace_back([&] {
    PgConnPtr c = Connect();
    if (PQstatus(c.get()) != CONNECTION_OK) return;
    for (long round = 0; !stop; ++round) {
      if (!pg_exec(c.get(), "BEGIN").ok) return;
      const std::string a = Insert(next_id++, "tx");
      const std::string b = Insert(next_id++, "tx");
      if (!pg_exec(c.get(), a).ok || !pg_exec(c.get(), b).ok) return;
      log_answer(a);
      log_answer(b);
      if (!pg_exec(c.get(), round % 2 == 0 ? "COMMIT" : "ROLLBACK").ok) return;
      ++rounds;
    }
  });
  // Prepared executions (extended protocol).
  const std::string prepared = "INSERT INTO " + probe_ + " VALUES ($1, 'prep')";
  threads.emplace_back([&] {
    PgConnPtr c = Connect();
    if (PQstatus(c.get()) != CONNECTION_OK) return;
    PGresult* p = PQprepare(c.get(), "ins", prepared.c_str(), 1, nullptr);
    const bool ok = PQresultStatus(p) == PGRES_COMMAND_OK;
    PQclear(p);
    if (!ok) return;
    while (!stop) {
      const std::string id = std::to_string(next_id++);
      const char* values[1] = {id.c_str()};
      PGresult* r = PQexecPrepared(c.get(), "ins", 1, values, nullptr, nullptr, 0);
      const bool done = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
      if (!done) return;
      ++rounds;
    }
  });

  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rounds.load() < 200 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GT(rounds.load(), 0) << "no statement went through the proxy";
  ASSERT_EQ(::kill(proxy_.pid(), SIGKILL), 0);
  stop = true;
  for (auto& t : threads) t.join();
  for (int i = 0; i < 100 && proxy_.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(proxy_.running());

  // The log verifies (a torn tail is allowed), by the operator's own tool too.
  const ProcResult verify = run_process({env().segproxyctl_bin, "audit", "verify", audit_dir_}, std::chrono::seconds(60));
  EXPECT_TRUE(verify.exit_code == 0 || verify.exit_code == 3) << verify.describe();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.intact()) << log.result.summary();

  // Every committed row has its record: autocommit and transactional rows by their text,
  // prepared rows by the count of their executions' records.
  PgConnPtr su = superuser_connect();
  ASSERT_EQ(PQstatus(su.get()), CONNECTION_OK);
  PGresult* rows = PQexec(su.get(), ("SELECT id, v FROM public." + probe_ + " ORDER BY id").c_str());
  ASSERT_EQ(PQresultStatus(rows), PGRES_TUPLES_OK);
  long prepared_rows = 0;
  std::size_t missing = 0;
  std::string first_missing;
  for (int i = 0; i < PQntuples(rows); ++i) {
    const long id = std::stol(PQgetvalue(rows, i, 0));
    const std::string kind = PQgetvalue(rows, i, 1);
    if (kind == "prep") {
      ++prepared_rows;
      continue;
    }
    if (count_statement(log, Insert(id, kind.c_str())) == 0) {
      if (missing++ == 0) first_missing = Insert(id, kind.c_str());
    }
  }
  const int committed = PQntuples(rows);
  PQclear(rows);
  EXPECT_EQ(missing, 0u) << "committed rows without a decision record, e.g. " << first_missing;
  EXPECT_GE(static_cast<long>(count_statement(log, prepared)), prepared_rows)
      << "one record per committed execution (its Bind's; the PREPARE's Parse has none)";
  // Every answer the clients received has its record.
  std::size_t unanswered = 0;
  for (const auto& sql : answered)
    if (count_statement(log, sql) == 0) ++unanswered;
  EXPECT_EQ(unanswered, 0u) << "answers received without a decision record";
  std::cerr << "[ wal ] committed rows " << committed << " (prepared " << prepared_rows << "), answers "
            << answered.size() << ", records " << log.records.size() << "\n";
}

TEST_F(WalTest, HeldMessageCancelledByCancelRequestIsNeverForwarded) {
  ASSERT_NO_FATAL_FAILURE(Start("durability: group, on_failure: fail_closed, max_wait: 60s"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  ASSERT_TRUE(pg_exec(c.get(), "SELECT count(*) FROM " + probe_).ok);
  const pid_t tid = audit_writer_tid(proxy_.pid());
  ASSERT_NE(tid, 0) << "no segproxy-audit thread";
  {
    ThreadStop stall(tid);
    if (!stall.stopped()) GTEST_SKIP() << "cannot ptrace the audit writer: " << std::strerror(errno);
    // An autocommit write is a commit point: held until its record is durable.
    ASSERT_EQ(PQsendQuery(c.get(), Insert(7, "held").c_str()), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    PGcancel* cancel = PQgetCancel(c.get());
    ASSERT_NE(cancel, nullptr);
    char errbuf[256] = {0};
    ASSERT_EQ(PQcancel(cancel, errbuf, sizeof errbuf), 1) << errbuf;
    PQfreeCancel(cancel);
    bool timed_out = false;
    PgResultPtr res = pg_wait_result(c.get(), std::chrono::seconds(5), &timed_out);
    ASSERT_FALSE(timed_out) << "the held INSERT was not cancelled within 5 s";
    ASSERT_NE(res, nullptr);
    EXPECT_EQ(sqlstate_of(res.get()), "57014") << PQresultErrorMessage(res.get());
    res.reset();
    pg_drain(c.get());
  }
  // The writer runs again: the session is usable, the cancelled INSERT never ran.
  const QueryOutcome after = pg_exec(c.get(), "SELECT count(*) FROM " + probe_);
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.value, "0");
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + probe_), "0") << "a cancelled held message was forwarded";
}

// Issue 14, volume: a prepared statement is recorded once per execution (by its Bind, for
// the portal's first Execute of the batch), never again for its Parse; a denied Parse
// has its denial record; the log verifies.
TEST_F(WalTest, ExtendedProtocolWritesOneDecisionRecordPerExecutionAndNoneForAnAllowedParse) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed"));
  const std::string select = "SELECT count(*) FROM " + probe_ + " WHERE id = $1";
  const std::string insert = "INSERT INTO " + probe_ + " VALUES ($1, 'prep')";
  const std::string denied = "SELECT * FROM " + pii_;
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    for (int i = 0; i < 3; ++i) {  // Parse, Bind, Describe, Execute, Sync
      const std::string id = std::to_string(i);
      const char* values[1] = {id.c_str()};
      PgResultPtr r(PQexecParams(c.get(), select.c_str(), 1, nullptr, values, nullptr, nullptr, 0));
      ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
    }
    PgResultPtr prep(PQprepare(c.get(), "ins", insert.c_str(), 1, nullptr));  // Parse, Sync: nothing runs
    ASSERT_EQ(PQresultStatus(prep.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
    for (int i = 0; i < 2; ++i) {  // Bind, Describe, Execute, Sync
      const std::string id = std::to_string(100 + i);
      const char* values[1] = {id.c_str()};
      PgResultPtr r(PQexecPrepared(c.get(), "ins", 1, values, nullptr, nullptr, 0));
      ASSERT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
    }
    PgResultPtr bad(PQprepare(c.get(), "bad", denied.c_str(), 0, nullptr));
    EXPECT_EQ(sqlstate_of(bad.get()), "42501") << PQresultErrorMessage(bad.get());
    EXPECT_TRUE(pg_exec(c.get(), "SELECT 1").ok) << "the session stays usable";
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_EQ(count_statement(log, select), 3u) << "one record per PQexecParams\n" << log.describe();
  EXPECT_EQ(count_statement(log, insert), 2u) << "one record per execution, none for the Parse\n" << log.describe();
  EXPECT_EQ(records_where(log, [&](const AuditRecord& r) {
              return r.event == "statement.decision" && r.decision == "deny" && r.statement == denied;
            }).size(),
            1u)
      << log.describe();
}

// The session remembers at most 1,024 statement names (pg_wal.cpp kMaxWalNames): a Parse
// beyond them is recorded at once, with its text, instead of leaving its executions with
// a record that has no text (a client could otherwise hide what it runs behind 1,024
// dummy prepared statements).
TEST_F(WalTest, ParseBeyondTheRememberedStatementNamesIsRecordedWithItsText) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed"));
  const std::string late = "SELECT count(*) + 7 FROM " + probe_ + " WHERE id = $1";
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    for (int i = 0; i < 1024; ++i) {
      const std::string name = "d" + std::to_string(i);
      PgResultPtr r(PQprepare(c.get(), name.c_str(), "SELECT 1", 0, nullptr));
      ASSERT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
    }
    PgResultPtr prep(PQprepare(c.get(), "late", late.c_str(), 1, nullptr));
    ASSERT_EQ(PQresultStatus(prep.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
    const char* values[1] = {"1"};
    PgResultPtr r(PQexecPrepared(c.get(), "late", 1, values, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_GE(count_statement(log, late), 1u) << "the statement's text is in the log\n" << log.describe();
}

// Frontend messages for the raw client (protocol 3.0, no parameters, text results).
std::string fe_frame(char type, const std::string& body) {
  return std::string(1, type) + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}
std::string cstr(const std::string& s) { return s + std::string(1, '\0'); }
std::string parse_msg(const std::string& name, const std::string& sql) {
  return fe_frame('P', cstr(name) + cstr(sql) + std::string(2, '\0'));  // no parameter types
}
std::string bind_msg(const std::string& portal, const std::string& stmt) {
  return fe_frame('B', cstr(portal) + cstr(stmt) + std::string(6, '\0'));  // no formats, parameters, result formats
}
std::string execute_msg(const std::string& portal, std::uint32_t max_rows) {
  return fe_frame('E', cstr(portal) + be32(max_rows));
}

// Every Execute is recorded: a portal resumed by a second row-limited Execute appends the
// statement's record again (the first Execute goes under its Bind's record).
TEST_F(WalTest, ResumedPortalExecuteAppendsTheStatementRecordAgain) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed"));
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    for (long id = 1; id <= 3; ++id) ASSERT_TRUE(pg_exec(c.get(), Insert(id, "row")).ok);
  }
  const std::string select = "SELECT id FROM " + probe_ + " ORDER BY id";
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(parse_msg("", select) + bind_msg("", "") + execute_msg("", 2) + execute_msg("", 2) +
                       fe_frame('S', "")));
  int rows = 0;
  int suspended = 0;
  int completed = 0;
  for (;;) {
    const std::optional<BackendMessage> m = raw.read_message(std::chrono::seconds(30));
    ASSERT_TRUE(m.has_value()) << "no answer to the batch";
    ASSERT_NE(m->type, 'E') << parse_error_fields(m->body)['M'];
    if (m->type == 'D') ++rows;
    if (m->type == 's') ++suspended;
    if (m->type == 'C') ++completed;
    if (m->type == 'Z') break;
  }
  EXPECT_EQ(rows, 3);
  EXPECT_EQ(suspended, 1) << "the first Execute stopped at its row limit";
  EXPECT_EQ(completed, 1);
  raw.send(fe_frame('X', ""));
  raw.close();
  proxy_.stop();  // the decision records were durable before the answers arrived
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_EQ(count_statement(log, select), 2u) << "one record per Execute\n" << log.describe();
}

std::string close_msg(char target, const std::string& name) { return fe_frame('C', std::string(1, target) + cstr(name)); }
std::string query_msg(const std::string& sql) { return fe_frame('Q', cstr(sql)); }

// Review finding (issue 14): a Close of a prepared statement (and a DEALLOCATE of one)
// never left the session's write-ahead name table, so after 1,024 prepare + close the
// table was full and every later statement was "escaping": its Parse recorded at once, its
// execution recorded by a record without its text. Closed and deallocated names now leave
// the table once the backend has run the Close / DEALLOCATE: the next statement is
// recorded the normal way, by its Bind, with its text, and no execution record lacks it.
TEST_F(WalTest, ClosedAndDeallocatedStatementsLeaveTheWriteAheadNameTable) {
  ProxyConfigOptions opts;
  opts.billing_policy = "    rules:\n"
                        "      - {id: orders-rw, tables: [public." + probe_ + "], allow: [select, insert, update]}\n"
                        "    statements: [transaction, session_safe, prepare]\n";
  opts.extra_yaml = audit_yaml(audit_dir_, "statement_text: full, durability: group, on_failure: fail_closed");
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  // Sends a batch and reads its answers up to the `readies`-th ReadyForQuery; no error.
  auto run = [&](const std::string& batch, int readies, int* rows = nullptr) {
    ASSERT_TRUE(raw.send(batch));
    for (int seen = 0; seen < readies;) {
      const std::optional<BackendMessage> m = raw.read_message(std::chrono::seconds(60));
      ASSERT_TRUE(m.has_value()) << "no answer to the batch";
      ASSERT_NE(m->type, 'E') << parse_error_fields(m->body)['M'];
      if (m->type == 'D' && rows != nullptr) ++*rows;
      if (m->type == 'Z') ++seen;
    }
  };
  constexpr int kChunk = 100;
  for (int base = 0; base < 2000; base += kChunk) {  // Parse + Close, 100 per batch
    std::string batch;
    for (int i = base; i < base + kChunk; ++i) {
      const std::string name = "s" + std::to_string(i);
      batch += parse_msg(name, "SELECT 1") + close_msg('S', name);
    }
    ASSERT_NO_FATAL_FAILURE(run(batch + fe_frame('S', ""), 1));
  }
  for (int base = 0; base < 1100; base += kChunk) {  // Parse, then DEALLOCATE in a Query
    std::string batch;
    for (int i = base; i < base + kChunk; ++i) {
      const std::string name = "d" + std::to_string(i);
      batch += parse_msg(name, "SELECT 1") + fe_frame('S', "") + query_msg("DEALLOCATE " + name);
    }
    ASSERT_NO_FATAL_FAILURE(run(batch, 2 * kChunk));
  }
  const std::string late = "SELECT count(*) + 7 FROM " + probe_;
  int rows = 0;
  ASSERT_NO_FATAL_FAILURE(
      run(parse_msg("late", late) + bind_msg("", "late") + execute_msg("", 0) + fe_frame('S', ""), 1, &rows));
  EXPECT_EQ(rows, 1);
  raw.send(fe_frame('X', ""));
  raw.close();
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_EQ(count_statement(log, late), 1u) << "recorded once, by its Bind\n" << log.describe();
  EXPECT_EQ(records_where(log, [](const AuditRecord& r) {
              return r.event == "statement.decision" && r.decision == "allow" && r.statement.empty();
            }).size(),
            0u)
      << "an execution recorded without its text: the statement was escaping\n" << log.describe();
}

}  // namespace
}  // namespace segproxy::it
