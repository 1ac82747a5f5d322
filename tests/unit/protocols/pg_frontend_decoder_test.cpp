// decode_frontend: round-trips, every split, pipelining, and every Malformed rule.
#include <gtest/gtest.h>

#include <variant>

#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

const std::uint8_t kCopyBytes[] = {0, 1, 2, 0xff, '\n'};
const std::uint8_t kPasswordBytes[] = {'s', 'e', 'c', 'r', 'e', 't', 0};

std::vector<FrontendMessage> every_frontend_message() {
  return {
      Query{"SELECT 1; SELECT 2"},
      Query{""},
      Parse{"stmt1", "SELECT $1::int", 2},
      Parse{"", "SELECT 1", 0},
      Bind{"portal", "stmt1", 1, 3, 2},
      Bind{"", "", 0, 0, 0},
      Bind{"", "s", 2, 2, 1},
      Describe{'S', "stmt1"},
      Describe{'P', ""},
      Execute{"portal", 0},
      Execute{"", 100},
      Close{'S', "stmt1"},
      Close{'P', "p"},
      Sync{},
      Flush{},
      Terminate{},
      CopyData{std::span<const std::uint8_t>(kCopyBytes)},
      CopyData{},
      CopyDone{},
      CopyFail{"client gave up"},
      FunctionCall{1598},
      PasswordMessage{std::span<const std::uint8_t>(kPasswordBytes)},
  };
}

Bytes encoded(const FrontendMessage& m) {
  Bytes out;
  encode_frontend(out, m);
  return out;
}

TEST(PgFrontendDecoder, EveryMessageTypeRoundTripsAndConsumesExactlyItsFrame) {
  const Limits limits;
  for (const auto& m : every_frontend_message()) {
    const Bytes wire = encoded(m);
    const auto d = decode_frontend(wire, limits);
    ASSERT_EQ(d.status, DecodeStatus::Ok) << "index " << m.index() << ": " << d.error;
    EXPECT_EQ(d.consumed, wire.size());
    EXPECT_TRUE(d.value == m) << "index " << m.index();
    EXPECT_EQ(d.value.index(), m.index());
  }
}

TEST(PgFrontendDecoder, EveryPrefixOfEveryMessageIsNeedMoreConsumingNothing) {
  const Limits limits;
  for (const auto& m : every_frontend_message()) {
    const Bytes wire = encoded(m);
    for (std::size_t cut = 0; cut < wire.size(); ++cut) {
      const auto d = decode_frontend(std::span(wire).first(cut), limits);
      ASSERT_EQ(d.status, DecodeStatus::NeedMore) << "index " << m.index() << " cut " << cut << " " << d.error;
      EXPECT_EQ(d.consumed, 0u);
    }
    EXPECT_EQ(decode_frontend(wire, limits).status, DecodeStatus::Ok);
  }
}

TEST(PgFrontendDecoder, FrameSizeIsKnownFromTheHeaderExactlyWhenDecodeWouldWaitForTheBody) {
  const Limits limits;
  for (const auto& m : every_frontend_message()) {
    const Bytes wire = encoded(m);
    for (std::size_t cut = 0; cut < 5 && cut < wire.size(); ++cut)
      EXPECT_EQ(frontend_frame_size(std::span(wire).first(cut), limits), 0u) << "index " << m.index();
    EXPECT_EQ(frontend_frame_size(wire, limits), wire.size()) << "index " << m.index();
    EXPECT_EQ(frontend_frame_size(std::span(wire).first(5), limits), wire.size()) << "index " << m.index();
  }
}

TEST(PgFrontendDecoder, FrameSizeNeverTrustsALengthDecodeWouldReject) {
  Limits limits;
  limits.max_frontend_message = 1024;
  // Over the cap, below 4, unknown type: 0, so no reader sizes a buffer from them.
  EXPECT_EQ(frontend_frame_size(frame('Q', Body{}, 0xFFFFFFF0), limits), 0u);
  EXPECT_EQ(frontend_frame_size(frame('Q', Body{}, 1025), limits), 0u);
  EXPECT_EQ(frontend_frame_size(frame('Q', Body{}, 3), limits), 0u);
  EXPECT_EQ(frontend_frame_size(frame('z', Body{}, 8), limits), 0u);
  EXPECT_EQ(decode_frontend(frame('Q', Body{}, 0xFFFFFFF0), limits).status, DecodeStatus::Malformed);
  EXPECT_EQ(frontend_frame_size(frame('Q', Body{}, 1024), limits), 1025u);
}

