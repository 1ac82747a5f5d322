// Backend-side encoders: exact bytes and agreement with the body parsers.
#include <gtest/gtest.h>

#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

BackendFrame one_frame(const Bytes& wire) {
  const auto d = decode_backend_frame(wire, Limits{});
  EXPECT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(d.consumed, wire.size());
  return d.value;
}

TEST(PgEncoder, ErrorResponseWritesSVCMThenOptionalDetailAndHint) {
  Bytes out;
  encode_error_response(out, ErrorInfo{"FATAL", "28000", "no", "", ""});
  EXPECT_EQ(out, frame('E', Body().u8('S').cstr("FATAL").u8('V').cstr("FATAL").u8('C').cstr("28000")
                             .u8('M').cstr("no").u8(0)));
  out.clear();
  encode_error_response(out, ErrorInfo{"ERROR", "42501", "denied", "rule r1", "ask"});
  EXPECT_EQ(out, frame('E', Body().u8('S').cstr("ERROR").u8('V').cstr("ERROR").u8('C').cstr("42501")
                             .u8('M').cstr("denied").u8('D').cstr("rule r1").u8('H').cstr("ask").u8(0)));
  const auto f = parse_error_fields(one_frame(out).body);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message, "denied");
  EXPECT_EQ(f->detail, "rule r1");
  EXPECT_EQ(f->hint, "ask");
}

TEST(PgEncoder, NoticeResponseUsesTypeN) {
  Bytes out;
  encode_notice_response(out, ErrorInfo{"WARNING", "01000", "careful", "", ""});
  EXPECT_EQ(one_frame(out).type, 'N');
  EXPECT_EQ(parse_error_fields(one_frame(out).body)->severity, "WARNING");
}

TEST(PgEncoder, EmbeddedNulCannotBreakAnErrorFrame) {
  Bytes out;
  encode_error_response(out, ErrorInfo{"ERROR", "42501", std::string("bad\0tail", 8), "", ""});
  const auto f = parse_error_fields(one_frame(out).body);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message, "bad");
}

TEST(PgEncoder, BackendMessagesMatchTheirParsers) {
  Bytes out;
  encode_ready_for_query(out, 'T');
  EXPECT_EQ(out, frame('Z', Body().u8('T')));
  EXPECT_EQ(parse_ready_for_query(one_frame(out).body), 'T');

  out.clear();
  encode_backend_key_data(out, 77, -5);
  EXPECT_EQ(out, frame('K', Body().i32(77).i32(-5)));

  out.clear();
  encode_parameter_status(out, "server_version", "15.4");
  const auto p = parse_parameter_status(one_frame(out).body);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->value, "15.4");

  out.clear();
  encode_authentication_ok(out);
  EXPECT_EQ(out, frame('R', Body().i32(0)));

  out.clear();
  const std::uint8_t salt[] = {1, 2, 3, 4};
  encode_authentication(out, 5, salt);
  const auto a = parse_authentication(one_frame(out).body);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, 5);
  EXPECT_EQ(a->data.size(), 4u);

  out.clear();
  encode_command_complete(out, "SELECT 3");
  EXPECT_EQ(parse_command_complete(one_frame(out).body), "SELECT 3");

  out.clear();
  const std::uint8_t body[] = {9, 8, 7};
  encode_backend_frame(out, 'd', body);
  EXPECT_EQ(out, frame('d', Body().u8(9).u8(8).u8(7)));
}

TEST(PgEncoder, PasswordAndSaslMessagesHaveTheDocumentedLayout) {
  Bytes out;
  encode_password(out, "pw");
  EXPECT_EQ(out, frame('p', Body().cstr("pw")));
  out.clear();
  encode_sasl_initial_response(out, "SCRAM-SHA-256", "n,,n=,r=abc");
  EXPECT_EQ(out, frame('p', Body().cstr("SCRAM-SHA-256").i32(11).str("n,,n=,r=abc")));
  out.clear();
  encode_sasl_response(out, "c=biws");
  EXPECT_EQ(out, frame('p', Body().str("c=biws")));
  const auto d = decode_frontend(out, Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(as_string_view(std::get<PasswordMessage>(d.value).data), "c=biws");
}

TEST(PgEncoder, StartupEncodingMatchesTheWireLayout) {
  Bytes out;
  encode_startup(out, SslRequest{});
  EXPECT_EQ(out, test::untyped(Body().i32(kSslRequestCode)));
  out.clear();
  encode_startup(out, CancelRequest{1, 2});
  EXPECT_EQ(out, test::untyped(Body().i32(kCancelRequestCode).i32(1).i32(2)));
  out.clear();
  encode_startup(out, StartupMessage{kProtocolVersion30, {{"user", "u"}}});
  EXPECT_EQ(out, test::untyped(Body().i32(kProtocolVersion30).cstr("user").cstr("u").u8(0)));
}

TEST(PgEncoder, BindIsEncodedWithZeroCodesAndEmptyValues) {
  Bytes out;
  encode_frontend(out, Bind{"p", "s", 1, 2, 1});
  EXPECT_EQ(out, frame('B', Body().cstr("p").cstr("s").i16(1).i16(0).i16(2).i32(0).i32(0).i16(1).i16(0)));
}

}  // namespace
}  // namespace segproxy::protocols::pg
