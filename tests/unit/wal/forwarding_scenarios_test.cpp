// The forwarding rule in the cases issue 14 lists ("Tests"), with message classes taken
// from the real classifiers (pg_write_classes / mysql_write_classes) over a catalog.
#include <gtest/gtest.h>

#include <string>

#include "authz/wal/mysql_write_class.hpp"
#include "authz/wal/pg_write_class.hpp"
#include "wal_catalog_fixture.hpp"
#include "wal_test_support.hpp"

namespace segproxy::authz::wal::test {
namespace {

class PgScenario : public ::testing::Test {
 protected:
  MessageClass pg(const char* sql) { return pg_write_classes(std::string_view(sql), ctx_).message; }
  // BEGIN confirmed by ReadyForQuery 'T'; record 1 durable.
  void open_block() {
    ASSERT_EQ(d_.query(1, pg("begin"), 1), "fwd 1");
    d_.ready('T');
    d_.durable(1);
  }
  WalCatalog catalog_ = test_catalog("public");
  ClassContext ctx_ = context(catalog_, "public");
  Drive d_{Protocol::Postgres};
};

TEST_F(PgScenario, CommitPipelinedBehindAHeldMessageWaitsItsTurnThenForAllRecords) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("insert into accounts values (1)"), 2), "fwd 2");
  EXPECT_EQ(d_.query(3, pg("set work_mem = '1MB'"), 3), "flush 3@3");
  EXPECT_EQ(d_.query(4, pg("commit"), 4), "");  // behind the held SET: never overtakes it
  EXPECT_EQ(d_.query(5, pg("select 1"), 5), "");
  EXPECT_EQ(d_.durable(3), "fwd 3, flush 4@4");
  EXPECT_EQ(d_.durable(4), "fwd 4, fwd 5");
}

TEST_F(PgScenario, SimpleQueryIntoAnOpenExtendedBatchIsTheBatchCommit) {
  EXPECT_EQ(d_.parse(1, 1), "fwd 1");
  EXPECT_EQ(d_.execute(2, pg("insert into accounts values (1)"), 2), "fwd 2");
  // Even a read-only Query commits the batch's insert: it waits for every record.
  EXPECT_EQ(d_.query(3, pg("select 1"), 3), "flush 3@3");
  EXPECT_EQ(d_.durable(3), "fwd 3");

  Drive reads(Protocol::Postgres);
  reads.parse(1, 1);
  reads.execute(2, pg("select * from accounts"), 2);
  EXPECT_EQ(reads.query(3, pg("select 1"), 3), "fwd 3");  // a read-only batch ends at once
}

TEST_F(PgScenario, MultiStatementMessagesTakeTheirStrictestPart) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("select 1; commit"), 2), "fwd 2");  // ends a read-only transaction
  d_.ready('I');
  open_block();
  EXPECT_EQ(d_.query(3, pg("insert into accounts values (1); commit"), 3), "flush 3@3");
  EXPECT_EQ(d_.durable(3), "fwd 3");
  d_.ready('I');
  EXPECT_EQ(d_.query(4, pg("select 1; call refresh_totals()"), 4), "flush 4@4");
  EXPECT_EQ(d_.durable(4), "fwd 4");
  d_.ready('I');
  EXPECT_EQ(d_.query(5, pg("select 1; do $$ begin perform 1; end $$"), 5), "flush 5@5");
  EXPECT_EQ(pg("select 1; commit").klass, WriteClass::CommitPoint);
  EXPECT_TRUE(pg("select 1; commit").ends_transaction_only);
  EXPECT_FALSE(pg("insert into accounts values (1); commit").ends_transaction_only);
}

TEST_F(PgScenario, TwoPhaseCommitStatementsAreCommitPoints) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("insert into accounts values (1)"), 2), "fwd 2");
  EXPECT_EQ(d_.query(3, pg("prepare transaction 'tx1'"), 3), "flush 3@3");
  EXPECT_EQ(d_.durable(3), "fwd 3");
  d_.ready('I');
  EXPECT_EQ(d_.query(4, pg("commit prepared 'tx1'"), 4), "flush 4@4");
  EXPECT_EQ(d_.query(5, pg("rollback prepared 'tx2'"), 5), "");
  EXPECT_EQ(d_.durable(5), "fwd 4, fwd 5");
}

