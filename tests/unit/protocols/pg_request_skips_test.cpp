// Issues 12 / 14 leftovers: PostgreSQL discards every message but Sync after an error in
// an extended-protocol message, so a simple Query or FunctionCall sent into a batch the
// backend failed gets no ReadyForQuery. RequestSkips (protocols/pg/request_skips.hpp)
// says which requests the backend skipped, so the session's count of requests awaiting
// a ReadyForQuery is the server's; BackendStream reports them (on_request_skipped) and
// keeps its DataRow/RowDescription matching aligned with them.
#include <gtest/gtest.h>

#include <string>

#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/request_skips.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

const Parse kParse{"", "select 1", 0};
const Bind kBind{"", "", 0, 0, 0};
const Execute kExecute{"", 0};

using test::answer;
using test::send;

TEST(PgRequestSkips, QueryIntoABatchTheBackendFailedIsSkippedAndOnlyTheSyncIsAnswered) {
  RequestSkips s;
  send(s, {kParse, kBind, kExecute, Query{"select 2"}, Sync{}});
  EXPECT_EQ(s.pending_requests(), 2u);
  EXPECT_EQ(answer(s, "1"), 0u);
  EXPECT_EQ(answer(s, "E"), 1u) << "the Bind failed: the Query behind it is skipped";
  EXPECT_EQ(s.pending_requests(), 1u);
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
  EXPECT_FALSE(s.lost());
}

TEST(PgRequestSkips, QueryIntoABatchThatDidNotFailGetsItsOwnReadyForQueryEvenWhenItFails) {
  RequestSkips s;
  send(s, {kParse, kBind, Describe{'P', ""}, kExecute, Query{"select 1/0"}, Sync{}});
  EXPECT_EQ(answer(s, "12TDDC"), 0u);
  EXPECT_EQ(answer(s, "EZ"), 0u) << "an error of the Query itself skips nothing";
  EXPECT_EQ(s.pending_requests(), 1u);
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
  EXPECT_FALSE(s.lost());
}

TEST(PgRequestSkips, EveryQueryAndFunctionCallUpToTheSyncIsSkippedNothingAfterIt) {
  RequestSkips s;
  send(s, {kParse, Query{"select 1"}, kBind, FunctionCall{764}, Query{"select 2"}, Sync{}, Query{"select 3"}});
  EXPECT_EQ(answer(s, "E"), 3u);
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 1u) << "the Query after the Sync is answered";
  EXPECT_EQ(answer(s, "TDCZ"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
}

TEST(PgRequestSkips, QueryForwardedAfterTheBackendFailedTheOpenBatchIsKnownSkippedAtOnce) {
  RequestSkips s;
  send(s, {Parse{"", "selec", 0}});
  EXPECT_EQ(answer(s, "E"), 0u) << "no request forwarded yet";
  EXPECT_TRUE(s.forwarded(Query{"select 1"}));
  EXPECT_TRUE(s.forwarded(FunctionCall{764}));
  EXPECT_FALSE(s.forwarded(kBind)) << "discarded too";
  EXPECT_FALSE(s.forwarded(Sync{}));
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
  EXPECT_FALSE(s.forwarded(Query{"select 1"})) << "the Sync ended the discarding";
  EXPECT_EQ(answer(s, "TDCZ"), 0u);
  EXPECT_FALSE(s.lost());
}

// Each extended message has one completion: a statement Describe's ParameterDescription
// comes before it, rows and PortalSuspended belong to Execute, notices anywhere.
TEST(PgRequestSkips, CompletionsAreCountedPerMessageSoTheFailingMessageIsFound) {
  RequestSkips s;
  send(s, {kParse, Describe{'S', ""}, kBind, Execute{"", 1}, kExecute, Close{'P', ""}, Query{"select 1"}, Sync{}});
  EXPECT_EQ(answer(s, "1tTN2DsDDCS3"), 0u) << "all six answered: the Query runs";
  EXPECT_EQ(answer(s, "E"), 0u);
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 1u);
  // Same batch, the second Execute fails: the Query is skipped.
  RequestSkips f;
  send(f, {kParse, Describe{'S', ""}, kBind, Execute{"", 1}, kExecute, Close{'P', ""}, Query{"select 1"}, Sync{}});
  EXPECT_EQ(answer(f, "1tn2DsD"), 0u);
  EXPECT_EQ(answer(f, "E"), 1u);
  EXPECT_EQ(answer(f, "Z"), 0u);
  EXPECT_EQ(f.pending_requests(), 0u);
  EXPECT_FALSE(f.lost());
}

