// The write-ahead audit rule when the audit log cannot be written (issue 14, docs/audit.md
// "The guarantee" 5 and Gaps): the log on a small tmpfs the test fills (ENOSPC, a real
// write failure). A COMMIT waiting for its records is refused and rolled back; an answer
// whose record failed after its statement was forwarded is replaced by 58030 when the
// backend is idle after it and nothing of its request outlives the failure, otherwise
// the session ends with FATAL 58030; the session recovers with the log.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_wal_fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using audit::AuditRecord;

TEST_F(WalDiskFull, CommitIsRefusedAndRolledBackWhenTheLogFillsMidTransactionAndWritingResumes) {
  // Full text kept whole: the COMMIT's record needs new pages of the log file.
  ASSERT_NO_FATAL_FAILURE(
      Start("statement_text: full, durability: group, on_failure: fail_closed, max_statement_text: 64KiB"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  ASSERT_TRUE(pg_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pg_exec(c.get(), Insert(1, "tx")).ok);
  ASSERT_NO_FATAL_FAILURE(Fill());
  // A commit point waits for every record of the session; its own cannot be written.
  const std::string commit = "COMMIT /* " + std::string(8 * 1024, 'c') + " */";
  QueryOutcome q = pg_exec(c.get(), commit);
  EXPECT_FALSE(q.ok);
  EXPECT_EQ(q.sqlstate, "58030") << q.error;
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE) << "the refused COMMIT rolled its transaction back";
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + probe_), "0") << "a refused COMMIT committed";

  // Space again: the writer recovers and the same session writes.
  disk_.release();
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    q = pg_exec(c.get(), Insert(2, "auto"));
    done = q.ok;
    if (!done) {
      ASSERT_EQ(q.sqlstate, "58030") << q.error;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(done) << q.error;
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + probe_), "1");
  c.reset();
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_TRUE(records_where(log, [&](const AuditRecord& r) { return r.statement == commit; }).empty())
      << "the refused COMMIT's record is in the chain";
}