// The session reads no header itself: NeedMore tells it how much to buffer, and only
// once decode_frontend has checked the header (type known, length within the cap).
TEST(PgFrontendDecoder, NeedMoreCarriesTheFrameSizeOnlyAfterACheckedHeader) {
  const Limits limits;
  for (const auto& m : every_frontend_message()) {
    const Bytes wire = encoded(m);
    for (std::size_t cut = 0; cut < wire.size(); ++cut) {
      const auto d = decode_frontend(std::span(wire).first(cut), limits);
      ASSERT_EQ(d.status, DecodeStatus::NeedMore);
      EXPECT_EQ(d.needed, cut < 5 ? 0u : wire.size()) << "index " << m.index() << " cut " << cut;
    }
  }
  Limits small;
  small.max_frontend_message = 1024;
  const Bytes huge = frame('Q', Body{}, 0xFFFFFFF0);
  const auto d = decode_frontend(huge, small);
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
  EXPECT_EQ(d.needed, 0u);  // never a size from a length the decoder rejects
  const Bytes at_cap = frame('Q', Body{}, 1024);
  EXPECT_EQ(decode_frontend(std::span(at_cap).first(5), small).needed, 1025u);
}

TEST(PgFrontendDecoder, PipelinedMessagesDecodeOneAfterTheOther) {
  const Limits limits;
  Bytes all;
  const auto msgs = every_frontend_message();
  for (const auto& m : msgs) encode_frontend(all, m);
  std::span<const std::uint8_t> rest(all);
  for (const auto& m : msgs) {
    const auto d = decode_frontend(rest, limits);
    ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
    EXPECT_TRUE(d.value == m);
    rest = rest.subspan(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(PgFrontendDecoder, TwoQueriesInOneBufferDecodeSeparately) {
  const Limits limits;
  const Bytes wire = test::concat({frame('Q', Body().cstr("SELECT 1")), frame('Q', Body().cstr("SELECT 2"))});
  const auto a = decode_frontend(wire, limits);
  ASSERT_EQ(a.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<Query>(a.value).sql, "SELECT 1");
  const auto b = decode_frontend(std::span(wire).subspan(a.consumed), limits);
  ASSERT_EQ(b.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<Query>(b.value).sql, "SELECT 2");
  EXPECT_EQ(a.consumed + b.consumed, wire.size());
}

TEST(PgFrontendDecoder, BindWithRealValuesAndNullIsValidated) {
  const Limits limits;
  const Bytes wire = frame('B', Body().cstr("p").cstr("s").i16(1).i16(1).i16(3)
                                    .i32(4).str("abcd").i32(-1).i32(0).i16(1).i16(0));
  const auto d = decode_frontend(wire, limits);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& b = std::get<Bind>(d.value);
  EXPECT_EQ(b.portal, "p");
  EXPECT_EQ(b.statement, "s");
  EXPECT_EQ(b.param_format_count, 1);
  EXPECT_EQ(b.param_count, 3);
  EXPECT_EQ(b.result_format_count, 1);
}

TEST(PgFrontendDecoder, ParseReadsParameterTypeOids) {
  const auto d = decode_frontend(frame('P', Body().cstr("n").cstr("SELECT $1").i16(1).i32(23)), Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(std::get<Parse>(d.value).param_type_count, 1);
}

TEST(PgFrontendDecoder, FunctionCallDecodesOidAndValidatesArguments) {
  const auto d = decode_frontend(frame('F', Body().i32(1234).i16(1).i16(1).i16(2).i32(2).str("xy").i32(-1).i16(1)),
                                 Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(std::get<FunctionCall>(d.value).function_oid, 1234);
  EXPECT_EQ(decode_frontend(frame('F', Body().i32(1).i16(0).i16(1).i32(5).str("xy").i16(0)), Limits{}).status,
            DecodeStatus::Malformed);
  EXPECT_EQ(decode_frontend(frame('F', Body().i32(1).i16(0).i16(0).i16(2)), Limits{}).status,
            DecodeStatus::Malformed);
}

TEST(PgFrontendDecoder, OneGiBLengthIsMalformedBeforeBodyArrives) {
  const Bytes header = frame('Q', Body(), 1u << 30);  // header only, no body
  const auto d = decode_frontend(header, Limits{});
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_FALSE(d.error.empty());
}

TEST(PgFrontendDecoder, LengthJustOverTheLimitIsMalformedAndAtTheLimitWaits) {
  Limits limits;
  limits.max_frontend_message = 100;
  EXPECT_EQ(decode_frontend(frame('d', Body(), 101), limits).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_frontend(frame('d', Body(), 100), limits).status, DecodeStatus::NeedMore);
}

TEST(PgFrontendDecoder, UnknownTypeIsMalformedFromTheFirstByte) {
  const Bytes one = {'Z'};
  const auto d = decode_frontend(one, Limits{});
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
  EXPECT_FALSE(d.error.empty());
  EXPECT_EQ(decode_frontend(Bytes{0}, Limits{}).status, DecodeStatus::Malformed);
}

TEST(PgFrontendDecoder, EmptyInputIsNeedMore) {
  const auto d = decode_frontend({}, Limits{});
  EXPECT_EQ(d.status, DecodeStatus::NeedMore);
  EXPECT_EQ(d.consumed, 0u);
}

struct MalformedCase {
  const char* name;
  Bytes wire;
};

TEST(PgFrontendDecoder, StructureViolationsAreMalformedWithAReason) {
  const std::vector<MalformedCase> cases = {
      {"length 3", frame('Q', Body(), 3)},
      {"length 0", frame('S', Body(), 0)},
      {"query without NUL", frame('Q', Body().str("SELECT 1"))},
      {"query with trailing garbage", frame('Q', Body().cstr("SELECT 1").u8('x'))},
      {"query with two strings", frame('Q', Body().cstr("SELECT 1").cstr(""))},
      {"sync with body", frame('S', Body().u8(0))},
      {"flush with body", frame('H', Body().u8(0))},
      {"terminate with body", frame('X', Body().u8(0))},
      {"copydone with body", frame('c', Body().u8(0))},
      {"describe bad target", frame('D', Body().u8('X').cstr("n"))},
      {"describe lowercase target", frame('D', Body().u8('s').cstr("n"))},
      {"describe empty body", frame('D', Body())},
      {"describe trailing", frame('D', Body().u8('S').cstr("n").u8(1))},
      {"close bad target", frame('C', Body().u8('Q').cstr("n"))},
      {"execute negative rows", frame('E', Body().cstr("").i32(-1))},
      {"execute short", frame('E', Body().cstr("").i16(0))},
      {"execute trailing", frame('E', Body().cstr("").i32(0).u8(0))},
      {"parse negative count", frame('P', Body().cstr("").cstr("q").i16(-1))},
      {"parse missing oids", frame('P', Body().cstr("").cstr("q").i16(2).i32(23))},
      {"parse trailing", frame('P', Body().cstr("").cstr("q").i16(0).u8(0))},
      {"parse missing count", frame('P', Body().cstr("").cstr("q"))},
      {"bind length -2", frame('B', Body().cstr("").cstr("").i16(0).i16(1).i32(-2).i16(0))},
      {"bind length min", frame('B', Body().cstr("").cstr("").i16(0).i16(1).i32(INT32_MIN).i16(0))},
      {"bind value longer than body", frame('B', Body().cstr("").cstr("").i16(0).i16(1).i32(10).str("abc"))},
      {"bind format code 2", frame('B', Body().cstr("").cstr("").i16(1).i16(2).i16(0).i16(0))},
      {"bind negative nparams", frame('B', Body().cstr("").cstr("").i16(0).i16(-1).i16(0))},
      {"bind format count mismatch", frame('B', Body().cstr("").cstr("").i16(2).i16(0).i16(0).i16(1).i32(0).i16(0))},
      {"bind result code 7", frame('B', Body().cstr("").cstr("").i16(0).i16(0).i16(1).i16(7))},
      {"bind trailing", frame('B', Body().cstr("").cstr("").i16(0).i16(0).i16(0).u8(0))},
      {"bind missing result count", frame('B', Body().cstr("").cstr("").i16(0).i16(0))},
      {"copyfail no NUL", frame('f', Body().str("x"))},
      {"copyfail trailing", frame('f', Body().cstr("x").u8(1))},
      {"function call short", frame('F', Body().i32(1))},
  };
  for (const auto& c : cases) {
    const auto d = decode_frontend(c.wire, Limits{});
    EXPECT_EQ(d.status, DecodeStatus::Malformed) << c.name;
    EXPECT_EQ(d.consumed, 0u) << c.name;
    EXPECT_FALSE(d.error.empty()) << c.name;
  }
}

TEST(PgFrontendDecoder, BodyShorterThanLengthWaitsAndLongerBodyIsTheNextFrame) {
  // The declared length rules: a frame whose body ends early is incomplete, and bytes
  // after the declared length belong to the next frame (here: an unknown type).
  Bytes wire = frame('Q', Body().cstr("SELECT 1"));
  Bytes truncated(wire.begin(), wire.end() - 1);
  EXPECT_EQ(decode_frontend(truncated, Limits{}).status, DecodeStatus::NeedMore);
  wire.push_back('!');
  const auto d = decode_frontend(wire, Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(d.consumed, wire.size() - 1);
  EXPECT_EQ(decode_frontend(std::span(wire).subspan(d.consumed), Limits{}).status, DecodeStatus::Malformed);
}

TEST(PgFrontendDecoder, PasswordMessageIsReturnedRaw) {
  const auto d = decode_frontend(frame('p', Body().str("SCRAM-SHA-256").u8(0).i32(3).str("abc")), Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<PasswordMessage>(d.value).data.size(), 14u + 4u + 3u);
}

}  // namespace
}  // namespace segproxy::protocols::pg
