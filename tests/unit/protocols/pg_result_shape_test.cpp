// Issue 12 leftovers, item 3: in Structure mode a DataRow must have as many columns as
// the RowDescription that certainly describes it (protocols/pg/result_shape.hpp) - the
// result set of a simple Query, or a Describe of the portal the next Execute runs. A
// mismatch is Malformed (the relay answers FATAL 08P01 and ends the session); rows whose
// description is not certain (statement Describe, another portal, after PortalSuspended)
// are never refused.
#include <gtest/gtest.h>

#include "protocols/pg/backend_decoder.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

struct Ignore : BackendEvents {
  void on_backend_message(char, std::span<const std::uint8_t>) override {}
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
Bytes C() { return frame('C', Body().cstr("SELECT 1")); }
Bytes Z() { return frame('Z', Body().u8('I')); }
Bytes one(char type) { return frame(type, Body()); }
Bytes notice() {
  return frame('N', Body().u8('S').cstr("NOTICE").u8('V').cstr("NOTICE").u8('C').cstr("00000").u8('M').cstr("hi").u8(0));
}
Bytes error() {
  return frame('E', Body().u8('S').cstr("ERROR").u8('V').cstr("ERROR").u8('C').cstr("42P01").u8('M').cstr("nope").u8(0));
}

// Feeds `wire` in chunks of `chunk` bytes; the first non-Ok status.
DecodeStatus feed(BackendStream& s, const Bytes& wire, std::size_t chunk = 1u << 20) {
  Ignore ig;
  for (std::size_t at = 0; at < wire.size(); at += chunk) {
    const auto st = s.feed(std::span(wire).subspan(at, std::min(chunk, wire.size() - at)), ig);
    if (st != DecodeStatus::Ok) return st;
  }
  return DecodeStatus::Ok;
}

BackendStream stream(std::initializer_list<FrontendMessage> sent) {
  BackendStream s(Limits{}, BackendCheck::Structure);
  for (const auto& m : sent) s.frontend_forwarded(m);
  return s;
}

TEST(PgResultShape, SimpleQueryDataRowWithAnotherColumnCountIsMalformedUnderEveryChunking) {
  const Bytes wire = test::concat({T(2), D(2), D(3), C(), Z()});
  for (std::size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    BackendStream s = stream({Query{"select a, b from t"}});
    ASSERT_EQ(feed(s, wire, chunk), DecodeStatus::Malformed) << chunk;
    EXPECT_EQ(s.error(), "backend sent a DataRow of 3 columns after a RowDescription of 2 fields");
  }
  BackendStream fewer = stream({Query{"select a, b from t"}});
  EXPECT_EQ(feed(fewer, test::concat({T(2), D(1)})), DecodeStatus::Malformed);
}

TEST(PgResultShape, EachResultSetOfAMultiStatementQueryIsCheckedAgainstItsOwnDescription) {
  BackendStream ok = stream({Query{"select 1, 2; select 1, 2, 3; select"}});
  EXPECT_EQ(feed(ok, test::concat({T(2), D(2), C(), T(3), D(3), D(3), C(), T(0), D(0), C(), Z()})), DecodeStatus::Ok)
      << ok.error();
  BackendStream bad = stream({Query{"select 1, 2; select 1, 2, 3"}});
  EXPECT_EQ(feed(bad, test::concat({T(2), D(2), C(), T(3), D(2)})), DecodeStatus::Malformed);
}

TEST(PgResultShape, AsynchronousMessagesBetweenDescriptionAndRowsKeepTheCheck) {
  const Bytes status = frame('S', Body().cstr("TimeZone").cstr("UTC"));
  BackendStream s = stream({Query{"select 1"}});
  EXPECT_EQ(feed(s, test::concat({T(1), notice(), status, D(1), notice(), D(2)})), DecodeStatus::Malformed);
}

TEST(PgResultShape, CopyAndCommandsWithoutRowsDoNotDisturbTheNextResultSet) {
  BackendStream s = stream({Query{"copy t to stdout; insert into t values (1); select 1, 2"}});
  const Bytes copy = test::concat({frame('H', Body().u8(0).i16(1).i16(0)), frame('d', Body().str("1\n")), one('c'),
                                   frame('C', Body().cstr("COPY 1"))});
  EXPECT_EQ(feed(s, test::concat({copy, frame('C', Body().cstr("INSERT 0 1")), T(2), D(2), C(), Z()})), DecodeStatus::Ok)
      << s.error();
}

TEST(PgResultShape, DescribeOfThePortalTheNextExecuteRunsIsChecked) {
  const Bytes wire = test::concat({one('1'), one('2'), T(2), D(3), C(), Z()});
  BackendStream s = stream({Parse{"", "select 1, 2", 0}, Bind{"", "", 0, 0, 0}, Describe{'P', ""}, Execute{"", 0}, Sync{}});
  EXPECT_EQ(feed(s, wire), DecodeStatus::Malformed);
  EXPECT_EQ(s.error(), "backend sent a DataRow of 3 columns after a RowDescription of 2 fields");
  // A Flush between Describe and Execute changes nothing.
  BackendStream f = stream({Bind{"p", "s", 0, 0, 0}, Describe{'P', "p"}, Flush{}, Execute{"p", 0}, Sync{}});
  EXPECT_EQ(feed(f, test::concat({one('2'), T(2), D(3)})), DecodeStatus::Malformed);
  BackendStream good = stream({Bind{"p", "s", 0, 0, 0}, Describe{'P', "p"}, Execute{"p", 0}, Sync{}});
  EXPECT_EQ(feed(good, test::concat({one('2'), T(2), D(2), D(2), C(), Z()})), DecodeStatus::Ok) << good.error();
}

// Rows the RowDescription does not certainly describe are never refused.
TEST(PgResultShape, RowsOfAnotherPortalOrAfterAStatementDescribeAreNotChecked) {
  BackendStream other = stream({Bind{"p1", "s1", 0, 0, 0}, Bind{"p2", "s2", 0, 0, 0}, Describe{'P', "p1"},
                                Execute{"p2", 0}, Sync{}});
  EXPECT_EQ(feed(other, test::concat({one('2'), one('2'), T(2), D(5), C(), Z()})), DecodeStatus::Ok) << other.error();
  BackendStream statement = stream({Parse{"s1", "select 1, 2, 3", 0}, Describe{'S', "s1"}, Parse{"", "select 1", 0},
                                    Bind{"", "", 0, 0, 0}, Execute{"", 0}, Sync{}});
  EXPECT_EQ(feed(statement, test::concat({one('1'), frame('t', Body().i16(0)), T(3), one('1'), one('2'), D(1), C(), Z()})),
            DecodeStatus::Ok)
      << statement.error();
  // PortalSuspended: the next Execute of the portal continues without a description.
  BackendStream suspended = stream({Bind{"", "", 0, 0, 0}, Describe{'P', ""}, Execute{"", 1}, Execute{"", 0}, Sync{}});
  EXPECT_EQ(feed(suspended, test::concat({one('2'), T(2), D(2), one('s'), D(2), C(), Z()})), DecodeStatus::Ok)
      << suspended.error();
}

TEST(PgResultShape, AnErrorSkipsTheRestOfItsBatchAndLaterBatchesStayAligned) {
  BackendStream s = stream({Parse{"", "select nope", 0}, Bind{"", "", 0, 0, 0}, Describe{'P', ""}, Execute{"", 0},
                            Sync{}, Query{"select 1, 2"}, Bind{"p", "s", 0, 0, 0}, Describe{'P', "p"},
                            Execute{"p", 0}, Sync{}});
  EXPECT_EQ(feed(s, test::concat({error(), Z(), T(2), D(2), C(), Z(), one('2'), T(4), D(4), C(), Z()})),
            DecodeStatus::Ok)
      << s.error();
  s.frontend_forwarded(Query{"select 1"});
  EXPECT_EQ(feed(s, test::concat({T(1), D(2)})), DecodeStatus::Malformed);
}

// Every pending batch's Describes share one queue (issue 15: no queue per batch): the
// second of two pipelined batches must be matched with its own Describe, also when its
// Describe arrives while the first batch is being answered.
TEST(PgResultShape, PipelinedBatchesEachMatchTheirOwnPortalDescribe) {
  BackendStream s = stream({Bind{"a", "s", 0, 0, 0}, Describe{'P', "a"}, Execute{"a", 0}, Sync{},
                            Bind{"b", "s", 0, 0, 0}, Describe{'S', "s"}, Describe{'P', "b"}, Execute{"b", 0}, Sync{}});
  EXPECT_EQ(feed(s, test::concat({one('2'), T(2), D(2), C(), Z()})), DecodeStatus::Ok) << s.error();
  // Second batch: the statement Describe's RowDescription (4 fields, not checked), then
  // the portal's (3 fields): its rows must have 3 columns.
  EXPECT_EQ(feed(s, test::concat({one('2'), frame('t', Body().i16(0)), T(4), T(3), D(3)})), DecodeStatus::Ok)
      << s.error();
  EXPECT_EQ(feed(s, D(4)), DecodeStatus::Malformed);
  EXPECT_EQ(s.error(), "backend sent a DataRow of 4 columns after a RowDescription of 3 fields");

  BackendStream late = stream({Bind{"a", "s", 0, 0, 0}, Describe{'P', "a"}, Execute{"a", 0}, Sync{}});
  EXPECT_EQ(feed(late, test::concat({one('2'), T(1), D(1)})), DecodeStatus::Ok) << late.error();
  for (const FrontendMessage& m : std::initializer_list<FrontendMessage>{
           Bind{"b", "s", 0, 0, 0}, Describe{'P', "b"}, Execute{"b", 0}, Sync{}})
    late.frontend_forwarded(m);
  EXPECT_EQ(feed(late, test::concat({D(1), C(), Z(), one('2'), T(2), D(2), C(), Z()})), DecodeStatus::Ok)
      << late.error();
  late.frontend_forwarded(Query{"select 1"});
  EXPECT_EQ(feed(late, test::concat({T(1), D(2)})), DecodeStatus::Malformed) << "still aligned after both batches";
}

TEST(PgResultShape, PendingRequestsAreBoundedAndOverflowNeverRefusesRows) {
  BackendStream s(Limits{}, BackendCheck::Structure);
  for (std::size_t i = 0; i < ResultShape::kMaxPending + 10; ++i) s.frontend_forwarded(Sync{});
  s.frontend_forwarded(Query{"select 1, 2"});
  EXPECT_EQ(feed(s, test::concat({Z(), T(2), D(3), C(), Z()})), DecodeStatus::Ok) << s.error();
  ResultShape shape;
  for (std::size_t i = 0; i < ResultShape::kMaxPending + 10; ++i) shape.forwarded(Query{"select 1"});
  EXPECT_LE(shape.pending_batches(), ResultShape::kMaxPending);
}

// Framing mode (the startup phase) and a stream never told about frontend messages check
// no column counts: nothing can be matched.
TEST(PgResultShape, WithoutFrontendMessagesNothingIsMatched) {
  BackendStream s(Limits{}, BackendCheck::Structure);
  EXPECT_EQ(feed(s, test::concat({T(2), D(3), C(), Z()})), DecodeStatus::Ok) << s.error();
  BackendStream framing(Limits{}, BackendCheck::Framing);
  framing.frontend_forwarded(Query{"select 1"});
  EXPECT_EQ(feed(framing, test::concat({T(2), D(3), C(), Z()})), DecodeStatus::Ok);
}

}  // namespace
}  // namespace segproxy::protocols::pg