// A proven read-only statement goes to the backend at once; its answer waits for its
// record. When that record cannot be written the answer never reaches the client: it is
// replaced in place by ERROR 58030 + ReadyForQuery 'I' (the backend is idle, nothing of
// it committed) and the session goes on; it writes again once space returns.
TEST_F(WalDiskFull, AnswerWhoseRecordFailsAfterItsStatementWasForwardedIsReplacedBy58030AndTheSessionGoesOn) {
  // No time-based checkpoint: the first write after the disk fills is the statement's.
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed, "
                                "max_statement_text: 64KiB, checkpoint_every: 0s"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  ASSERT_TRUE(pg_exec(c.get(), "SELECT 1").ok);
  ASSERT_NO_FATAL_FAILURE(Fill());
  // 32 KiB of text: more pages than the failed segment's cut-back tail can give back.
  const std::string read = "SELECT 'answered' /* " + std::string(32 * 1024, 'r') + " */";
  PgResultPtr res(PQexec(c.get(), read.c_str()));
  ASSERT_NE(res, nullptr);
  EXPECT_NE(PQresultStatus(res.get()), PGRES_TUPLES_OK) << "an answer reached the client without its record";
  EXPECT_EQ(sqlstate_of(res.get()), "58030") << PQresultErrorMessage(res.get());
  res.reset();
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << "the session ended instead of the answer being replaced";
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_TRUE(proxy_logged(proxy_, "audit.answer_replaced")) << "the answer was not replaced in place";

  disk_.release();
  bool done = false;
  QueryOutcome q;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    q = pg_exec(c.get(), "SELECT 'after'");
    done = q.ok;
    if (!done) {
      ASSERT_EQ(q.sqlstate, "58030") << q.error;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(done) << "the session does not work after space returned: " << q.error;
  EXPECT_EQ(q.value, "after");
  c.reset();
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_TRUE(records_where(log, [&](const AuditRecord& r) { return r.statement == read; }).empty())
      << "the failed record is in the chain";
  EXPECT_EQ(count_statement(log, "SELECT 'after'"), 1u) << log.describe();
}

// Inside a block the backend's transaction would stay valid while the client is told its
// statement failed: not replaced (docs/audit.md Gaps). The session ends with FATAL 58030
// and closing the backend connection rolls the block back: nothing of it commits.
TEST_F(WalDiskFull, AnswerWhoseRecordFailsInsideABlockEndsTheSessionAndNothingOfTheBlockCommits) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed, "
                                "max_statement_text: 64KiB, checkpoint_every: 0s"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  ASSERT_TRUE(pg_exec(c.get(), "BEGIN").ok);
  ASSERT_TRUE(pg_exec(c.get(), Insert(1, "tx")).ok);
  ASSERT_NO_FATAL_FAILURE(Fill());
  const std::string read = "SELECT 'answered' /* " + probe_ + " " + std::string(32 * 1024, 'r') + " */";
  // The first result is the FATAL (PQexec would return libpq's later "EOF" result).
  ASSERT_EQ(PQsendQuery(c.get(), read.c_str()), 1);
  bool timed_out = false;
  PgResultPtr res = pg_wait_result(c.get(), std::chrono::seconds(60), &timed_out);
  ASSERT_FALSE(timed_out) << "no answer within 60 s";
  ASSERT_NE(res, nullptr);
  EXPECT_NE(PQresultStatus(res.get()), PGRES_TUPLES_OK) << "an answer reached the client without its record";
  EXPECT_EQ(sqlstate_of(res.get()), "58030") << PQresultErrorMessage(res.get());
  res.reset();
  pg_drain(c.get());
  // FATAL: libpq sees the connection end (at the latest on the next command).
  const QueryOutcome after = pg_exec(c.get(), "SELECT 1");
  EXPECT_FALSE(after.ok);
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD) << "the session went on inside a block the backend still holds";
  c.reset();
  disk_.release();
  // The backend rolled the block back (its connection was closed; the text of its last
  // statement names the probe table).
  bool gone = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    gone = SuValue("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE "
                   "'%" + probe_ + "%'") == "0";
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "the block is still open on the backend";
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + probe_), "0") << "a row of the failed block committed";
}

