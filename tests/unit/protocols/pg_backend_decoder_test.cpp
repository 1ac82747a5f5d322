// decode_backend_frame and the backend body parsers.
#include <gtest/gtest.h>

#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/encoder.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

TEST(PgBackendFrame, CompleteFrameIsOkAndEveryPrefixIsNeedMore) {
  const Bytes wire = frame('S', Body().cstr("TimeZone").cstr("UTC"));
  const auto d = decode_backend_frame(wire, Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(d.consumed, wire.size());
  EXPECT_EQ(d.value.type, 'S');
  EXPECT_EQ(d.value.body.size(), wire.size() - 5);
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    const auto p = decode_backend_frame(std::span(wire).first(cut), Limits{});
    EXPECT_EQ(p.status, DecodeStatus::NeedMore);
    EXPECT_EQ(p.consumed, 0u);
  }
}

TEST(PgBackendFrame, LengthBelowFourAndOversizedBodiesAreMalformedFromTheHeader) {
  EXPECT_EQ(decode_backend_frame(frame('Z', Body(), 3), Limits{}).status, DecodeStatus::Malformed);
  Limits limits;
  limits.max_backend_control_message = 16;
  EXPECT_EQ(decode_backend_frame(frame('E', Body(), 4 + 17), limits).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_backend_frame(frame('E', Body(), 4 + 16), limits).status, DecodeStatus::NeedMore);
  const auto huge = decode_backend_frame(frame('D', Body(), 0xffffffffu), limits);
  EXPECT_EQ(huge.status, DecodeStatus::Malformed);
  EXPECT_FALSE(huge.error.empty());
}

TEST(PgBackendFrame, TwoFramesInOneBufferDecodeInTurn) {
  const Bytes wire = test::concat({frame('C', Body().cstr("SELECT 1")), frame('Z', Body().u8('I'))});
  const auto a = decode_backend_frame(wire, Limits{});
  ASSERT_EQ(a.status, DecodeStatus::Ok);
  const auto b = decode_backend_frame(std::span(wire).subspan(a.consumed), Limits{});
  ASSERT_EQ(b.status, DecodeStatus::Ok);
  EXPECT_EQ(b.value.type, 'Z');
  EXPECT_EQ(a.consumed + b.consumed, wire.size());
}

TEST(PgBackendParsers, AuthenticationCodesAndTheirDataLengthsAreChecked) {
  EXPECT_EQ(parse_authentication(Body().i32(0).b)->code, 0);
  EXPECT_EQ(parse_authentication(Body().i32(3).b)->code, 3);
  const auto md5 = parse_authentication(Body().i32(5).u8(1).u8(2).u8(3).u8(4).b);
  ASSERT_TRUE(md5);
  EXPECT_EQ(md5->data.size(), 4u);
  EXPECT_FALSE(parse_authentication(Body().i32(5).u8(1).u8(2).u8(3).b));
  EXPECT_FALSE(parse_authentication(Body().i32(0).u8(0).b));
  EXPECT_FALSE(parse_authentication(Body().i16(0).b));
  EXPECT_FALSE(parse_authentication(Body().i32(99).b));
  const Bytes cont_body = Body().i32(11).str("r=abc,s=xyz,i=4096").b;  // results view into it
  const auto cont = parse_authentication(cont_body);
  ASSERT_TRUE(cont);
  EXPECT_EQ(as_string_view(cont->data), "r=abc,s=xyz,i=4096");
  EXPECT_EQ(parse_authentication(Body().i32(12).str("v=xyz").b)->code, 12);
}

