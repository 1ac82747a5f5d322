// Segment policies enforced through real libpq clients: allowed statements reach the
// backend and return data; refused ones come back as ErrorResponse 42501 raised by the
// backend itself, so the session continues and transactions fail as PostgreSQL's own
// errors would make them fail, in the simple and in the extended protocol (pipelines).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

using PolicyEnforcement = PolicyTest;
using Clock = std::chrono::steady_clock;

// The error of a PQexec / PQprepare / PQexecParams result (fields empty if it succeeded).
struct Refusal {
  ExecStatusType status = PGRES_FATAL_ERROR;
  ErrorFields f;
  std::string text;  // PQresultErrorMessage
};

Refusal refusal_of(PGresult* raw) {
  PgResultPtr res(raw);
  Refusal r;
  r.status = PQresultStatus(res.get());
  r.f = error_fields(res.get());
  r.text = PQresultErrorMessage(res.get());
  return r;
}

Refusal exec(PGconn* conn, const std::string& sql) { return refusal_of(PQexec(conn, sql.c_str())); }

class PolicyEnforcementOrders : public PolicyTest {
 protected:
  void SetUp() override {
    PolicyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    orders_ = unique_name("it_pol_orders");
    pii_ = unique_name("it_pol_pii");
    ASSERT_NO_FATAL_FAILURE(CreateTable(orders_, 3));
    ASSERT_NO_FATAL_FAILURE(CreateTable(pii_, 2));
    ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(orders_, pii_)));
    conn_ = Connect();
    ASSERT_PG_CONNECTED(conn_);
  }
  void TearDown() override {
    conn_.reset();
    PolicyTest::TearDown();
  }

  std::string orders_;
  std::string pii_;
  PgConnPtr conn_;
};

TEST_F(PolicyEnforcementOrders, AllowedStatementsPassAndReturnData) {
  QueryOutcome q = pg_exec(conn_.get(), "SELECT v FROM " + orders_ + " WHERE id = 2");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "v2");
  q = pg_exec(conn_.get(), "SELECT count(*) FROM public." + orders_);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "3");
  q = pg_exec(conn_.get(), "INSERT INTO " + orders_ + " VALUES (10, 'ten')");
  ASSERT_TRUE(q.ok) << q.error;
  q = pg_exec(conn_.get(), "UPDATE " + orders_ + " SET v = 'TEN' WHERE id = 10");
  ASSERT_TRUE(q.ok) << q.error;
  q = pg_exec(conn_.get(), "BEGIN");
  ASSERT_TRUE(q.ok) << q.error;
  q = pg_exec(conn_.get(), "SELECT string_agg(v, ',' ORDER BY id) FROM " + orders_);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "v1,v2,v3,TEN");
  q = pg_exec(conn_.get(), "COMMIT");
  ASSERT_TRUE(q.ok) << q.error;
  // session_safe: SHOW and friends; safe built-ins.
  q = pg_exec(conn_.get(), "SELECT current_user, length('abc'), now() IS NOT NULL");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "billing_rw");
  EXPECT_EQ(SuValue("SELECT v FROM public." + orders_ + " WHERE id = 10"), "TEN");
}

TEST_F(PolicyEnforcementOrders, DeniedDeleteIsRefusedWithRuleAndSessionContinues) {
  const Refusal r = exec(conn_.get(), "DELETE FROM " + orders_ + " WHERE id = 1");
  EXPECT_EQ(r.status, PGRES_FATAL_ERROR);
  EXPECT_EQ(r.f.severity, "ERROR");
  EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  EXPECT_EQ(r.f.message, "segproxy: segment \"billing\" may not delete from public." + orders_) << r.text;
  EXPECT_NE(r.f.detail.find("orders-rw"), std::string::npos) << "DETAIL: " << r.f.detail;
  EXPECT_EQ(PQtransactionStatus(conn_.get()), PQTRANS_IDLE);

  const QueryOutcome q = pg_exec(conn_.get(), "SELECT count(*) FROM " + orders_);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "3");
  EXPECT_EQ(RowCount(orders_), 3);
}