// Review finding (h2): a pipeline INSERT, COMMIT, SELECT in one extended batch (libpq
// pipeline mode, one Sync). The INSERT and the COMMIT wait for their records, which fit
// the one page left on the audit disk; the COMMIT commits the INSERT (a COMMIT executed
// in an extended batch ends its implicit transaction). The SELECT goes out at once and
// its 32 KiB record fails. The answer of the whole batch (one request) used to be
// replaced by ERROR 58030 + ReadyForQuery 'I' with the session going on: the client,
// told its pipeline failed, would retry a write that had committed. The request had a
// lasting effect before the failed record, so the session now ends with FATAL 58030
// (outcome unknown, as for a lost connection). Invariant: a session that goes on after
// being told its pipeline failed has none of the pipeline's writes committed.
TEST_F(WalDiskFull, FailedRecordAfterACommitInTheSameBatchIsNeverReportedAsAFailedBatchOfASessionThatGoesOn) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed, "
                                "max_statement_text: 64KiB, checkpoint_every: 0s"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  ASSERT_TRUE(pg_exec(c.get(), "SELECT 1").ok);
  // One page stays free for the INSERT's and the COMMIT's records, not for the SELECT's.
  {
    std::ofstream reserve(disk_.path() + "/reserve");
    reserve << std::string(4096, 'r');
  }
  ASSERT_NO_FATAL_FAILURE(Fill());
  disk_.release("reserve");
  const std::string insert = Insert(7, "piped");
  const std::string read = "SELECT 'answered' /* " + std::string(32 * 1024, 'r') + " */";
  PGconn* conn = c.get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  ASSERT_EQ(PQsendQueryParams(conn, insert.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(conn, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(conn, read.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(conn), 1);
  // Everything the client gets for the batch, up to its Sync or the connection's end.
  std::vector<std::string> seen;
  bool synced = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!synced && PQstatus(conn) == CONNECTION_OK && std::chrono::steady_clock::now() < until) {
    bool timed_out = false;
    PgResultPtr res = pg_wait_result(conn, std::chrono::seconds(10), &timed_out);
    if (timed_out || (!res && PQstatus(conn) != CONNECTION_OK)) break;
    if (!res) continue;
    const ExecStatusType st = PQresultStatus(res.get());
    if (st == PGRES_PIPELINE_SYNC) synced = true;
    seen.push_back(st == PGRES_FATAL_ERROR ? "E" + sqlstate_of(res.get()) : PQresStatus(st));
  }
  std::string got;
  for (const auto& s : seen) got += s + " ";
  EXPECT_NE(std::find(seen.begin(), seen.end(), "E58030"), seen.end()) << "no 58030 for the batch: " << got;
  EXPECT_EQ(std::find(seen.begin(), seen.end(), "PGRES_TUPLES_OK"), seen.end())
      << "the SELECT's answer reached the client without its record: " << got;
  const bool session_went_on = synced && PQstatus(conn) == CONNECTION_OK;
  c.reset();
  disk_.release();
  const std::string rows = SuValue("SELECT count(*) FROM public." + probe_ + " WHERE id = 7");
  EXPECT_FALSE(session_went_on && rows != "0")
      << "the session went on after its batch was reported failed, but the batch's INSERT committed: " << got;
  EXPECT_FALSE(session_went_on) << "the batch's answer was replaced although its COMMIT had committed: " << got;
  // Once the log writes again (a new session's statement is recorded), it verifies and
  // a committed INSERT has its record.
  bool recovered = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!recovered && std::chrono::steady_clock::now() < deadline) {
    PgConnPtr again = Connect();
    recovered = PQstatus(again.get()) == CONNECTION_OK && pg_exec(again.get(), "SELECT 'after'").ok;
    if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(recovered) << "the log did not recover after space returned";
  proxy_.stop();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  if (rows != "0") {
    EXPECT_GE(count_statement(log, insert), 1u) << "a committed INSERT without its decision record";
  }
}

// Issues 12 / 14 leftovers: a Sync the write-ahead rule refuses (58030) in an extended
// batch the backend has already failed. The batch wrote (an INSERT, recorded before the
// disk fills) and then failed on the backend (22P02 at parse analysis: no record needed);
// a denied Parse behind it appends its denial record (32 KiB of text: it cannot be
// written) and moves the session to discard to the Sync. The Sync is a commit point that
// waits for that record: the write fails and the rule refuses the Sync with 58030, which
// goes as Parse / Bind / Execute / Sync (pg_raise_at_sync); the failed batch skips that up
// to its Sync. Invariants: the client gets ReadyForQuery - never a hang, never a reply to
// a message it did not send or to one the backend skipped -, nothing of the batch
// commits, and the session goes on and recovers with the log.
TEST_F(WalDiskFull, SyncRefusedWith58030InABatchTheBackendFailedIsAnsweredAndNothingUnrecordedReachesTheClient) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed, "
                                "max_statement_text: 64KiB, checkpoint_every: 0s"));
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(parse_packet("", Insert(8, "batch")) + bind_packet("", "") + execute_packet("") +
                       parse_packet("", "select 'a'::int")));
  std::string types;
  std::map<char, std::string> error;
  while (types.size() < 4) {
    const std::optional<BackendMessage> m = raw.read_message(std::chrono::seconds(30));
    ASSERT_TRUE(m.has_value()) << "the batch's replies before the disk fills: " << types;
    types += m->type;
    if (m->type == 'E') error = parse_error_fields(m->body);
  }
  ASSERT_EQ(types, "12CE");
  ASSERT_EQ(error['C'], "22P02") << error['M'];
  ASSERT_NO_FATAL_FAILURE(Fill());
  const std::string denied = "select * from public." + pii_ + " /* " + std::string(32 * 1024, 'r') + " */";
  ASSERT_TRUE(raw.send(parse_packet("", denied) + bind_packet("", "") + execute_packet("") + sync_packet()));
  RawReply r = read_reply(raw, std::chrono::seconds(60));
  RecordProperty("answer", r.types + (r.closed ? " (closed)" : ""));
  ASSERT_TRUE(r.complete) << "no ReadyForQuery within 60 s: " << r.types << (r.closed ? " (closed)" : "");
  EXPECT_EQ(r.types, "Z") << "a reply to a message the client did not send, or to a skipped one: "
                          << (r.error.count('M') ? r.error['M'] : "");
  EXPECT_TRUE(proxy_logged(proxy_, "audit.refused_statement")) << "the Sync was not refused by the rule";
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + probe_), "0") << "the failed batch's INSERT committed";
  // Space again: the same session records and runs its next statement.
  disk_.release();
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(raw.send(query_packet("select 'after'")));
    r = read_reply(raw, std::chrono::seconds(60));
    ASSERT_TRUE(r.complete) << r.types;
    done = r.types == "TDCZ";
    if (!done) {
      ASSERT_EQ(r.error['C'], "58030") << r.types << " " << r.error['M'];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(done) << "the session does not work after space returned";
}

