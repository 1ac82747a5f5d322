// Issue 12 item 4.4: in Structure mode (the relay) BackendStream refuses every malformed
// backend message before it reaches the client: real result bytes pass under every
// chunking; each mutation is Malformed, and clean_prefix() says how much of the feed
// before the offending message may still be relayed.
#include <gtest/gtest.h>

#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/backend_validator.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

struct Recorder : BackendEvents {
  std::string types;
  void on_backend_message(char type, std::span<const std::uint8_t>) override { types += type; }
};

// What PostgreSQL 15 sends for `select 1 as a, null::text as b` in the extended protocol
// and then a simple Query with a notice and an error.
Bytes real_results() {
  return test::concat({
      frame('1', Body()),
      frame('2', Body()),
      frame('T', Body().i16(2).cstr("a").i32(0).i16(0).i32(23).i16(4).i32(-1).i16(0)
                     .cstr("b").i32(0).i16(0).i32(25).i16(-1).i32(-1).i16(0)),
      frame('D', Body().i16(2).i32(1).str("1").i32(-1)),
      frame('C', Body().cstr("SELECT 1")),
      frame('Z', Body().u8('I')),
      frame('N', Body().u8('S').cstr("NOTICE").u8('V').cstr("NOTICE").u8('C').cstr("00000").u8('M').cstr("hi").u8(0)),
      frame('S', Body().cstr("TimeZone").cstr("UTC")),
      frame('E', Body().u8('S').cstr("ERROR").u8('V').cstr("ERROR").u8('C').cstr("42601").u8('M').cstr("syntax error")
                     .u8('P').cstr("1").u8(0)),
      frame('Z', Body().u8('E')),
      frame('t', Body().i16(1).i32(23)),
      frame('n', Body()),
      frame('G', Body().u8(0).i16(1).i16(0)),
      frame('C', Body().cstr("COPY 2")),
      frame('H', Body().u8(0).i16(1).i16(0)),
      frame('d', Body().str("1\n")),
      frame('c', Body()),
      frame('A', Body().i32(42).cstr("chan").cstr("payload")),
      frame('I', Body()),
      frame('s', Body()),
      frame('3', Body()),
      frame('D', Body().i16(0)),
  });
}

DecodeStatus feed_all(BackendStream& s, const Bytes& wire, std::size_t chunk, Recorder& r) {
  for (std::size_t at = 0; at < wire.size(); at += chunk) {
    const auto st = s.feed(std::span(wire).subspan(at, std::min(chunk, wire.size() - at)), r);
    if (st != DecodeStatus::Ok) return st;
  }
  return DecodeStatus::Ok;
}

TEST(PgBackendValidation, WellFormedResultsPassUnderEveryChunking) {
  const Bytes wire = real_results();
  for (std::size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    BackendStream s(Limits{}, BackendCheck::Structure);
    Recorder r;
    ASSERT_EQ(feed_all(s, wire, chunk, r), DecodeStatus::Ok) << "chunk " << chunk << ": " << s.error();
    EXPECT_TRUE(s.at_boundary());
    EXPECT_EQ(r.types, "12CZNSEZGCHAIs3") << chunk;
  }
}

struct Malformation {
  const char* name;
  Bytes frame;
};

