// The forwarding rule per statement class x confirmed transaction state (issue 14,
// "Tests"): whether a message goes at once or is held for the audit log. Each row sets a
// state up through the backend statuses the session would report, then submits one
// message of each class with decision record 50 (the session's previous record is 49,
// nothing durable yet).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "wal_test_support.hpp"

namespace segproxy::authz::wal::test {
namespace {

struct Row {
  const char* state;
  Protocol protocol;
  std::function<void(Drive&)> setup;
  MessageKind kind;  // how the message under test is sent
  // expected for: read-only, contained, escaping, commit point, COMMIT (ends the transaction only)
  const char* ro;
  const char* contained;
  const char* escaping;
  const char* commit;
  const char* commit_only;
};

const MessageClass kClasses[] = {read_only("select"), contained("insert"), escaping("set"),
                                 commit_point("call"), commit_point("commit", true)};

const std::vector<Row>& rows() {
  static const std::vector<Row> kRows = {
      {"pg idle (ReadyForQuery I): writes autocommit", Protocol::Postgres, [](Drive&) {}, MessageKind::PgQuery,
       "go", "hold", "hold", "hold", "go"},
      {"pg block confirmed (T), only read-only records", Protocol::Postgres,
       [](Drive& d) {
         d.query(1, transaction_control("begin"), 1);
         d.ready('T');
       },
       MessageKind::PgQuery, "go", "go", "hold", "hold", "go"},
      {"pg block confirmed (T) holding a write", Protocol::Postgres,
       [](Drive& d) {
         d.query(1, transaction_control("begin"), 1);
         d.ready('T');
         d.query(2, contained("insert"), 2);
         d.ready('T');
       },
       MessageKind::PgQuery, "go", "go", "hold", "hold", "hold"},
      {"pg failed block (E) counts as open", Protocol::Postgres,
       [](Drive& d) {
         d.query(1, transaction_control("begin"), 1);
         d.ready('E');
       },
       MessageKind::PgQuery, "go", "go", "hold", "hold", "go"},
      {"pg BEGIN forwarded, not yet confirmed: void", Protocol::Postgres,
       [](Drive& d) { d.query(1, transaction_control("begin"), 1); }, MessageKind::PgQuery, "go", "hold", "hold",
       "hold", "go"},
      {"pg status of a request before the voiding one is not trusted", Protocol::Postgres,
       [](Drive& d) {
         d.query(1, transaction_control("begin"), 1);
         d.ready('T');
         d.query(2, read_only("select"), 2);
         d.query(3, commit_point("commit", true), 3);  // read-only transaction: goes at once
         d.ready('T');  // answers 2, not the COMMIT
       },
       MessageKind::PgQuery, "go", "hold", "hold", "hold", "go"},
      {"pg Execute of an unsynced batch (implicit transaction)", Protocol::Postgres,
       [](Drive& d) { d.parse(1, 1); }, MessageKind::PgExecute, "go", "go", "hold", "hold", "go"},
      {"mysql autocommit, idle", Protocol::Mysql, [](Drive&) {}, MessageKind::MyCommand, "go", "hold", "hold",
       "hold", "go"},
      {"mysql IN_TRANS, nothing outstanding", Protocol::Mysql,
       [](Drive& d) {
         d.command(1, commit_point("begin", true), 1);
         d.ok(true);
       },
       MessageKind::MyCommand, "go", "go", "hold", "hold", "go"},
      {"mysql IN_TRANS with a request outstanding (its ERR could roll back)", Protocol::Mysql,
       [](Drive& d) {
         d.command(1, commit_point("begin", true), 1);
         d.ok(true);
         d.command(2, read_only("select"), 2);
       },
       MessageKind::MyCommand, "go", "hold", "hold", "hold", "go"},
      {"mysql autocommit off, request outstanding", Protocol::Mysql,
       [](Drive& d) {
         d.command(1, commit_point("set autocommit=0", true), 1);
         d.ok(false, false);
         d.command(2, read_only("select"), 2);
       },
       MessageKind::MyCommand, "go", "go", "hold", "hold", "go"},
      {"mysql ERR voids IN_TRANS until the next status", Protocol::Mysql,
       [](Drive& d) {
         d.command(1, commit_point("begin", true), 1);
         d.ok(true);
         d.command(2, contained("update"), 2);
         d.err();
       },
       MessageKind::MyCommand, "go", "hold", "hold", "hold", "hold"},
  };
  return kRows;
}

std::string outcome(const Row& row, const MessageClass& c) {
  Drive d(row.protocol);
  row.setup(d);
  d.durable(49);  // everything before is durable: only the message's own needs count
  d.note_record(49);
  const std::string got = d.send(50, row.kind, c, 50);
  if (got == "fwd 50") return "go";
  if (got == "flush 50@50") {
    // Held: it must go once its record is durable, and not before.
    if (d.durable(49) != "") return "hold-but-moved-early";
    return d.durable(50) == "fwd 50" ? "hold" : "hold-but-stuck";
  }
  return "unexpected: " + got;
}

TEST(ForwardingMatrix, EachClassWaitsExactlyAsLongAsTheConfirmedTransactionStateRequires) {
  for (const Row& row : rows()) {
    const char* want[] = {row.ro, row.contained, row.escaping, row.commit, row.commit_only};
    for (std::size_t i = 0; i < 5; ++i)
      EXPECT_EQ(outcome(row, kClasses[i]), want[i]) << row.state << " / " << kClasses[i].reason;
  }
}

TEST(ForwardingMatrix, SyncCommitsOnlyOutsideAConfirmedBlock) {
  {  // implicit batch holding a write: Sync is its commit and waits for every record
    Drive d(Protocol::Postgres);
    EXPECT_EQ(d.parse(1, 1), "fwd 1");
    EXPECT_EQ(d.execute(2, contained("insert"), 2), "fwd 2");
    EXPECT_EQ(d.sync(3), "flush 3@2");
    EXPECT_EQ(d.durable(2), "fwd 3");
  }
  {  // implicit batch of reads: Sync ends a read-only transaction and goes at once
    Drive d(Protocol::Postgres);
    d.parse(1, 1);
    d.execute(2, read_only("select"), 2);
    EXPECT_EQ(d.sync(3), "fwd 3");
  }
  {  // inside a confirmed block a Sync commits nothing
    Drive d(Protocol::Postgres);
    d.query(1, transaction_control("begin"), 1);
    d.ready('T');
    d.parse(2, 2);
    EXPECT_EQ(d.execute(3, contained("update"), 3), "fwd 3");
    EXPECT_EQ(d.sync(4), "fwd 4");
  }
}

TEST(ForwardingMatrix, AStatusWithoutARequestSetsTheStateButCountsNoAnswer) {
  Drive d(Protocol::Postgres);
  EXPECT_EQ(d.ready('I'), "");  // ReadyForQuery after startup
  EXPECT_EQ(d.query(1, escaping("set"), 1), "flush 1@1");
  // Nothing is outstanding at the backend: the cancel is for the held message.
  EXPECT_EQ(d.cancel(), "cancel 1");
  EXPECT_EQ(d.f().held(), 0u);
}

}  // namespace
}  // namespace segproxy::authz::wal::test