// The same failed batch when the failing record is one of the batch's own forwarded
// messages and the batch wrote before the backend failed it: the request had a lasting
// effect, so its answer cannot be replaced in place and the session ends with FATAL 58030
// (docs/audit.md Gaps) - never a hang, no reply to a message whose record failed, and
// nothing of the batch commits.
TEST_F(WalDiskFull, FailedRecordInABatchTheBackendFailedAfterAWriteEndsWithFatal58030NeverAHang) {
  ASSERT_NO_FATAL_FAILURE(Start("statement_text: full, durability: group, on_failure: fail_closed, "
                                "max_statement_text: 64KiB, checkpoint_every: 0s"));
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  // The INSERT runs (its record is durable first: it writes); the batch then fails on the
  // backend at the Bind of 1/0 (folded while planning). The error is flushed at once.
  ASSERT_TRUE(raw.send(parse_packet("", Insert(9, "batch")) + bind_packet("", "") + execute_packet("") +
                       parse_packet("", "select 1/0") + bind_packet("", "") + execute_packet("")));
  std::string types;
  std::map<char, std::string> error;
  while (types.size() < 5) {
    const std::optional<BackendMessage> m = raw.read_message(std::chrono::seconds(30));
    ASSERT_TRUE(m.has_value()) << "the batch's replies before the disk fills: " << types;
    types += m->type;
    if (m->type == 'E') error = parse_error_fields(m->body);
  }
  ASSERT_EQ(types, "12C1E");
  ASSERT_EQ(error['C'], "22012") << error['M'];
  ASSERT_NO_FATAL_FAILURE(Fill());
  // A statement whose decision record (32 KiB) cannot be written, skipped by the failed
  // batch, then the Sync.
  const std::string read = "select 'unrecorded' /* " + std::string(32 * 1024, 'r') + " */";
  ASSERT_TRUE(raw.send(parse_packet("", read) + bind_packet("", "") + execute_packet("") + sync_packet()));
  RawReply r = read_reply(raw, std::chrono::seconds(60));
  ASSERT_TRUE(r.closed) << "the session went on (or no answer within 60 s): " << r.types;
  EXPECT_EQ(r.types, "E") << "a reply to a message whose record failed reached the client";
  EXPECT_EQ(r.error.count('V') != 0 ? r.error['V'] : r.error['S'], "FATAL") << r.error['M'];
  EXPECT_EQ(r.error['C'], "58030") << r.error['M'];
  raw.close();
  disk_.release();
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + probe_), "0") << "the failed batch's INSERT committed";
}

}  // namespace
}  // namespace segproxy::it
