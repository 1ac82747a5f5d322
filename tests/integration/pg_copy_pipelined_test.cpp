// COPY FROM STDIN with messages pipelined around it, through the proxy with raw protocol
// bytes (libpq cannot produce these sequences; issue 14's open gaps, h2). PostgreSQL 15
// reads CopyData, Flush and Sync (ignored) during COPY IN until CopyDone / CopyFail; any
// other message fails the COPY with 08P01 and ends the connection; a COPY that fails on
// its own stops reading. The session must count the requests the backend answers with
// ReadyForQuery exactly (protocols/pg/request_skips.hpp): a count one too high made the
// next lexing hold wait for ever, and once the following was lost (main: every case
// below) a later Query sent into a failed extended batch was awaited for ever too. Each
// case is followed by that Query and a lexing hold; where the backend's reading cannot be
// known the session ends with FATAL 08P01 instead.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "support/fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using std::chrono::seconds;
using CopyPipelined = ProxyTest;

std::string copy_data(const std::string& rows) { return frontend_message('d', rows); }
std::string copy_done() { return frontend_message('c', ""); }
std::string flush_packet() { return frontend_message('H', ""); }
std::string extended(const std::string& sql) {
  return parse_packet("", sql) + bind_packet("", "") + execute_packet("");
}

// The types of the messages that arrive until one of type `last` (included), the
// connection's end, or 30 s without a message.
struct Seen {
  std::string types;
  std::string sqlstates;  // of each ErrorResponse, space-separated
  bool closed = false;
};
Seen read_until(RawClient& raw, char last, int count = 1) {
  Seen s;
  for (;;) {
    const std::optional<BackendMessage> m = raw.read_message(seconds(30));
    if (!m) {
      s.closed = raw.last_status() == RawClient::ReadStatus::Closed;
      return s;
    }
    if (m->type == 'N' || m->type == 'S') continue;  // notices, parameter status: anywhere
    s.types += m->type;
    if (m->type == 'E') s.sqlstates += parse_error_fields(m->body)['C'] + " ";
    if (m->type == last && --count == 0) return s;
  }
}

// The session still counts exactly: a Query sent into an extended batch the backend
// failed is skipped (only the Sync answers), then a lexing hold (SET client_encoding:
// the next statement is judged only once the backend is idle) and a statement behind it.
void expect_requests_still_followed(RawClient& raw, const std::string& step) {
  ASSERT_TRUE(raw.send(extended("select 1/0") + query_packet("select 2") + sync_packet()));
  Seen s = read_until(raw, 'Z');
  ASSERT_EQ(s.types, "1EZ") << step;
  ASSERT_TRUE(raw.send(query_packet("SET client_encoding TO 'UTF8'") + query_packet("select 3")));
  s = read_until(raw, 'Z', 2);
  EXPECT_EQ(s.types, "CZTDCZ") << step << ": the statement behind the lexing hold was never answered";
}

class CopyPipelinedTables : public CopyPipelined {
 protected:
  void SetUp() override {
    CopyPipelined::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    table_ = unique_name("it_copy_pipe");
    view_ = table_ + "_v";
    ASSERT_TRUE(open_session(raw_, port_));
    ASSERT_TRUE(raw_.send(query_packet("create table " + table_ + " (id int)")));
    ASSERT_EQ(read_until(raw_, 'Z').types, "CZ");
    ASSERT_TRUE(raw_.send(query_packet("create view " + view_ + " as select id from " + table_)));
    ASSERT_EQ(read_until(raw_, 'Z').types, "CZ");
  }
  std::string count() {
    EXPECT_TRUE(raw_.send(query_packet("select count(*) from " + table_)));
    RawReply r = read_reply(raw_, seconds(30));
    EXPECT_EQ(r.types, "TDCZ");
    return r.rows.empty() ? "" : r.rows.front().substr(6);  // Int16 count, Int32 length
  }
  RawClient raw_;
  std::string table_;
  std::string view_;
};