TEST_F(PgScenario, ExplainAnalyzeWaitsLikeTheStatementItRuns) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("explain update accounts set n = 1"), 2), "fwd 2");  // plans only
  EXPECT_EQ(d_.query(3, pg("explain analyze select nextval('s')"), 3), "flush 3@3");
  EXPECT_EQ(d_.durable(3), "fwd 3");
  EXPECT_EQ(d_.query(4, pg("explain (analyze) update accounts set n = 1"), 4), "fwd 4");  // contained
}

TEST_F(PgScenario, ExecuteAndFetchTakeTheClassOfWhatTheyRun) {
  const PgWriteClasses prep = pg_write_classes(std::string_view("prepare p as select nextval('s')"), ctx_);
  ASSERT_EQ(prep.statements.size(), 1u);
  EXPECT_EQ(prep.message.klass, WriteClass::ReadOnly);  // PREPARE itself runs nothing
  std::map<std::string, MessageClass, std::less<>> prepared{{prep.statements[0].prepares, prep.statements[0].remembered}};
  const PgWriteClasses decl = pg_write_classes(std::string_view("declare c cursor for select * from accounts"), ctx_);
  std::map<std::string, MessageClass, std::less<>> cursors{{decl.statements[0].declares_cursor, decl.statements[0].remembered}};
  ctx_.prepared = &prepared;
  ctx_.cursors = &cursors;
  open_block();
  EXPECT_EQ(d_.query(2, pg("fetch 10 from c"), 2), "fwd 2");
  EXPECT_EQ(d_.query(3, pg("execute p"), 3), "flush 3@3");
  EXPECT_EQ(d_.durable(3), "fwd 3");
  EXPECT_EQ(pg("execute unknown_name").klass, WriteClass::Escaping);
  EXPECT_EQ(pg("fetch 1 from unknown_cursor").klass, WriteClass::Escaping);
  // Every extended-protocol Execute carries the class of its prepared statement.
  EXPECT_EQ(d_.parse(4, 4), "fwd 4");
  EXPECT_EQ(d_.execute(5, prepared.begin()->second, 5), "flush 5@5");
}

TEST_F(PgScenario, BindOfAStatementWithUnlistedCodeWaitsForItsDecisionRecord) {
  // Planning at Bind may fold an immutable user function: it waits like the statement.
  const MessageClass stmt = pg("select lower2('x')");
  EXPECT_EQ(d_.parse(1, 1), "fwd 1");
  EXPECT_EQ(d_.send(2, MessageKind::PgExtended, stmt, 1), "flush 2@1");
  EXPECT_EQ(d_.durable(1), "fwd 2");
  EXPECT_EQ(d_.send(3, MessageKind::PgExtended, pg("select 1"), 1), "fwd 3");
}

TEST_F(PgScenario, CopyFromStdinInsideATransactionGoesAtOnceAndItsDataFollowsInOrder) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("copy accounts from stdin"), 2), "fwd 2");
  EXPECT_EQ(d_.copy_data(3), "fwd 3");
  d_.ready('T');
  // Outside a transaction the COPY commits at CopyDone: the Query waits, its data queues behind.
  Drive outside(Protocol::Postgres);
  EXPECT_EQ(outside.query(1, pg("copy accounts from stdin"), 1), "flush 1@1");
  EXPECT_EQ(outside.copy_data(2), "");
  EXPECT_EQ(outside.copy_data(3), "");
  EXPECT_EQ(outside.durable(1), "fwd 1, fwd 2, fwd 3");
}

