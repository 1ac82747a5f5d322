// COPY FROM STDIN and the requests the backend skips (issue 14's open gaps, h2). What
// PostgreSQL 15 does was checked against the real server with raw protocol bytes (the
// answer strings below are its answers, notices left out): during COPY IN it reads
// CopyData, and Flush / Sync (ignored), until CopyDone / CopyFail; any other message
// fails the COPY with 08P01 and ends the connection; a COPY that fails on its own stops
// reading, and what follows is read at top level. RequestSkips follows each case or,
// where the server's reading cannot be known, stops (lost(): BackendStream then fails
// the stream, and the session ends with a protocol error instead of drifting).
#include <gtest/gtest.h>

#include <string>

#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/request_skips.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

const Parse kCopy{"", "copy t from stdin", 0};
const Parse kSelect{"", "select 1", 0};
const Bind kBind{"", "", 0, 0, 0};
const Execute kExecute{"", 0};
const Query kCopyQuery{"copy t from stdin"};
const Query kSelectQuery{"select 1"};

using test::answer;
using test::send;

// libpq's PQexecParams / PQexecPrepared of COPY FROM STDIN sends a Sync after the Execute
// and another after CopyDone; the server ignores the first (55.2.6), so two Syncs get one
// ReadyForQuery. The first is reported skipped when the COPY's Execute completes (with
// its outcome), whether the COPY succeeded or failed, and the following goes on.
TEST(PgRequestSkipsCopy, TheSyncBeforeACopyInStartedByExecuteIsSkippedWhenTheCopyEndsAndFollowingGoesOn) {
  RequestSkips s;
  send(s, {kCopy, kBind, Describe{'P', ""}, kExecute, Sync{}});
  EXPECT_EQ(answer(s, "12nG"), 0u);
  EXPECT_EQ(s.pending_requests(), 1u) << "the ignored Sync counts until the COPY ends";
  send(s, {CopyData{}, Flush{}, CopyData{}, CopyDone{}, Sync{}});
  EXPECT_EQ(s.pending_requests(), 2u);
  EXPECT_EQ(answer(s, "C"), 1u) << "the COPY completed: the Sync it ignored is skipped";
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
  send(s, {kSelect, Query{"select 1"}, Sync{}});
  EXPECT_EQ(answer(s, "E"), 1u) << "still followed after the COPY";
  EXPECT_EQ(answer(s, "Z"), 0u);
  EXPECT_FALSE(s.lost());

  // CopyFail: the Execute fails, the server discards to the Sync after CopyFail.
  RequestSkips fail;
  send(fail, {kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(fail, "2G"), 0u);
  send(fail, {CopyData{}, CopyFail{}, Sync{}});
  EXPECT_EQ(answer(fail, "E"), 1u);
  EXPECT_EQ(answer(fail, "Z"), 0u);
  EXPECT_EQ(fail.pending_requests(), 0u);
  EXPECT_FALSE(fail.lost());

  // Bad data fails the COPY before the client's CopyDone: the server ignores the rest of
  // the data and discards to the next Sync, a Query sent before it included.
  RequestSkips bad;
  send(bad, {kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(bad, "2G"), 0u);
  send(bad, {CopyData{}});
  EXPECT_EQ(answer(bad, "E"), 1u);
  send(bad, {CopyData{}, CopyDone{}});
  EXPECT_TRUE(bad.forwarded(Query{"select 1"})) << "discarded with the rest up to the Sync";
  send(bad, {Sync{}});
  EXPECT_EQ(answer(bad, "Z"), 0u);
  EXPECT_EQ(bad.pending_requests(), 0u);
  EXPECT_FALSE(bad.lost());

  // No Sync before the CopyInResponse (a client that flushes and waits): nothing ignored.
  RequestSkips flushed;
  send(flushed, {kBind, kExecute, Flush{}});
  EXPECT_EQ(answer(flushed, "2G"), 0u);
  send(flushed, {CopyData{}, CopyDone{}, Sync{}});
  EXPECT_EQ(answer(flushed, "CZ"), 0u);
  EXPECT_EQ(flushed.pending_requests(), 0u);
  EXPECT_FALSE(flushed.lost());
}

// A batch queued behind the ignored Sync before the CopyInResponse: the COPY reads the
// Sync, then the Parse, fails with 08P01 and the server ends the connection; or the COPY
// failed before reading anything (a view without INSTEAD OF trigger), and the Sync and
// the batch are answered at top level.
TEST(PgRequestSkipsCopy, BatchQueuedBehindTheSyncOfAnExecutedCopyIsFollowedWhetherTheCopyReadsItOrFailedBefore) {
  RequestSkips view;
  send(view, {kCopy, kBind, kExecute, Sync{}, kSelect, kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(view, "12G"), 0u);
  EXPECT_EQ(answer(view, "E"), 0u) << "42809 cannot copy to view: nothing was read, the Sync is answered";
  EXPECT_EQ(answer(view, "Z"), 0u);
  EXPECT_EQ(view.pending_requests(), 1u);
  EXPECT_EQ(answer(view, "12DCZ"), 0u);
  EXPECT_EQ(view.pending_requests(), 0u);
  EXPECT_FALSE(view.lost());

  RequestSkips read;
  send(read, {kCopy, kBind, kExecute, Sync{}, kSelect, kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(read, "12G"), 0u);
  EXPECT_EQ(answer(read, "EE"), 0u) << "08P01 unexpected message type 0x50, then FATAL: the connection ends";
  EXPECT_FALSE(read.lost());
}

// Copy data pipelined behind the COPY, ahead of its CopyInResponse: the COPY reads it;
// what follows its CopyDone is read at top level.
TEST(PgRequestSkipsCopy, CopyDataSentBeforeTheCopyInResponseIsFollowedForBothProtocols) {
  RequestSkips simple;
  send(simple, {kCopyQuery, CopyData{}, CopyDone{}, kSelectQuery});
  EXPECT_EQ(answer(simple, "GCZ"), 0u);
  EXPECT_EQ(answer(simple, "TDCZ"), 0u);
  EXPECT_EQ(simple.pending_requests(), 0u);
  EXPECT_FALSE(simple.lost());

  RequestSkips simple_bad;
  send(simple_bad, {kCopyQuery, CopyData{}, CopyData{}, CopyDone{}, kSelectQuery});
  EXPECT_EQ(answer(simple_bad, "GEZ"), 0u);
  EXPECT_EQ(answer(simple_bad, "TDCZ"), 0u) << "the rest of the data is ignored at top level";
  EXPECT_EQ(simple_bad.pending_requests(), 0u);
  EXPECT_FALSE(simple_bad.lost());

  RequestSkips extended;
  send(extended, {kCopy, kBind, kExecute, Sync{}, CopyData{}, CopyDone{}, Sync{}, kSelect, kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(extended, "12G"), 0u);
  EXPECT_EQ(answer(extended, "C"), 1u) << "the Sync ahead of the data was read by the COPY";
  EXPECT_EQ(answer(extended, "Z12DCZ"), 0u);
  EXPECT_EQ(extended.pending_requests(), 0u);
  EXPECT_FALSE(extended.lost());

  RequestSkips extended_bad;
  send(extended_bad, {kCopy, kBind, kExecute, Sync{}, CopyData{}, CopyDone{}, Sync{}, kSelect, kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(extended_bad, "12G"), 0u);
  EXPECT_EQ(answer(extended_bad, "E"), 1u) << "22P02 on the data: the Sync ahead of it was read";
  EXPECT_EQ(answer(extended_bad, "Z12DCZ"), 0u);
  EXPECT_EQ(extended_bad.pending_requests(), 0u);
  EXPECT_FALSE(extended_bad.lost());

  RequestSkips then_query;
  send(then_query, {kCopy, kBind, kExecute, Sync{}, CopyData{}, CopyDone{}, Sync{}, kSelectQuery});
  EXPECT_EQ(answer(then_query, "12GC"), 1u);
  EXPECT_EQ(answer(then_query, "ZTDCZ"), 0u);
  EXPECT_EQ(then_query.pending_requests(), 0u);
  EXPECT_FALSE(then_query.lost());
}

// A Sync sent during COPY IN (not libpq's): ignored when the COPY reads it. Completed
// COPY: every such Sync was read. Failed COPY: a Sync with no copy message behind it was
// not read (answered at top level); a Sync between copy messages may have been read or
// not (the failure may be on data before or after it): not followed.
TEST(PgRequestSkipsCopy, SyncSentDuringCopyInIsSkippedWhenTheCopyReadItAndNotFollowedWhereThatCannotBeKnown) {
  RequestSkips done;
  send(done, {kCopyQuery});
  EXPECT_EQ(answer(done, "G"), 0u);
  send(done, {CopyData{}, Sync{}, CopyData{}, CopyDone{}, kSelectQuery});
  EXPECT_EQ(answer(done, "C"), 0u);
  EXPECT_EQ(answer(done, "Z"), 1u) << "the Sync was COPY input: skipped with the Query's ReadyForQuery";
  EXPECT_EQ(answer(done, "TDCZ"), 0u);
  EXPECT_EQ(done.pending_requests(), 0u);
  EXPECT_FALSE(done.lost());

  RequestSkips trailing;
  send(trailing, {kCopyQuery});
  EXPECT_EQ(answer(trailing, "G"), 0u);
  send(trailing, {CopyData{}, Sync{}});
  EXPECT_EQ(answer(trailing, "EZZ"), 0u) << "22P02 before the Sync was read: it is answered";
  send(trailing, {kSelectQuery});
  EXPECT_EQ(answer(trailing, "TDCZ"), 0u);
  EXPECT_EQ(trailing.pending_requests(), 0u);
  EXPECT_FALSE(trailing.lost());

  RequestSkips between;
  send(between, {kCopyQuery});
  EXPECT_EQ(answer(between, "G"), 0u);
  send(between, {CopyData{}, Sync{}, CopyData{}, CopyDone{}});
  EXPECT_EQ(answer(between, "E"), 0u);
  EXPECT_TRUE(between.lost()) << "the server answered this Sync (22P02 on the first data), but could have read it";

  RequestSkips extended;
  send(extended, {kBind, kExecute, Sync{}});
  EXPECT_EQ(answer(extended, "2G"), 0u);
  send(extended, {CopyData{}, Sync{}, CopyData{}, CopyDone{}, Sync{}});
  EXPECT_EQ(answer(extended, "C"), 2u) << "both Syncs before CopyDone were COPY input";
  EXPECT_EQ(answer(extended, "Z"), 0u);
  EXPECT_EQ(extended.pending_requests(), 0u);
  EXPECT_FALSE(extended.lost());
}

// Queries queued behind a simple Query's COPY: the COPY reads the next one, fails with
// 08P01 and the server ends the connection; or the COPY failed before, and they run.
TEST(PgRequestSkipsCopy, QueriesQueuedBehindASimpleCopyAreFollowedWhetherTheCopyReadsThemOrFailedBefore) {
  RequestSkips read;
  send(read, {kCopyQuery, kSelectQuery});
  EXPECT_EQ(answer(read, "G"), 0u);
  EXPECT_EQ(answer(read, "EE"), 0u) << "08P01 unexpected message type 0x51, then FATAL";
  EXPECT_FALSE(read.lost());

  RequestSkips view;
  send(view, {kCopyQuery, Sync{}, kSelectQuery});
  EXPECT_EQ(answer(view, "G"), 0u);
  EXPECT_EQ(answer(view, "EZ"), 0u) << "42809: nothing was read";
  EXPECT_EQ(answer(view, "Z"), 0u) << "the Sync is answered at top level";
  EXPECT_EQ(answer(view, "TDCZ"), 0u);
  EXPECT_EQ(view.pending_requests(), 0u);
  EXPECT_FALSE(view.lost());
}

// One Query with two COPY FROM STDIN, both fed ahead of their CopyInResponses.
TEST(PgRequestSkipsCopy, EachCopyOfAMultiStatementQueryReadsUpToItsOwnCopyDone) {
  RequestSkips s;
  send(s, {Query{"copy t from stdin; copy t from stdin"}, CopyData{}, CopyDone{}, CopyData{}, CopyDone{},
           kSelectQuery});
  EXPECT_EQ(answer(s, "GCGCZ"), 0u);
  EXPECT_EQ(answer(s, "TDCZ"), 0u);
  EXPECT_EQ(s.pending_requests(), 0u);
  EXPECT_FALSE(s.lost());

  RequestSkips live;
  send(live, {Query{"copy t from stdin; copy t from stdin"}});
  EXPECT_EQ(answer(live, "G"), 0u);
  send(live, {CopyData{}, Sync{}, CopyDone{}});
  EXPECT_EQ(answer(live, "CG"), 0u);
  send(live, {CopyData{}, Sync{}, CopyDone{}});
  EXPECT_EQ(answer(live, "C"), 0u);
  EXPECT_EQ(answer(live, "Z"), 2u) << "each COPY read one Sync";
  EXPECT_EQ(live.pending_requests(), 0u);
  EXPECT_FALSE(live.lost());
}

// ---- BackendStream: where the pairing is lost, the stream fails (the session ends) ----

struct Events : BackendEvents {
  std::string seen;
  void on_backend_message(char type, std::span<const std::uint8_t>) override { seen += type; }
  void on_request_skipped() override { seen += '!'; }
};

test::Bytes E() {
  return test::frame('E', test::Body().u8('S').cstr("ERROR").u8('V').cstr("ERROR").u8('C').cstr("22P02").u8('M').cstr(
                              "x").u8(0));
}

TEST(PgRequestSkipsCopy, StreamFailsWhereRequestsAndAnswersCanNoLongerBePaired) {
  BackendStream s(Limits{}, BackendCheck::Structure);
  for (const FrontendMessage& m : std::initializer_list<FrontendMessage>{kCopyQuery}) EXPECT_FALSE(s.frontend_forwarded(m));
  Events ev;
  ASSERT_EQ(s.feed(test::frame('G', test::Body().u8(0).i16(0)), ev), DecodeStatus::Ok) << s.error();
  for (const FrontendMessage& m : std::initializer_list<FrontendMessage>{CopyData{}, Sync{}, CopyData{}, CopyDone{}})
    EXPECT_FALSE(s.frontend_forwarded(m));
  const test::Bytes error = E();
  EXPECT_EQ(s.feed(error, ev), DecodeStatus::Malformed);
  EXPECT_FALSE(s.follows_skips());
  EXPECT_NE(s.error().find("can no longer be matched"), std::string::npos) << s.error();
  EXPECT_EQ(s.clean_prefix(), 0u) << "the message that showed it is not relayed";
  EXPECT_EQ(s.feed(test::frame('Z', test::Body().u8('I')), ev), DecodeStatus::Malformed) << "for good";
}

}  // namespace
}  // namespace segproxy::protocols::pg