// Case 1: a batch queued behind the Sync libpq sends after the Execute of COPY FROM STDIN,
// ahead of the CopyInResponse. The COPY to a view fails before it reads anything, so the
// Sync and the queued batch are answered at top level.
TEST_F(CopyPipelinedTables, BatchQueuedBehindTheSyncOfAnExecutedCopyThatFailsBeforeReadingIsAnsweredAndFollowed) {
  ASSERT_TRUE(raw_.send(extended("copy " + view_ + " from stdin") + sync_packet() + extended("select 1") +
                        sync_packet()));
  Seen s = read_until(raw_, 'Z', 2);
  EXPECT_EQ(s.types, "12GEZ12DCZ");
  EXPECT_EQ(s.sqlstates, "42809 ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "batch queued behind the COPY's Sync"));
}

// ...and when the COPY reads the queued Parse, the backend ends the connection (08P01,
// FATAL); the client hears it and the session ends.
TEST_F(CopyPipelinedTables, BatchQueuedBehindTheSyncOfAnExecutedCopyThatReadsItEndsWithTheBackendsFatal) {
  ASSERT_TRUE(raw_.send(extended("copy " + table_ + " from stdin") + sync_packet() + extended("select 1") +
                        sync_packet()));
  const Seen s = read_until(raw_, 'Z');
  EXPECT_TRUE(s.closed) << s.types;
  EXPECT_EQ(s.types, "12GEE");
  EXPECT_EQ(s.sqlstates, "08P01 08P01 ");
}

// Case 2: copy data pipelined ahead of the CopyInResponse, by both protocols, the COPY
// completing and failing on the data; what follows CopyDone runs at top level.
TEST_F(CopyPipelinedTables, CopyDataSentBeforeTheCopyInResponseIsFollowedByBothProtocols) {
  const std::string copy = "copy " + table_ + " from stdin";
  ASSERT_TRUE(raw_.send(query_packet(copy) + copy_data("1\n2\n") + copy_done() + query_packet("select 1")));
  Seen s = read_until(raw_, 'Z', 2);
  EXPECT_EQ(s.types, "GCZTDCZ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "simple, data ahead"));
  ASSERT_TRUE(raw_.send(query_packet(copy) + copy_data("x\n") + copy_data("3\n") + copy_done() +
                        query_packet("select 1")));
  s = read_until(raw_, 'Z', 2);
  EXPECT_EQ(s.types, "GEZTDCZ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "simple, bad data ahead"));
  // Extended (libpq's shape with the data sent at once): the Sync before the data is
  // COPY input; the one after CopyDone answers.
  ASSERT_TRUE(raw_.send(extended(copy) + sync_packet() + copy_data("3\n") + copy_done() + sync_packet() +
                        extended("select 1") + sync_packet()));
  s = read_until(raw_, 'Z', 2);
  EXPECT_EQ(s.types, "12GCZ12DCZ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "extended, data ahead"));
  ASSERT_TRUE(raw_.send(extended(copy) + sync_packet() + copy_data("x\n") + copy_done() + sync_packet() +
                        extended("select 1") + sync_packet()));
  s = read_until(raw_, 'Z', 2);
  EXPECT_EQ(s.types, "12GEZ12DCZ");
  EXPECT_EQ(s.sqlstates, "22P02 ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "extended, bad data ahead"));
  EXPECT_EQ(count(), "3");
}

// Case 3: a Sync sent during COPY IN (not libpq's) is COPY input, ignored: no
// ReadyForQuery of its own when the COPY completes, by either protocol.
TEST_F(CopyPipelinedTables, SyncSentDuringCopyInGetsNoReadyForQueryOfItsOwnAndTheSessionGoesOn) {
  const std::string copy = "copy " + table_ + " from stdin";
  ASSERT_TRUE(raw_.send(query_packet(copy)));
  ASSERT_EQ(read_until(raw_, 'G').types, "G");
  ASSERT_TRUE(raw_.send(copy_data("1\n") + sync_packet() + flush_packet() + copy_data("2\n") + copy_done() +
                        query_packet("select 1")));
  Seen s = read_until(raw_, 'Z', 2);
  EXPECT_EQ(s.types, "CZTDCZ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "simple"));
  ASSERT_TRUE(raw_.send(extended(copy) + flush_packet()));
  ASSERT_EQ(read_until(raw_, 'G').types, "12G");
  ASSERT_TRUE(raw_.send(copy_data("3\n") + sync_packet() + copy_data("4\n") + copy_done() + sync_packet()));
  s = read_until(raw_, 'Z');
  EXPECT_EQ(s.types, "CZ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "extended"));
  EXPECT_EQ(count(), "4");
}

// ...but when the COPY fails, a Sync between copy messages may have been read or not
// (the failure may be on data before or after it): the proxy cannot know how many
// ReadyForQuery will come, so the session ends with FATAL 08P01 (fail closed).
TEST_F(CopyPipelinedTables, SyncBetweenCopyDataOfACopyThatFailsEndsTheSessionWith08P01InsteadOfDrifting) {
  ASSERT_TRUE(raw_.send(query_packet("copy " + table_ + " from stdin")));
  ASSERT_EQ(read_until(raw_, 'G').types, "G");
  ASSERT_TRUE(raw_.send(copy_data("1\n") + sync_packet() + copy_data("x\n") + copy_done()));
  const Seen s = read_until(raw_, 'Z');
  EXPECT_TRUE(s.closed) << s.types;
  EXPECT_EQ(s.types, "E");
  EXPECT_EQ(s.sqlstates, "08P01 ");
}

// Case 4: a simple Query's COPY with Queries queued behind it. The COPY to a view fails
// before reading, and the Sync and Query behind it run; a COPY that reads the Query
// fails with 08P01 and the backend ends the connection.
TEST_F(CopyPipelinedTables, QueriesQueuedBehindASimpleCopyAreFollowedWhetherTheCopyFailedBeforeOrReadsThem) {
  ASSERT_TRUE(raw_.send(query_packet("copy " + view_ + " from stdin") + sync_packet() + query_packet("select 1")));
  Seen s = read_until(raw_, 'Z', 3);
  EXPECT_EQ(s.types, "GEZZTDCZ");
  ASSERT_NO_FATAL_FAILURE(expect_requests_still_followed(raw_, "Queries behind a COPY that failed before reading"));
  ASSERT_TRUE(raw_.send(query_packet("copy " + table_ + " from stdin") + query_packet("select 1")));
  s = read_until(raw_, 'Z');
  EXPECT_TRUE(s.closed) << s.types;
  EXPECT_EQ(s.types, "GEE");
  EXPECT_EQ(s.sqlstates, "08P01 08P01 ");
}

}  // namespace
}  // namespace segproxy::it