TEST_F(PgScenario, SavepointAndRollbackToVoidTheStateUntilTheBackendAnswers) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("insert into accounts values (1)"), 2), "fwd 2");
  EXPECT_EQ(d_.query(3, pg("savepoint a"), 3), "fwd 3");
  EXPECT_EQ(d_.query(4, pg("update accounts set n = 2"), 4), "flush 4@4");  // not confirmed
  d_.ready('T');                                                             // answers the INSERT
  EXPECT_EQ(d_.ready('T'), "fwd 4");                                         // answers SAVEPOINT
  EXPECT_EQ(d_.query(5, pg("rollback to savepoint a"), 5), "fwd 5");
  d_.ready('T');
  d_.ready('T');
  EXPECT_EQ(d_.query(6, pg("update accounts set n = 3"), 6), "fwd 6");
}

// A Query sent into an extended batch the backend failed is skipped (discarded up to the
// Sync): no status answers it. Counted as answered without a status, the statuses after
// it stay paired with their requests: the BEGIN's 'T' confirms the new block, and an
// INSERT in it goes at once instead of waiting as a commit point.
TEST_F(PgScenario, QuerySkippedInAFailedBatchKeepsLaterStatusesPairedWithTheirRequests) {
  open_block();
  EXPECT_EQ(d_.parse(2, 0), "fwd 2");
  EXPECT_EQ(d_.execute(3, pg("update accounts set n = 2"), 2), "fwd 3");
  EXPECT_EQ(d_.query(4, pg("select 1"), 3), "fwd 4");
  EXPECT_EQ(d_.sync(5), "fwd 5");
  EXPECT_EQ(d_.skipped(), "");  // the Execute failed: the Query is skipped
  d_.ready('E');                // the Sync's
  EXPECT_EQ(d_.query(6, pg("begin"), 4), "fwd 6");
  d_.ready('T');
  EXPECT_EQ(d_.query(7, pg("insert into accounts values (1)"), 5), "fwd 7");
}

// The session may learn that the backend skips a Query (it already failed the batch)
// while the rule still holds it (a Query into an open batch commits it: it waits for
// every record): the skip counts once the Query goes.
TEST_F(PgScenario, QueryKnownSkippedWhileStillHeldIsCountedWhenItIsForwarded) {
  EXPECT_EQ(d_.parse(1, 0), "fwd 1");
  EXPECT_EQ(d_.execute(2, pg("insert into accounts values (1)"), 1), "fwd 2");
  EXPECT_EQ(d_.query(3, pg("select 1"), 2), "flush 3@2");
  EXPECT_EQ(d_.skipped(), "");
  EXPECT_EQ(d_.durable(2), "fwd 3");
  EXPECT_EQ(d_.sync(4), "fwd 4");
  d_.ready('I');  // the Sync's
  EXPECT_EQ(d_.query(5, pg("begin"), 3), "fwd 5");
  d_.ready('T');
  EXPECT_EQ(d_.query(6, pg("insert into accounts values (2)"), 4), "fwd 6");
}

TEST_F(PgScenario, CancelOfAHeldMessageCancelsItInTheProxy) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("set work_mem = '1MB'"), 2), "flush 2@2");
  EXPECT_EQ(d_.query(3, pg("select 1"), 3), "");
  // The backend is idle: the cancel is for the held SET. It fails in the block as a
  // cancelled statement would; the next message goes on.
  EXPECT_EQ(d_.cancel(), "cancel! 2, fwd 3");
  EXPECT_EQ(d_.durable(2), "");  // never forwarded afterwards
  // Busy backend: the cancel goes there.
  EXPECT_EQ(d_.query(4, pg("set work_mem = '2MB'"), 4), "flush 4@4");
  EXPECT_EQ(d_.cancel(), "pass-cancel");
}

TEST_F(PgScenario, CancelOfAHeldExecuteDiscardsTheRestOfTheBatchAndFailsIt) {
  EXPECT_EQ(d_.parse(1, 1), "fwd 1");
  EXPECT_EQ(d_.execute(2, pg("set work_mem = '1MB'"), 2), "flush 2@2");
  EXPECT_EQ(d_.parse(3, 3), "");
  EXPECT_EQ(d_.sync(4), "");
  EXPECT_EQ(d_.cancel(), "cancel 2, discard 3, fwd! 4");
  EXPECT_EQ(d_.ready('I'), "");
  EXPECT_EQ(d_.query(5, pg("select 1"), 5), "fwd 5");
}