TEST(PgRequestSkips, PipelinedBatchesStayAlignedAcrossAFailedOne) {
  RequestSkips s;
  send(s, {kParse, kBind, kExecute, Sync{}, kParse, kBind, kExecute, Query{"select 1"}, Sync{}, kBind, kExecute,
           Query{"select 2"}, Sync{}});
  EXPECT_EQ(answer(s, "12DCZ"), 0u);
  EXPECT_EQ(answer(s, "1E"), 1u);
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(answer(s, "2C"), 0u);
  EXPECT_EQ(answer(s, "TDCZ"), 0u) << "the last batch did not fail: its Query is answered";
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
  EXPECT_FALSE(s.lost());
}

TEST(PgRequestSkips, AReadyForQueryNoForwardedRequestCanExplainStopsTheFollowing) {
  RequestSkips s;
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_TRUE(s.lost());
  RequestSkips early;
  send(early, {kParse, kBind, Sync{}});
  EXPECT_EQ(answer(early, "1Z"), 0u);
  EXPECT_TRUE(early.lost()) << "a Bind had no completion";
  EXPECT_FALSE(early.forwarded(Query{"select 1"}));
}

TEST(PgRequestSkips, PendingRequestsAreBoundedAndOverflowReportsNothing) {
  RequestSkips s;
  send(s, {kParse});
  for (std::size_t i = 0; i < RequestSkips::kMaxPending + 1; ++i) EXPECT_FALSE(s.forwarded(Query{"select 1"}));
  EXPECT_TRUE(s.lost());
  EXPECT_EQ(s.pending_requests(), 0u);
  EXPECT_EQ(answer(s, "E"), 0u);
}

// ---- BackendStream: reports the skips and keeps the row shape matching aligned ----

struct Events : BackendEvents {
  std::string seen;  // watched types, '!' for a skipped request
  void on_backend_message(char type, std::span<const std::uint8_t>) override { seen += type; }
  void on_request_skipped() override { seen += '!'; }
};

Bytes T(int fields) {
  Body b;
  b.i16(static_cast<std::int16_t>(fields));
  for (int i = 0; i < fields; ++i) b.cstr("c").i32(0).i16(0).i32(23).i16(4).i32(-1).i16(0);
  return frame('T', b);
}
Bytes D(int columns) {
  Body b;
  b.i16(static_cast<std::int16_t>(columns));
  for (int i = 0; i < columns; ++i) b.i32(1).str("7");
  return frame('D', b);
}
Bytes one(char type) { return frame(type, Body()); }
Bytes C() { return frame('C', Body().cstr("SELECT 1")); }
Bytes Z() { return frame('Z', Body().u8('I')); }
Bytes E() {
  return frame('E', Body().u8('S').cstr("ERROR").u8('V').cstr("ERROR").u8('C').cstr("22012").u8('M').cstr("x").u8(0));
}

TEST(PgRequestSkips, StreamReportsTheSkipAfterTheErrorAndLaterResultSetsAreStillChecked) {
  BackendStream s(Limits{}, BackendCheck::Structure);
  for (const FrontendMessage& m : std::initializer_list<FrontendMessage>{
           kParse, kBind, kExecute, Query{"select 1, 2"}, Sync{}, Query{"select 1, 2, 3"}})
    EXPECT_FALSE(s.frontend_forwarded(m));
  Events ev;
  ASSERT_EQ(s.feed(test::concat({one('1'), E(), Z()}), ev), DecodeStatus::Ok) << s.error();
  EXPECT_EQ(ev.seen, "1E!Z");
  // The last Query's result set is matched with its own RowDescription.
  EXPECT_EQ(s.feed(test::concat({T(3), D(3), D(2)}), ev), DecodeStatus::Malformed);
  EXPECT_EQ(s.error(), "backend sent a DataRow of 2 columns after a RowDescription of 3 fields");
  EXPECT_EQ(s.rows_checked(), 1u);
}

TEST(PgRequestSkips, StreamSaysAtOnceWhenAForwardedQueryIsSkippedAndStaysAligned) {
  BackendStream s(Limits{}, BackendCheck::Structure);
  EXPECT_FALSE(s.frontend_forwarded(kParse));
  Events ev;
  ASSERT_EQ(s.feed(E(), ev), DecodeStatus::Ok);
  EXPECT_TRUE(s.frontend_forwarded(Query{"select 1"}));
  EXPECT_TRUE(s.frontend_forwarded(FunctionCall{764}));
  EXPECT_FALSE(s.frontend_forwarded(Sync{}));
  EXPECT_FALSE(s.frontend_forwarded(Query{"select 1, 2"}));
  ASSERT_EQ(s.feed(test::concat({Z(), T(2), D(2), C(), Z()}), ev), DecodeStatus::Ok) << s.error();
  EXPECT_EQ(ev.seen, "EZCZ");
  EXPECT_EQ(s.rows_checked(), 1u);
  EXPECT_TRUE(s.follows_skips());
}

}  // namespace
}  // namespace segproxy::protocols::pg