TEST(PgBackendParsers, SaslMechanismListIsParsedAndMustBeTerminated) {
  const Bytes body = Body().i32(10).cstr("SCRAM-SHA-256-PLUS").cstr("SCRAM-SHA-256").u8(0).b;
  const auto auth = parse_authentication(body);
  ASSERT_TRUE(auth);
  const auto mechs = parse_sasl_mechanisms(auth->data);
  ASSERT_TRUE(mechs);
  EXPECT_EQ(*mechs, (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  EXPECT_FALSE(parse_sasl_mechanisms(Body().cstr("SCRAM-SHA-256").b));          // no terminator
  EXPECT_FALSE(parse_sasl_mechanisms(Body().u8(0).b));                          // empty list
  EXPECT_FALSE(parse_sasl_mechanisms(Body().cstr("A").u8(0).u8('x').b));        // trailing
  EXPECT_FALSE(parse_authentication(Body().i32(10).cstr("SCRAM-SHA-256").b));  // bad SASL request
}

TEST(PgBackendParsers, ParameterStatusIsTwoStringsExactly) {
  const Bytes body = Body().cstr("server_version").cstr("15.4").b;
  const auto p = parse_parameter_status(body);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "server_version");
  EXPECT_EQ(p->value, "15.4");
  EXPECT_TRUE(parse_parameter_status(Body().cstr("x").cstr("").b));
  EXPECT_FALSE(parse_parameter_status(Body().cstr("x").b));
  EXPECT_FALSE(parse_parameter_status(Body().cstr("x").cstr("y").u8(0).b));
  EXPECT_FALSE(parse_parameter_status(Body().cstr("").cstr("y").b));
}

TEST(PgBackendParsers, BackendKeyDataIsExactlyEightBytes) {
  const auto k = parse_backend_key_data(Body().i32(4242).i32(-7).b);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->process_id, 4242);
  EXPECT_EQ(k->secret_key, -7);
  EXPECT_FALSE(parse_backend_key_data(Body().i32(1).b));
  EXPECT_FALSE(parse_backend_key_data(Body().i32(1).i32(2).u8(0).b));
}

TEST(PgBackendParsers, ReadyForQueryAcceptsOnlyIdleInTransactionAndFailed) {
  EXPECT_EQ(parse_ready_for_query(Body().u8('I').b), 'I');
  EXPECT_EQ(parse_ready_for_query(Body().u8('T').b), 'T');
  EXPECT_EQ(parse_ready_for_query(Body().u8('E').b), 'E');
  EXPECT_FALSE(parse_ready_for_query(Body().u8('X').b));
  EXPECT_FALSE(parse_ready_for_query(Body().b));
  EXPECT_FALSE(parse_ready_for_query(Body().u8('I').u8('I').b));
}

TEST(PgBackendParsers, ErrorFieldsAreReadAndNonLocalizedSeverityWins) {
  const auto f = parse_error_fields(Body().u8('S').cstr("FEHLER").u8('V').cstr("ERROR").u8('C').cstr("42P01")
                                        .u8('M').cstr("relation does not exist").u8('D').cstr("d").u8('H').cstr("h")
                                        .u8('P').cstr("15").u8('F').cstr("parse_relation.c").u8(0).b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->severity, "ERROR");
  EXPECT_EQ(f->sqlstate, "42P01");
  EXPECT_EQ(f->message, "relation does not exist");
  EXPECT_EQ(f->detail, "d");
  EXPECT_EQ(f->hint, "h");
  const auto only_s = parse_error_fields(Body().u8('S').cstr("FATAL").u8(0).b);
  ASSERT_TRUE(only_s);
  EXPECT_EQ(only_s->severity, "FATAL");
  EXPECT_TRUE(parse_error_fields(Body().u8(0).b));
  EXPECT_FALSE(parse_error_fields(Body().b));                                // no terminator
  EXPECT_FALSE(parse_error_fields(Body().u8('M').cstr("x").b));              // no terminator
  EXPECT_FALSE(parse_error_fields(Body().u8('M').str("x").b));               // unterminated value
  EXPECT_FALSE(parse_error_fields(Body().u8('M').cstr("x").u8(0).u8(0).b));  // trailing
}

TEST(PgBackendParsers, CommandCompleteIsOneString) {
  const Bytes body = Body().cstr("INSERT 0 5").b;
  EXPECT_EQ(parse_command_complete(body), "INSERT 0 5");
  EXPECT_FALSE(parse_command_complete(Body().str("SELECT 1").b));
  EXPECT_FALSE(parse_command_complete(Body().cstr("SELECT 1").u8(0).b));
}

}  // namespace
}  // namespace segproxy::protocols::pg