TEST_F(PolicyEnforcementOrders, ExplicitlyDeniedTableIsRefusedForEveryOperation) {
  for (const std::string& sql : {"SELECT * FROM " + pii_, "INSERT INTO " + pii_ + " VALUES (9, 'x')",
                                "SELECT o.v FROM " + orders_ + " o JOIN " + pii_ + " p USING (id)"}) {
    const Refusal r = exec(conn_.get(), sql);
    EXPECT_EQ(r.f.sqlstate, "42501") << sql << ": " << r.text;
    EXPECT_NE(r.f.message.find("segproxy: segment \"billing\" may not"), std::string::npos) << r.text;
    EXPECT_NE(r.f.message.find("public." + pii_), std::string::npos) << r.text;
    EXPECT_NE(r.f.detail.find("pii"), std::string::npos) << "DETAIL: " << r.f.detail;
  }
  // A table no rule grants is default-denied; DDL is not in `statements`.
  const std::string other = unique_name("it_pol_other");
  ASSERT_NO_FATAL_FAILURE(CreateTable(other, 1));
  Refusal r = exec(conn_.get(), "SELECT * FROM " + other);
  EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  EXPECT_EQ(r.f.message, "segproxy: segment \"billing\" may not select from public." + other) << r.text;
  r = exec(conn_.get(), "CREATE TABLE " + unique_name("it_pol_ddl") + " (i int)");
  EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  EXPECT_NE(r.f.message.find("may not run ddl"), std::string::npos) << r.text;
  EXPECT_EQ(RowCount(pii_), 2);
  EXPECT_EQ(pg_exec(conn_.get(), "SELECT 1").value, "1");
}

