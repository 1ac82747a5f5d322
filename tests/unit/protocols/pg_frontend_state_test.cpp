// COPY sub-protocol state and extended-query names the proxy follows itself (issue 12
// item 4.5): protocols/pg/frontend_state.hpp.
#include "protocols/pg/frontend_state.hpp"

#include <gtest/gtest.h>

#include <array>

namespace segproxy::protocols::pg {
namespace {

using Action = FrontendCheck::Action;

const std::array<std::uint8_t, 1> kIdle{'I'};
const std::array<std::uint8_t, 1> kInTxn{'T'};

TEST(PgFrontendState, CopyMessagesWhileIdleAreDropped) {
  FrontendState s;
  EXPECT_EQ(s.check(CopyData{}).action, Action::Drop);
  EXPECT_EQ(s.check(CopyDone{}).action, Action::Drop);
  EXPECT_EQ(s.check(CopyFail{"x"}).action, Action::Drop);
}

TEST(PgFrontendState, CopyMessagesAreForwardedOnlyDuringCopyIn) {
  FrontendState s;
  s.forwarded(Query{"COPY t FROM STDIN"});
  s.request_sent();
  // Pipelined behind the COPY before CopyInResponse arrived: the backend may need them.
  EXPECT_EQ(s.check(CopyData{}).action, Action::Forward);
  s.backend('G', {});
  EXPECT_TRUE(s.in_copy_in());
  EXPECT_EQ(s.check(CopyData{}).action, Action::Forward);
  EXPECT_EQ(s.check(CopyDone{}).action, Action::Forward);
  s.backend('C', {});
  EXPECT_FALSE(s.in_copy_in());
  s.backend('Z', kIdle);
  EXPECT_EQ(s.check(CopyData{}).action, Action::Drop);
  EXPECT_EQ(s.check(CopyFail{"late"}).action, Action::Drop);
}

TEST(PgFrontendState, CopyEndsWithAnErrorToo) {
  FrontendState s;
  s.request_sent();
  s.backend('G', {});
  s.backend('E', {});
  s.backend('Z', kIdle);
  EXPECT_EQ(s.check(CopyData{}).action, Action::Drop);
}

TEST(PgFrontendState, BindAndDescribeOfAStatementNeverParsedAreRefusedWith26000) {
  FrontendState s;
  auto c = s.check(Bind{"", "sqlprep", {}, {}, {}});
  EXPECT_EQ(c.action, Action::Refuse);
  EXPECT_EQ(c.sqlstate, "26000");
  EXPECT_NE(c.message.find("\"sqlprep\""), std::string::npos) << c.message;
  c = s.check(Describe{'S', "sqlprep"});
  EXPECT_EQ(c.sqlstate, "26000");
  c = s.check(Bind{"", "", {}, {}, {}});
  EXPECT_EQ(c.sqlstate, "26000");
  EXPECT_NE(c.message.find("unnamed prepared statement"), std::string::npos);

  s.forwarded(Parse{"s1", "select 1", {}});
  EXPECT_EQ(s.check(Bind{"", "s1", {}, {}, {}}).action, Action::Forward);
  EXPECT_EQ(s.check(Describe{'S', "s1"}).action, Action::Forward);
  s.forwarded(Close{'S', "s1"});
  EXPECT_EQ(s.check(Bind{"", "s1", {}, {}, {}}).sqlstate, "26000");
  // Closing a name nobody created is not an error (as in PostgreSQL).
  EXPECT_EQ(s.check(Close{'S', "never"}).action, Action::Forward);
}

TEST(PgFrontendState, ExecuteAndDescribeOfAPortalNeverBoundAreRefusedWith34000) {
  FrontendState s;
  auto c = s.check(Execute{"sqlcursor", 0});
  EXPECT_EQ(c.action, Action::Refuse);
  EXPECT_EQ(c.sqlstate, "34000");
  EXPECT_EQ(s.check(Describe{'P', "sqlcursor"}).sqlstate, "34000");
  s.forwarded(Parse{"", "select 1", {}});
  s.forwarded(Bind{"p", "", {}, {}, {}});
  EXPECT_EQ(s.check(Execute{"p", 0}).action, Action::Forward);
  EXPECT_EQ(s.check(Describe{'P', "p"}).action, Action::Forward);
}

TEST(PgFrontendState, QueryDestroysTheUnnamedStatementAndPortal) {
  FrontendState s;
  s.forwarded(Parse{"", "select 1", {}});
  s.forwarded(Bind{"", "", {}, {}, {}});
  s.forwarded(Query{"select 2"});
  EXPECT_EQ(s.check(Bind{"", "", {}, {}, {}}).sqlstate, "26000");
  EXPECT_EQ(s.check(Execute{"", 0}).sqlstate, "34000");
}

TEST(PgFrontendState, PortalsDieWithTheirTransactionButNotWithAPipelinedOne) {
  FrontendState s;
  s.forwarded(Parse{"", "select 1", {}});
  s.forwarded(Bind{"a", "", {}, {}, {}});
  s.request_sent();  // Sync 1
  s.forwarded(Bind{"b", "", {}, {}, {}});  // pipelined behind Sync 1
  s.backend('Z', kIdle);                   // Sync 1 answered: "a" is gone, "b" is not
  EXPECT_EQ(s.check(Execute{"a", 0}).sqlstate, "34000");
  EXPECT_EQ(s.check(Execute{"b", 0}).action, Action::Forward);
  s.request_sent();  // Sync 2
  s.backend('Z', kInTxn);  // still inside a transaction: portals live on
  EXPECT_EQ(s.check(Execute{"b", 0}).action, Action::Forward);
  s.request_sent();
  s.backend('Z', kIdle);
  EXPECT_EQ(s.check(Execute{"b", 0}).sqlstate, "34000");
  EXPECT_EQ(s.portal_count(), 0u);
}

// The unnamed statement and portal are kept outside the name tables (issue 15: no hash
// node per transaction); they follow the same rules as named ones.
TEST(PgFrontendState, TheUnnamedPortalDiesWithItsTransactionButNotWithAPipelinedOne) {
  FrontendState s;
  s.forwarded(Parse{"", "select 1", {}});
  s.forwarded(Bind{"", "", {}, {}, {}});
  EXPECT_EQ(s.portal_count(), 1u);
  s.request_sent();  // Sync 1
  s.backend('Z', kIdle);  // Sync 1 answered: the unnamed portal is gone, the statement is not
  EXPECT_EQ(s.check(Execute{"", 0}).sqlstate, "34000");
  EXPECT_EQ(s.check(Bind{"", "", {}, {}, {}}).action, Action::Forward);
  s.forwarded(Bind{"", "", {}, {}, {}});
  s.request_sent();  // Sync 2
  s.forwarded(Bind{"", "", {}, {}, {}});  // pipelined behind Sync 2: bound again
  s.backend('Z', kIdle);                  // Sync 2 answered: the re-bound portal lives on
  EXPECT_EQ(s.check(Execute{"", 0}).action, Action::Forward);
  s.request_sent();
  s.backend('Z', kInTxn);  // inside a transaction: it lives on
  EXPECT_EQ(s.check(Execute{"", 0}).action, Action::Forward);
  s.forwarded(Close{'P', ""});
  EXPECT_EQ(s.check(Execute{"", 0}).sqlstate, "34000");
  EXPECT_EQ(s.portal_count(), 0u);
  EXPECT_EQ(s.statement_count(), 1u);
  s.forwarded(Close{'S', ""});
  EXPECT_EQ(s.check(Bind{"", "", {}, {}, {}}).sqlstate, "26000");
  EXPECT_EQ(s.statement_count(), 0u);
}

TEST(PgFrontendState, NameTablesAreCapped) {
  FrontendState s(2);
  s.forwarded(Parse{"a", "select 1", {}});
  s.forwarded(Parse{"b", "select 1", {}});
  EXPECT_EQ(s.check(Parse{"c", "select 1", {}}).sqlstate, "54000");
  EXPECT_EQ(s.check(Parse{"a", "select 1", {}}).action, Action::Forward);  // an existing name
  s.forwarded(Bind{"p", "a", {}, {}, {}});
  s.forwarded(Bind{"q", "a", {}, {}, {}});
  EXPECT_EQ(s.check(Bind{"r", "a", {}, {}, {}}).sqlstate, "54000");
}

}  // namespace
}  // namespace segproxy::protocols::pg
