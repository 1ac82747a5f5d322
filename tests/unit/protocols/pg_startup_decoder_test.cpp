// decode_startup: every startup packet type round-trips; lengths and structure are
// checked before any body is awaited.
#include <gtest/gtest.h>

#include <variant>

#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::untyped;

std::vector<StartupPacket> every_startup_packet() {
  return {
      SslRequest{},
      GssEncRequest{},
      CancelRequest{1234, -99},
      StartupMessage{kProtocolVersion30, {{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}}},
      StartupMessage{kProtocolVersion30 + 2, {{"user", "bob"}}},
      StartupMessage{kProtocolVersion30, {}},
      StartupMessage{kProtocolVersion30, {{"user", "u"}, {"options", ""}}},
  };
}

TEST(PgStartupDecoder, EveryPacketTypeRoundTripsAndConsumesExactlyItsLength) {
  for (const auto& p : every_startup_packet()) {
    Bytes wire;
    encode_startup(wire, p);
    const auto d = decode_startup(wire, Limits{});
    ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
    EXPECT_EQ(d.consumed, wire.size());
    EXPECT_TRUE(d.value == p) << "index " << p.index();
  }
}

TEST(PgStartupDecoder, EveryPrefixIsNeedMoreConsumingNothing) {
  for (const auto& p : every_startup_packet()) {
    Bytes wire;
    encode_startup(wire, p);
    for (std::size_t cut = 0; cut < wire.size(); ++cut) {
      const auto d = decode_startup(std::span(wire).first(cut), Limits{});
      ASSERT_EQ(d.status, DecodeStatus::NeedMore) << "index " << p.index() << " cut " << cut << " " << d.error;
      EXPECT_EQ(d.consumed, 0u);
    }
  }
}

TEST(PgStartupDecoder, SslRequestFollowedByStartupDecodesOneAfterTheOther) {
  Bytes wire;
  encode_startup(wire, SslRequest{});
  encode_startup(wire, StartupMessage{kProtocolVersion30, {{"user", "u"}}});
  const auto a = decode_startup(wire, Limits{});
  ASSERT_EQ(a.status, DecodeStatus::Ok);
  EXPECT_EQ(a.consumed, 8u);
  EXPECT_TRUE(std::holds_alternative<SslRequest>(a.value));
  const auto b = decode_startup(std::span(wire).subspan(8), Limits{});
  ASSERT_EQ(b.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<StartupMessage>(b.value).parameters.at(0).second, "u");
}

TEST(PgStartupDecoder, ParametersKeepWireOrderAndMinorVersionIsKeptAsSent) {
  const Bytes wire = untyped(Body().i32(0x00030001).cstr("b").cstr("2").cstr("a").cstr("1").u8(0));
  const auto d = decode_startup(wire, Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& m = std::get<StartupMessage>(d.value);
  EXPECT_EQ(m.protocol_version, 0x00030001);
  ASSERT_EQ(m.parameters.size(), 2u);
  EXPECT_EQ(m.parameters[0].first, "b");
  EXPECT_EQ(m.parameters[1].first, "a");
}

TEST(PgStartupDecoder, HugeLengthIsMalformedFromTheFirstFourBytes) {
  const Bytes wire = {0x40, 0, 0, 0};
  const auto d = decode_startup(wire, Limits{});
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
  EXPECT_EQ(d.consumed, 0u);
}

TEST(PgStartupDecoder, WrongLengthForFixedSizeRequestsIsMalformedBeforeTheBody) {
  // SSLRequest claiming 12 bytes, with only the first 8 present.
  const Bytes ssl12 = untyped(Body().i32(kSslRequestCode), 12);
  EXPECT_EQ(decode_startup(ssl12, Limits{}).status, DecodeStatus::Malformed);
  const Bytes gss16 = untyped(Body().i32(kGssEncRequestCode), 16);
  EXPECT_EQ(decode_startup(gss16, Limits{}).status, DecodeStatus::Malformed);
  const Bytes cancel12 = untyped(Body().i32(kCancelRequestCode).i32(1), 12);
  EXPECT_EQ(decode_startup(cancel12, Limits{}).status, DecodeStatus::Malformed);
  const Bytes cancel20 = untyped(Body().i32(kCancelRequestCode), 20);
  EXPECT_EQ(decode_startup(cancel20, Limits{}).status, DecodeStatus::Malformed);
}

TEST(PgStartupDecoder, MalformedPacketsCarryAReason) {
  Limits limits;
  limits.max_startup_parameters = 2;
  const std::vector<std::pair<const char*, Bytes>> cases = {
      {"length 7", untyped(Body().str("abc"), 7)},
      {"length 0", untyped(Body().i32(kProtocolVersion30), 0)},
      {"over max_startup_packet", untyped(Body().i32(kProtocolVersion30), 10001)},
      {"protocol 2.0", untyped(Body().i32(0x00020000).cstr("user").cstr("u").u8(0))},
      {"protocol 4.0", untyped(Body().i32(0x00040000).cstr("user").cstr("u").u8(0))},
      {"name without value", untyped(Body().i32(kProtocolVersion30).cstr("user"))},
      {"name without value then end", untyped(Body().i32(kProtocolVersion30).cstr("user").str("u"))},
      {"missing terminator", untyped(Body().i32(kProtocolVersion30).cstr("user").cstr("u"))},
      {"no parameters no terminator", untyped(Body().i32(kProtocolVersion30))},
      {"bytes after terminator", untyped(Body().i32(kProtocolVersion30).cstr("user").cstr("u").u8(0).u8('x'))},
      {"too many parameters",
       untyped(Body().i32(kProtocolVersion30).cstr("a").cstr("1").cstr("b").cstr("2").cstr("c").cstr("3").u8(0))},
  };
  for (const auto& [name, wire] : cases) {
    const auto d = decode_startup(wire, limits);
    EXPECT_EQ(d.status, DecodeStatus::Malformed) << name;
    EXPECT_EQ(d.consumed, 0u) << name;
    EXPECT_FALSE(d.error.empty()) << name;
  }
}

TEST(PgStartupDecoder, ExactlyMaxParametersIsAccepted) {
  Limits limits;
  limits.max_startup_parameters = 2;
  const Bytes wire = untyped(Body().i32(kProtocolVersion30).cstr("a").cstr("1").cstr("b").cstr("2").u8(0));
  EXPECT_EQ(decode_startup(wire, limits).status, DecodeStatus::Ok);
}

TEST(PgStartupDecoder, PacketOfExactlyMaxLengthIsAccepted) {
  Limits limits;
  limits.max_startup_packet = 40;
  Body b;
  b.i32(kProtocolVersion30).cstr("user").cstr(std::string(40 - 4 - 4 - 5 - 1 - 1, 'x')).u8(0);
  const Bytes wire = untyped(b);
  ASSERT_EQ(wire.size(), 40u);
  EXPECT_EQ(decode_startup(wire, limits).status, DecodeStatus::Ok);
  limits.max_startup_packet = 39;
  EXPECT_EQ(decode_startup(wire, limits).status, DecodeStatus::Malformed);
}

}  // namespace
}  // namespace segproxy::protocols::pg