TEST_F(PgScenario, AFlushHangingPastMaxWaitRefusesTheHeldMessageAndTheSessionRecovers) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("insert into accounts values (1)"), 2), "fwd 2");
  d_.ready('T');
  EXPECT_EQ(d_.query(3, pg("commit"), 3), "flush 3@3");
  EXPECT_EQ(d_.f().next_deadline(), d_.now() + 1000);
  d_.advance(999);
  EXPECT_EQ(d_.timer(), "");
  d_.advance(1);
  EXPECT_EQ(d_.timer(), "refuse! 3");  // the COMMIT is refused and its transaction rolled back
  EXPECT_TRUE(d_.f().write_failed());
  EXPECT_EQ(d_.ready('I'), "");        // the session's ROLLBACK
  EXPECT_EQ(d_.query(4, pg("select 1"), 4), "fwd 4");               // read-only still goes
  EXPECT_EQ(d_.query(5, pg("set work_mem = '1MB'"), 5), "refuse 5");  // needs a record: refused
  d_.ready('I');
  EXPECT_EQ(d_.durable(5), "");  // writing works again
  EXPECT_FALSE(d_.f().write_failed());
  EXPECT_EQ(d_.query(6, pg("set work_mem = '1MB'"), 6), "flush 6@6");
  EXPECT_EQ(d_.durable(6), "fwd 6");
}

TEST_F(PgScenario, AuditWriteFailureMidTransactionRefusesTheCommitAndRollsBack) {
  open_block();
  EXPECT_EQ(d_.query(2, pg("update accounts set n = n + 1"), 2), "fwd 2");
  EXPECT_EQ(d_.query(3, pg("commit"), 3), "flush 3@3");
  EXPECT_EQ(d_.write_failure(), "refuse! 3");
  EXPECT_EQ(d_.recovered(), "");
  EXPECT_EQ(d_.ready('T'), "");  // the UPDATE's status (before the rollback): not trusted
  EXPECT_EQ(d_.ready('I'), "");  // the rollback's
  EXPECT_EQ(d_.query(4, pg("begin"), 4), "fwd 4");
}

class MysqlScenario : public ::testing::Test {
 protected:
  MessageClass my(const char* sql) {
    sql::MysqlClassifierOptions opts;
    opts.current_database = "shop";
    return mysql_write_classes(std::string_view(sql), opts, ctx_).message;
  }
  WalCatalog catalog_ = test_catalog("shop");
  ClassContext ctx_ = context(catalog_, "shop");
  Drive d_{Protocol::Mysql};
};

TEST_F(MysqlScenario, ImplicitCommitsWaitForEveryRecordAndAFailedDdlHasCommittedToo) {
  EXPECT_EQ(d_.command(1, my("begin"), 1), "fwd 1");  // commits nothing: read-only so far
  d_.ok(true);
  EXPECT_EQ(d_.command(2, my("insert into accounts values (1)"), 2), "fwd 2");
  d_.ok(true);
  EXPECT_EQ(d_.command(3, my("create table accounts (id int)"), 3), "flush 3@3");
  EXPECT_EQ(d_.durable(3), "fwd 3");
  d_.err();  // table exists: but the INSERT was committed before the DDL ran
  EXPECT_EQ(d_.command(4, my("insert into accounts values (2)"), 4), "flush 4@4");  // autocommit now
  EXPECT_EQ(d_.durable(4), "fwd 4");
  d_.ok(false);
  for (const char* sql : {"lock tables accounts write", "unlock tables", "start transaction", "set autocommit = 1",
                          "truncate table accounts", "analyze table accounts", "rename table accounts to a2"})
    EXPECT_EQ(my(sql).klass, WriteClass::CommitPoint) << sql;
}

