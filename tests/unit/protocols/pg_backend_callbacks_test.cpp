// BackendDispatch types each backend message the session follows ONCE and hands the
// typed values (views into the stream's buffer) to one callback per type; the session
// never sees a type byte or a raw body (protocols/pg/backend_callbacks.hpp).
#include "protocols/pg/backend_callbacks.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

struct Typed : BackendCallbacks {
  std::vector<std::string> calls;
  void on_ready_for_query(char status) override { calls.push_back(std::string("Z:") + status); }
  void on_command_complete(std::string_view tag) override { calls.push_back("C:" + std::string(tag)); }
  void on_error_response(const ErrorView& e) override {
    calls.push_back("E:" + std::string(e.severity) + "/" + std::string(e.sqlstate) + "/" + std::string(e.message));
  }
  void on_parameter_status(std::string_view name, std::string_view value) override {
    calls.push_back("S:" + std::string(name) + "=" + std::string(value));
  }
  void on_copy_in_response() override { calls.push_back("G"); }
  void on_malformed_body(char type) override { calls.push_back(std::string("malformed:") + type); }
};

Bytes session_stream() {
  return test::concat({
      frame('1', Body()),  // ParseComplete: relayed, not reported
      frame('T', Body().i16(1).cstr("a").i32(0).i16(0).i32(23).i16(4).i32(-1).i16(0)),
      frame('D', Body().i16(1).i32(1).str("1")),
      frame('C', Body().cstr("SELECT 1")),
      frame('N', Body().u8('S').cstr("NOTICE").u8('M').cstr("hi").u8(0)),  // not reported
      frame('S', Body().cstr("client_encoding").cstr("LATIN1")),
      frame('G', Body().u8(0).i16(0)),
      frame('E', Body().u8('S').cstr("FEHLER").u8('V').cstr("ERROR").u8('C').cstr("42601").u8('M').cstr("syntax").u8(0)),
      frame('Z', Body().u8('T')),
  });
}

TEST(PgBackendDispatch, EachFollowedMessageReachesItsOwnTypedCallbackOnceForEveryChunking) {
  const Bytes wire = session_stream();
  const std::vector<std::string> expected = {
      "C:SELECT 1", "S:client_encoding=LATIN1", "G", "E:ERROR/42601/syntax", "Z:T"};
  for (std::size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    Typed typed;
    BackendDispatch dispatch(typed);
    BackendStream s(Limits{}, BackendCheck::Structure);
    for (std::size_t off = 0; off < wire.size(); off += chunk) {
      const std::size_t n = std::min(chunk, wire.size() - off);
      ASSERT_EQ(s.feed(std::span(wire).subspan(off, n), dispatch), DecodeStatus::Ok) << s.error();
    }
    EXPECT_EQ(typed.calls, expected) << "chunk " << chunk;
  }
}

// ParseComplete / BindComplete (the session drops those of a refusal it raised in place
// of a Sync, daemon/pg/pg_reply_trim.cpp): reported only while asked for, numbered per
// type from the last ReadyForQuery, with where each starts in the span being fed.
struct Completions : Typed {
  const BackendStream* stream = nullptr;
  std::vector<std::string> seen;
  void on_extended_complete(char type, std::uint32_t nth) override {
    const std::size_t at = stream->message_start();
    seen.push_back(std::string(1, type) + "#" + std::to_string(nth) + "@" +
                   (at == std::string::npos ? std::string("earlier") : std::to_string(at)));
  }
};

TEST(PgBackendDispatch, CompletionsAreCountedPerBatchAndReportedOnlyWhenAsked) {
  const Bytes wire = test::concat({frame('1', Body()), frame('2', Body()), frame('C', Body().cstr("SELECT 0")),
                                   frame('1', Body()), frame('2', Body()), frame('Z', Body().u8('I')),
                                   frame('1', Body()), frame('2', Body()), frame('Z', Body().u8('I'))});
  Completions c;
  BackendDispatch dispatch(c);
  BackendStream s(Limits{}, BackendCheck::Structure);
  c.stream = &s;
  // Not asked for: nothing is reported, but the first batch's two are still counted.
  const std::size_t first_two = 10;
  ASSERT_EQ(s.feed(std::span(wire).first(first_two), dispatch), DecodeStatus::Ok);
  EXPECT_TRUE(c.seen.empty());
  dispatch.report_completions(true);
  ASSERT_EQ(s.feed(std::span(wire).subspan(first_two), dispatch), DecodeStatus::Ok);
  // After the batch's first ParseComplete / BindComplete (unreported): the second ones,
  // then a new batch counted from 1 again. Offsets are in the span fed second.
  const std::vector<std::string> expected{"1#2@14", "2#2@19", "1#1@30", "2#1@35"};
  EXPECT_EQ(c.seen, expected);
  dispatch.report_completions(false);
  ASSERT_EQ(s.feed(frame('1', Body()), dispatch), DecodeStatus::Ok);
  EXPECT_EQ(c.seen.size(), expected.size());
}

TEST(PgBackendDispatch, ACompletionSplitAcrossFeedsStartsInAnEarlierFeed) {
  Completions c;
  BackendDispatch dispatch(c);
  dispatch.report_completions(true);
  BackendStream s(Limits{}, BackendCheck::Structure);
  c.stream = &s;
  const Bytes wire = test::concat({frame('Z', Body().u8('I')), frame('1', Body())});
  ASSERT_EQ(s.feed(std::span(wire).first(8), dispatch), DecodeStatus::Ok);  // 'Z' and two bytes of '1'
  ASSERT_EQ(s.feed(std::span(wire).subspan(8), dispatch), DecodeStatus::Ok);
  EXPECT_EQ(c.seen, (std::vector<std::string>{"1#1@earlier"}));
}

TEST(PgBackendDispatch, AMalformedFollowedBodyIsReportedAsMalformedNeverAsAValue) {
  // Framing mode does not check bodies: the dispatcher must not invent a value.
  Typed typed;
  BackendDispatch dispatch(typed);
  BackendStream s(Limits{}, BackendCheck::Framing);
  const Bytes wire = test::concat({frame('Z', Body().u8('X')), frame('C', Body().str("no terminator")),
                                   frame('S', Body().cstr("").cstr("x"))});
  ASSERT_EQ(s.feed(wire, dispatch), DecodeStatus::Ok);
  EXPECT_EQ(typed.calls, (std::vector<std::string>{"malformed:Z", "malformed:C", "malformed:S"}));
}

TEST(PgBackendDispatch, ErrorViewReadsTheFieldsWithoutCopyingThem) {
  const Bytes body = Body().u8('S').cstr("ERROR").u8('C').cstr("22021").u8('M').cstr("bad").u8('D').cstr("d").u8(0).b;
  const auto v = parse_error_view(body);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->sqlstate, "22021");
  EXPECT_EQ(v->detail, "d");
  // Views into the body, not copies.
  EXPECT_GE(reinterpret_cast<const std::uint8_t*>(v->message.data()), body.data());
  EXPECT_LT(reinterpret_cast<const std::uint8_t*>(v->message.data()), body.data() + body.size());
  const auto f = parse_error_fields(body);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->message, "bad");
  EXPECT_FALSE(parse_error_view(Body().u8('M').cstr("unterminated").b).has_value());
}

}  // namespace
}  // namespace segproxy::protocols::pg