std::vector<Malformation> malformations() {
  return {
      {"ErrorResponse without SQLSTATE", frame('E', Body().u8('S').cstr("ERROR").u8('M').cstr("x").u8(0))},
      {"ErrorResponse without message", frame('E', Body().u8('S').cstr("ERROR").u8('C').cstr("42601").u8(0))},
      {"ErrorResponse without severity", frame('E', Body().u8('C').cstr("42601").u8('M').cstr("x").u8(0))},
      {"ErrorResponse SQLSTATE of 4 characters",
       frame('E', Body().u8('S').cstr("ERROR").u8('C').cstr("4260").u8('M').cstr("x").u8(0))},
      {"ErrorResponse unterminated field", frame('E', Body().u8('S').cstr("ERROR").u8('C').cstr("42601").u8('M').str("x"))},
      {"ErrorResponse without final NUL",
       frame('E', Body().u8('S').cstr("ERROR").u8('C').cstr("42601").u8('M').cstr("x"))},
      {"ErrorResponse bytes after final NUL",
       frame('E', Body().u8('S').cstr("ERROR").u8('C').cstr("42601").u8('M').cstr("x").u8(0).u8('x'))},
      {"NoticeResponse unterminated", frame('N', Body().u8('S').cstr("NOTICE").u8('M').str("hi"))},
      {"CommandComplete unterminated", frame('C', Body().str("SELECT 1"))},
      {"CommandComplete trailing bytes", frame('C', Body().cstr("SELECT 1").u8('x'))},
      {"ReadyForQuery bad status", frame('Z', Body().u8('X'))},
      {"ReadyForQuery two bytes", frame('Z', Body().u8('I').u8('I'))},
      {"ParameterStatus unterminated", frame('S', Body().cstr("TimeZone").str("UTC"))},
      {"RowDescription count above fields", frame('T', Body().i16(2).cstr("a").i32(0).i16(0).i32(23).i16(4).i32(-1).i16(0))},
      {"RowDescription negative count", frame('T', Body().i16(-1))},
      {"RowDescription unterminated name", frame('T', Body().i16(1).str("abc"))},
      {"DataRow negative column count", frame('D', Body().i16(-3))},
      {"DataRow count above columns", frame('D', Body().i16(2).i32(1).str("1"))},
      {"DataRow column length past the message", frame('D', Body().i16(1).i32(100).str("1"))},
      {"DataRow column length below -1", frame('D', Body().i16(1).i32(-2))},
      {"DataRow bytes after the last column", frame('D', Body().i16(1).i32(1).str("1").u8(0))},
      {"DataRow empty body", frame('D', Body())},
      {"DataRow 2 GB length", frame('D', Body().i16(1), 0x7FFFFFF0)},
      {"FunctionCallResponse length past the message", frame('V', Body().i32(3).str("ab"))},
      {"FunctionCallResponse length below -1", frame('V', Body().i32(-2))},
      {"FunctionCallResponse bytes after the value", frame('V', Body().i32(1).str("ab"))},
      {"FunctionCallResponse NULL with bytes after", frame('V', Body().i32(-1).u8(0))},
      {"FunctionCallResponse empty body", frame('V', Body())},
      {"CopyData 2 GB length", frame('d', Body(), 0x80000000)},
      {"ParseComplete with a body", frame('1', Body().u8(0))},
      {"CopyInResponse count above formats", frame('G', Body().u8(0).i16(2).i16(0))},
      {"ParameterDescription count above types", frame('t', Body().i16(2).i32(23))},
      {"unknown message type", frame('x', Body())},
      {"Authentication request during the session", frame('R', Body().i32(3))},
      {"BackendKeyData during the session", frame('K', Body().i32(1).i32(2))},
  };
}

TEST(PgBackendValidation, EveryMalformationIsRefusedAndWhatCameBeforeStaysRelayable) {
  const Bytes good = test::concat({frame('C', Body().cstr("SELECT 1")), frame('Z', Body().u8('I'))});
  for (const auto& m : malformations()) {
    Bytes wire = good;
    wire.insert(wire.end(), m.frame.begin(), m.frame.end());
    wire.insert(wire.end(), good.begin(), good.end());
    BackendStream s(Limits{}, BackendCheck::Structure);
    Recorder r;
    EXPECT_EQ(s.feed(wire, r), DecodeStatus::Malformed) << m.name;
    EXPECT_FALSE(s.error().empty()) << m.name;
    EXPECT_EQ(s.clean_prefix(), good.size()) << m.name << ": " << s.error();
    EXPECT_EQ(r.types, "CZ") << m.name;  // nothing of or after the bad message was reported
  }
}