TEST_F(MysqlScenario, XaPrepareAndOnePhaseCommitAreCommitPointsNamedXidCommitEscapes) {
  EXPECT_EQ(my("xa prepare 'x1'").klass, WriteClass::CommitPoint);
  EXPECT_EQ(my("xa commit 'x1' one phase").klass, WriteClass::CommitPoint);
  EXPECT_EQ(my("xa commit 'x1'").klass, WriteClass::Escaping);
  EXPECT_EQ(my("xa rollback 'x1'").klass, WriteClass::Escaping);
  EXPECT_TRUE(my("xa start 'x1'").transaction_control);
  d_.command(1, my("xa start 'x1'"), 1);
  d_.ok(true);
  EXPECT_EQ(d_.command(2, my("insert into accounts values (1)"), 2), "fwd 2");
  d_.ok(true);
  EXPECT_EQ(d_.command(3, my("xa end 'x1'"), 3), "fwd 3");
  EXPECT_EQ(d_.command(4, my("xa prepare 'x1'"), 4), "flush 4@4");
  EXPECT_EQ(d_.durable(4), "fwd 4");
}

TEST_F(MysqlScenario, AnalyzeAndExplainAnalyzeRunTheirStatement) {
  EXPECT_EQ(my("explain select * from accounts").klass, WriteClass::ReadOnly);
  EXPECT_EQ(my("explain delete from accounts").klass, WriteClass::ReadOnly);
  EXPECT_EQ(my("explain select * from accounts where id = shop.f()").klass, WriteClass::Escaping);
  EXPECT_EQ(my("analyze delete from accounts").klass, WriteClass::Contained);
  EXPECT_EQ(my("explain analyze select get_lock('a', 1)").klass, WriteClass::Escaping);
}

TEST_F(MysqlScenario, PreparedExecutionTakesThePreparedClass) {
  std::map<std::string, MessageClass, std::less<>> prepared{{"p", my("update accounts set n = 1")}};
  ctx_.prepared = &prepared;
  EXPECT_EQ(my("execute p").klass, WriteClass::Contained);
  EXPECT_EQ(my("execute q").klass, WriteClass::Escaping);
  // COM_STMT_EXECUTE: the session passes the class it remembered at COM_STMT_PREPARE.
  EXPECT_EQ(d_.command(1, prepared["p"], 1), "flush 1@1");  // autocommit: commits itself
  d_.durable(1);
  d_.ok(false);
  EXPECT_EQ(d_.command(2, my("begin"), 2), "fwd 2");
  d_.ok(true);
  EXPECT_EQ(d_.command(3, prepared["p"], 3), "fwd 3");
}

TEST_F(MysqlScenario, WriteFailureRefusesAWaitingCommitWithRollbackAndKeepsTheSession) {
  d_.command(1, my("begin"), 1);
  d_.ok(true);
  d_.command(2, my("update accounts set n = 1"), 2);
  d_.ok(true);
  EXPECT_EQ(d_.command(3, my("commit"), 3), "flush 3@3");
  EXPECT_EQ(d_.write_failure(), "refuse! 3");
  EXPECT_EQ(d_.ok(false), "");  // the session's ROLLBACK
  EXPECT_EQ(d_.command(4, my("select n from accounts"), 4), "fwd 4");
  EXPECT_EQ(d_.command(5, my("insert into accounts values (1)"), 5), "refuse 5");
}

TEST_F(MysqlScenario, KillQueryOfAHeldCommandCancelsItWithoutAbortingTheTransaction) {
  d_.command(1, my("begin"), 1);
  d_.ok(true);
  EXPECT_EQ(d_.command(2, my("set @@session.sql_select_limit = 10"), 2), "flush 2@2");
  EXPECT_EQ(d_.cancel(), "cancel 2");
  EXPECT_EQ(d_.command(3, my("select 1"), 3), "fwd 3");
}

}  // namespace
}  // namespace segproxy::authz::wal::test