TEST_F(PolicyEnforcementOrders, DeniedStatementFailsTheTransactionAndCommitRollsBack) {
  ASSERT_TRUE(pg_exec(conn_.get(), "BEGIN").ok);
  QueryOutcome q = pg_exec(conn_.get(), "INSERT INTO " + orders_ + " VALUES (42, 'in-tx')");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(PQtransactionStatus(conn_.get()), PQTRANS_INTRANS);

  const Refusal r = exec(conn_.get(), "DELETE FROM " + orders_);
  EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  EXPECT_EQ(PQtransactionStatus(conn_.get()), PQTRANS_INERROR);

  q = pg_exec(conn_.get(), "SELECT 1");
  EXPECT_FALSE(q.ok);
  EXPECT_EQ(q.sqlstate, "25P02") << q.error;

  PgResultPtr commit(PQexec(conn_.get(), "COMMIT"));
  EXPECT_EQ(PQresultStatus(commit.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(commit.get());
  EXPECT_STREQ(PQcmdStatus(commit.get()), "ROLLBACK");
  EXPECT_EQ(PQtransactionStatus(conn_.get()), PQTRANS_IDLE);

  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 42"), "0");
  EXPECT_EQ(RowCount(orders_), 3);
  EXPECT_EQ(pg_exec(conn_.get(), "SELECT count(*) FROM " + orders_).value, "3");
}

TEST_F(PolicyEnforcementOrders, MultiStatementQueryIsDeniedAsAWhole) {
  // Denied part last, first, and between allowed writes: nothing of the string runs.
  for (const std::string& sql :
       {"SELECT 1; DELETE FROM " + orders_,
        "DELETE FROM " + orders_ + "; SELECT 1",
        "INSERT INTO " + orders_ + " VALUES (77, 'x'); DELETE FROM " + orders_ + "; SELECT 2"}) {
    const Refusal r = exec(conn_.get(), sql);
    EXPECT_EQ(r.f.sqlstate, "42501") << sql << ": " << r.text;
    EXPECT_EQ(r.f.message, "segproxy: segment \"billing\" may not delete from public." + orders_) << r.text;
    EXPECT_EQ(RowCount(orders_), 3) << sql;
    EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 77"), "0") << sql;
  }
  EXPECT_EQ(pg_exec(conn_.get(), "SELECT 5").value, "5");
}

TEST_F(PolicyEnforcementOrders, ExtendedProtocolPrepareAndExecParams) {
  // A refused Parse (PQprepare): 42501, then the session continues.
  Refusal r = refusal_of(PQprepare(conn_.get(), "it_del", ("DELETE FROM " + orders_ + " WHERE id = $1").c_str(), 0, nullptr));
  EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  EXPECT_EQ(r.f.message, "segproxy: segment \"billing\" may not delete from public." + orders_) << r.text;
  EXPECT_NE(r.f.detail.find("orders-rw"), std::string::npos) << r.f.detail;
  EXPECT_EQ(PQtransactionStatus(conn_.get()), PQTRANS_IDLE);
  {
    // The refused statement was never created on the backend.
    const char* v[1] = {"1"};
    Refusal e = refusal_of(PQexecPrepared(conn_.get(), "it_del", 1, v, nullptr, nullptr, 0));
    EXPECT_EQ(e.f.sqlstate, "26000") << e.text;  // invalid_sql_statement_name
  }

  {
    const char* v[1] = {"2"};
    PgResultPtr res(PQexecParams(conn_.get(), ("SELECT v FROM " + orders_ + " WHERE id = $1::int").c_str(), 1,
                                 nullptr, v, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(res.get());
    EXPECT_EQ(std::string(PQgetvalue(res.get(), 0, 0)), "v2");
  }
  {
    PgResultPtr res(PQprepare(conn_.get(), "it_ins", ("INSERT INTO " + orders_ + " VALUES ($1::int, $2)").c_str(), 2,
                              nullptr));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
    const char* v[2] = {"20", "twenty"};
    PgResultPtr ins(PQexecPrepared(conn_.get(), "it_ins", 2, v, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(ins.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(ins.get());
  }
  {
    const char* v[1] = {"1"};
    r = refusal_of(PQexecParams(conn_.get(), ("DELETE FROM " + orders_ + " WHERE id = $1::int").c_str(), 1, nullptr, v,
                                nullptr, nullptr, 0));
    EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
    EXPECT_EQ(r.f.message, "segproxy: segment \"billing\" may not delete from public." + orders_) << r.text;
  }
  {
    r = refusal_of(PQexecParams(conn_.get(), ("SELECT * FROM " + pii_).c_str(), 0, nullptr, nullptr, nullptr,
                                nullptr, 0));
    EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  }
  EXPECT_EQ(RowCount(orders_), 4);
  EXPECT_EQ(SuValue("SELECT v FROM public." + orders_ + " WHERE id = 20"), "twenty");
  EXPECT_EQ(pg_exec(conn_.get(), "SELECT 8").value, "8");
}

// Collects the results of a pipeline up to `syncs` PGRES_PIPELINE_SYNC results, as
// short strings: COMMAND_OK / value of the first cell / E<sqlstate> / aborted / sync.
std::vector<std::string> collect_pipeline(PGconn* conn, int syncs, std::string* problem) {
  std::vector<std::string> seen;
  int got = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (got < syncs && Clock::now() < deadline) {
    bool timed_out = false;
    PgResultPtr res = pg_wait_result(conn, std::chrono::seconds(10), &timed_out);
    if (timed_out) {
      *problem = "pipeline stalled after " + std::to_string(seen.size()) + " results";
      return seen;
    }
    if (!res) {
      if (PQstatus(conn) != CONNECTION_OK) {
        *problem = std::string("connection lost: ") + PQerrorMessage(conn);
        return seen;
      }
      continue;  // end of one query's results
    }
    switch (PQresultStatus(res.get())) {
      case PGRES_COMMAND_OK: seen.push_back("COMMAND_OK"); break;
      case PGRES_TUPLES_OK: seen.push_back(PQntuples(res.get()) > 0 ? PQgetvalue(res.get(), 0, 0) : "no rows"); break;
      case PGRES_FATAL_ERROR: seen.push_back("E" + sqlstate_of(res.get())); break;
      case PGRES_PIPELINE_ABORTED: seen.push_back("aborted"); break;
      case PGRES_PIPELINE_SYNC: seen.push_back("sync"); ++got; break;
      default: seen.push_back(PQresStatus(PQresultStatus(res.get())));
    }
  }
  if (got < syncs) *problem = "timed out waiting for the pipeline";
  return seen;
}

TEST_F(PolicyEnforcementOrders, PipelineWithDeniedStatementRollsBackItsImplicitTransaction) {
  PGconn* c = conn_.get();
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  const std::string ins = "INSERT INTO " + orders_ + " VALUES ($1::int, 'piped')";
  const char* v1[1] = {"31"};
  ASSERT_EQ(PQsendQueryParams(c, ins.c_str(), 1, nullptr, v1, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("DELETE FROM " + orders_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 3", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  // A second batch after the sync runs normally and commits.
  const char* v2[1] = {"32"};
  ASSERT_EQ(PQsendQueryParams(c, ins.c_str(), 1, nullptr, v2, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("SELECT count(*) FROM " + orders_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0),
            1);
  ASSERT_EQ(PQpipelineSync(c), 1);

  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 2, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"COMMAND_OK", "E42501", "aborted", "sync", "COMMAND_OK", "4", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);

  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 31"), "0")
      << "the INSERT of the pipeline's implicit transaction was not rolled back";
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 32"), "1");
  EXPECT_EQ(RowCount(orders_), 4);
  const QueryOutcome q = pg_exec(c, "SELECT count(*) FROM " + orders_);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "4");
}

TEST_F(PolicyEnforcementOrders, PipelineDeniedFirstAbortsTheRestUntilSync) {
  PGconn* c = conn_.get();
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("SELECT * FROM " + pii_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("INSERT INTO " + orders_ + " VALUES (33, 'x')").c_str(), 0, nullptr, nullptr, nullptr,
                              nullptr, 0),
            1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 'after'", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 2, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"E42501", "aborted", "sync", "after", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 33"), "0");
}

// Issues 12 and 14 (h2's second review of issue 14): the Sync of a batch the proxy
// discarded after a refusal is replaced by a raise of the refusal. When the backend has
// already failed the batch (here the SELECT's division by zero) it skips every message
// but Sync; a raise sent as a simple Query was skipped too, no ReadyForQuery came and the
// client waited for ever. The raise is now Parse / Bind / Execute / Sync: skipped, its
// Sync still answers, and the client sees its own error, as without the proxy.
TEST_F(PolicyEnforcementOrders, PipelineRefusedAfterABackendErrorInTheSameBatchStillEndsAtItsSync) {
  PGconn* c = conn_.get();
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 1/0", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("DELETE FROM " + orders_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 1, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"E22012", "aborted", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);
  EXPECT_EQ(pg_exec(c, "SELECT 11").value, "11");
  EXPECT_EQ(RowCount(orders_), 3);
}

// The raise's own ParseComplete / BindComplete never reach the client: here a batch that
// did not fail before the refusal, with named statements of the client's before it. A
// surplus ParseComplete would complete the refused PQsendPrepare as COMMAND_OK in libpq.
TEST_F(PolicyEnforcementOrders, PipelineRefusedAfterTheClientsOwnParseAndBindShowsOnlyTheClientsReplies) {
  PGconn* c = conn_.get();
  const std::string ok = unique_name("it_pb_ok");
  const std::string del = unique_name("it_pb_del");
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  ASSERT_EQ(PQsendPrepare(c, ok.c_str(), ("SELECT v FROM " + orders_ + " WHERE id = 2").c_str(), 0, nullptr), 1);
  ASSERT_EQ(PQsendQueryPrepared(c, ok.c_str(), 0, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendPrepare(c, del.c_str(), ("DELETE FROM " + orders_).c_str(), 0, nullptr), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 1, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"COMMAND_OK", "v2", "E42501", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);
  // The client's named statement outlives the refusal; the refused one was never made.
  PgResultPtr again(PQexecPrepared(c, ok.c_str(), 0, nullptr, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(again.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(again.get());
  EXPECT_EQ(std::string(PQgetvalue(again.get(), 0, 0)), "v2");
  EXPECT_EQ(refusal_of(PQexecPrepared(c, del.c_str(), 0, nullptr, nullptr, nullptr, 0)).f.sqlstate, "26000");
  EXPECT_EQ(RowCount(orders_), 3);
}

// Two batches in one pipeline: the first failed by the backend and then refused, the
// second normal (with its own Parse / Bind): the dropping of the raise's replies is per
// batch, and the counting starts again at each ReadyForQuery.
TEST_F(PolicyEnforcementOrders, PipelineBatchFailedAndRefusedIsFollowedByANormalBatch) {
  PGconn* c = conn_.get();
  const std::string named = unique_name("it_pb_next");
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 1/0", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("DELETE FROM " + orders_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 'after'", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendPrepare(c, named.c_str(), ("SELECT count(*) FROM " + orders_).c_str(), 0, nullptr), 1);
  ASSERT_EQ(PQsendQueryPrepared(c, named.c_str(), 0, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  // A third batch refused without a backend error before it: raised, not skipped.
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 'third'", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("SELECT * FROM " + pii_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 3, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"E22012", "aborted", "sync", "after", "COMMAND_OK", "3", "sync",
                                          "third",  "E42501",  "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);
  EXPECT_EQ(pg_exec(c, "SELECT 12").value, "12");
}

// A protocol-state refusal (a Bind of a statement never prepared through the session,
// 26000) is raised at the Sync too: after a backend error in the same batch the client
// gets its error and the Sync's answer, never a stall.
TEST_F(PolicyEnforcementOrders, PipelineBindOfAnUnknownStatementAfterABackendErrorStillEndsAtItsSync) {
  PGconn* c = conn_.get();
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, "SELECT 1/0", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryPrepared(c, "it_never_prepared", 0, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  ASSERT_EQ(PQsendQueryPrepared(c, "it_never_prepared", 0, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 2, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"E22012", "aborted", "sync", "E26000", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);
}

// Inside an explicit transaction block that already failed ('E'), the raise's Parse gets
// 25P02 from the backend, as any statement there would; the batch still ends at its
// Sync and ROLLBACK ends the block.
TEST_F(PolicyEnforcementOrders, PipelineRefusedInAFailedTransactionBlockEndsAtItsSync) {
  PGconn* c = conn_.get();
  ASSERT_TRUE(pg_exec(c, "BEGIN").ok);
  EXPECT_FALSE(pg_exec(c, "SELECT 1/0").ok);
  ASSERT_EQ(PQtransactionStatus(c), PQTRANS_INERROR);
  ASSERT_EQ(PQenterPipelineMode(c), 1);
  ASSERT_EQ(PQsendQueryParams(c, ("DELETE FROM " + orders_).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c), 1);
  std::string problem;
  const std::vector<std::string> seen = collect_pipeline(c, 1, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  const std::vector<std::string> expected{"E25P02", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(c), 1) << PQerrorMessage(c);
  EXPECT_EQ(PQtransactionStatus(c), PQTRANS_INERROR);
  ASSERT_TRUE(pg_exec(c, "ROLLBACK").ok);
  EXPECT_EQ(pg_exec(c, "SELECT 13").value, "13");
  EXPECT_EQ(RowCount(orders_), 3);
}

TEST_F(PolicyEnforcementOrders, UnknownOrUnlistedFunctionsAreRefused) {
  for (const std::string& sql :
       {std::string("SELECT pg_read_file('/etc/passwd')"), std::string("SELECT pg_ls_dir('.')"),
        std::string("SELECT current_setting('search_path')"),
        std::string("SELECT pg_terminate_backend(pg_backend_pid())"),
        "SELECT v, pg_read_file('/etc/hostname') FROM " + orders_}) {
    const Refusal r = exec(conn_.get(), sql);
    EXPECT_EQ(r.f.sqlstate, "42501") << sql << ": " << r.text;
    EXPECT_NE(r.f.message.find("segproxy: function"), std::string::npos) << sql << ": " << r.text;
    EXPECT_NE(r.f.message.find("is not allowed for segment \"billing\""), std::string::npos) << r.text;
  }
  // Statements outside the granted classes / not understood are refused too.
  for (const std::string& sql : {std::string("VACUUM ") + orders_, std::string("LISTEN it_pol_chan"),
                                std::string("ALTER SYSTEM SET work_mem = '1MB'"),
                                std::string("LOAD 'plpgsql'")}) {
    const Refusal r = exec(conn_.get(), sql);
    EXPECT_EQ(r.f.sqlstate, "42501") << sql << ": " << r.text;
    EXPECT_EQ(r.f.message.rfind("segproxy: ", 0), 0u) << sql << ": " << r.text;
  }
  EXPECT_EQ(pg_exec(conn_.get(), "SELECT 9").value, "9");
}

TEST_F(PolicyEnforcementOrders, SyntaxErrorIs42601WithParserMessage) {
  for (const std::string& sql : {std::string("SELEC 1"), "SELECT * FROM " + orders_ + " WHERE"}) {
    const Refusal r = exec(conn_.get(), sql);
    EXPECT_EQ(r.f.sqlstate, "42601") << sql << ": " << r.text;
    EXPECT_NE(r.f.message.find("syntax error"), std::string::npos) << sql << ": " << r.text;
  }
  // Also through Parse.
  const Refusal r = refusal_of(PQprepare(conn_.get(), "it_bad", "SELEC 1", 0, nullptr));
  EXPECT_EQ(r.f.sqlstate, "42601") << r.text;
  EXPECT_NE(r.f.message.find("syntax error"), std::string::npos) << r.text;
  EXPECT_EQ(pg_exec(conn_.get(), "SELECT 10").value, "10");
}

// Session-changing statements are refused whatever the policy grants: the default
// fixture policy grants every table operation and every statement class.
TEST_F(PolicyEnforcement, SessionChangesAndServerFilesAreRefusedEvenWithEverythingGranted) {
  const std::string t = unique_name("it_pol_any");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 2));
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const std::string out_file = env().test_dir + "/" + unique_name("it_pol_copy") + ".out";
  for (const std::string& sql :
       {std::string("SET search_path = public"), std::string("SET search_path TO pg_catalog, public"),
        std::string("SET ROLE postgres"), std::string("SET SESSION AUTHORIZATION postgres"),
        std::string("SELECT set_config('search_path', 'x', false)"),
        std::string("SELECT pg_catalog.set_config('role', 'postgres', false)"),
        "COPY " + t + " TO '" + out_file + "'", "COPY " + t + " FROM '/etc/hostname'",
        "COPY " + t + " TO PROGRAM 'cat > /dev/null'"}) {
    const Refusal r = exec(conn.get(), sql);
    EXPECT_EQ(r.status, PGRES_FATAL_ERROR) << sql;
    EXPECT_EQ(r.f.sqlstate, "42501") << sql << ": " << r.text;
    EXPECT_EQ(r.f.message.rfind("segproxy: ", 0), 0u) << sql << ": " << r.text;
    // The session continues, unchanged.
    QueryOutcome q = pg_exec(conn.get(), "SELECT current_user");
    ASSERT_TRUE(q.ok) << q.error;
    EXPECT_EQ(q.value, "billing_rw") << "after " << sql;
  }
  struct stat st {};
  EXPECT_NE(::stat(out_file.c_str(), &st), 0) << out_file << " was written";
  const QueryOutcome q = pg_exec(conn.get(), "SHOW search_path");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "\"$user\", public");
  // Inside a transaction the refusal fails the transaction like any error.
  ASSERT_TRUE(pg_exec(conn.get(), "BEGIN").ok);
  const Refusal r = exec(conn.get(), "SET LOCAL search_path = pg_temp");
  EXPECT_EQ(r.f.sqlstate, "42501") << r.text;
  EXPECT_EQ(PQtransactionStatus(conn.get()), PQTRANS_INERROR);
  ASSERT_TRUE(pg_exec(conn.get(), "ROLLBACK").ok);
  // COPY to the client (STDOUT) is what the grant allows.
  PgResultPtr copy(PQexec(conn.get(), ("COPY " + t + " TO STDOUT").c_str()));
  EXPECT_EQ(PQresultStatus(copy.get()), PGRES_COPY_OUT) << PQresultErrorMessage(copy.get());
  char* line = nullptr;
  int rows = 0;
  while (PQgetCopyData(conn.get(), &line, 0) > 0) {
    ++rows;
    PQfreemem(line);
  }
  pg_drain(conn.get());
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(pg_exec(conn.get(), "SELECT 11").value, "11");
}

}  // namespace
}  // namespace segproxy::it