TEST(PgBackendValidation, OffendingMessageBegunInAnEarlierFeedHasNoCleanPrefix) {
  const Bytes bad = frame('D', Body().i16(1).i32(100).str("1"));
  BackendStream s(Limits{}, BackendCheck::Structure);
  Recorder r;
  ASSERT_EQ(s.feed(std::span(bad).first(7), r), DecodeStatus::Ok);
  EXPECT_EQ(s.feed(std::span(bad).subspan(7), r), DecodeStatus::Malformed);
  EXPECT_EQ(s.clean_prefix(), std::string::npos);
}

TEST(PgBackendValidation, TwoGigabyteLengthIsRefusedFromTheHeaderAlone) {
  const Bytes header = frame('D', Body(), 0x7FFFFFFF);
  BackendStream s(Limits{}, BackendCheck::Structure);
  Recorder r;
  EXPECT_EQ(s.feed(std::span(header).first(5), r), DecodeStatus::Malformed);
  EXPECT_EQ(s.clean_prefix(), 0u);
}

TEST(PgBackendValidation, LargeDataRowStreamsWithoutBeingBuffered) {
  Limits limits;
  limits.max_backend_control_message = 1024;
  const std::size_t value = 4u * 1024u * 1024u;
  const Bytes header = frame('D', Body().i16(2).i32(static_cast<std::int32_t>(value)),
                             static_cast<std::int64_t>(4 + 2 + 4 + value + 4));
  BackendStream s(limits, BackendCheck::Structure);
  Recorder r;
  ASSERT_EQ(s.feed(header, r), DecodeStatus::Ok);
  const Bytes chunk(64 * 1024, 'x');
  for (std::size_t sent = 0; sent < value; sent += chunk.size())
    ASSERT_EQ(s.feed(std::span(chunk).first(std::min(chunk.size(), value - sent)), r), DecodeStatus::Ok);
  const Bytes null_col = Body().i32(-1).b;
  ASSERT_EQ(s.feed(null_col, r), DecodeStatus::Ok) << s.error();
  EXPECT_TRUE(s.at_boundary());
}

// psycopg2's lobject.read() of a 4 MB large object: libpq's lo_read is one fast-path
// call whose FunctionCallResponse carries the whole chunk; it streams like a DataRow.
TEST(PgBackendValidation, LargeFunctionCallResponseStreamsPastTheControlCap) {
  Limits limits;
  limits.max_backend_control_message = 1024;
  const std::size_t value = 4u * 1024u * 1024u;
  const Bytes header = frame('V', Body().i32(static_cast<std::int32_t>(value)), static_cast<std::int64_t>(4 + 4 + value));
  BackendStream s(limits, BackendCheck::Structure);
  Recorder r;
  ASSERT_EQ(s.feed(header, r), DecodeStatus::Ok) << s.error();
  const Bytes chunk(64 * 1024, 'x');
  for (std::size_t sent = 0; sent < value; sent += chunk.size())
    ASSERT_EQ(s.feed(std::span(chunk).first(std::min(chunk.size(), value - sent)), r), DecodeStatus::Ok) << s.error();
  EXPECT_TRUE(s.at_boundary());
  const Bytes tail = test::concat({frame('Z', Body().u8('T'))});
  ASSERT_EQ(s.feed(tail, r), DecodeStatus::Ok) << s.error();
  EXPECT_EQ(r.types, "Z");
}

TEST(PgBackendValidation, ValidatorAcceptsWhatTheEncoderWrites) {
  EXPECT_TRUE(valid_backend_body('Z', Body().u8('T').b));
  EXPECT_TRUE(valid_backend_body('E', Body().u8('S').cstr("FATAL").u8('C').cstr("08P01").u8('M').cstr("m").u8(0).b));
  EXPECT_FALSE(valid_backend_body('E', Body().u8('S').cstr("FATAL").u8('C').cstr("08p01").u8('M').cstr("m").u8(0).b));
  EXPECT_TRUE(valid_backend_body('V', Body().i32(-1).b));
  EXPECT_TRUE(valid_backend_body('V', Body().i32(2).str("ab").b));
  EXPECT_FALSE(valid_backend_body('V', Body().i32(3).str("ab").b));
}

}  // namespace
}  // namespace segproxy::protocols::pg
