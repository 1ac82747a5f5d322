// Issue 12 item 4.4 (MySQL): the ResponseTracker refuses column definitions and text rows
// whose length-encoded values run past their packet, instead of relaying them.
#include <gtest/gtest.h>

#include "protocols/mysql/response_tracker.hpp"
#include "protocols/mysql/response_validator.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::P;
using test::packet;

constexpr Capabilities kCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS |
                               CLIENT_PS_MULTI_RESULTS | CLIENT_SECURE_CONNECTION;

struct Recorder : ResponseEvents {
  int responses = 0;
  void on_response(const ResponseSummary&) override { ++responses; }
};

P column(std::string_view name) {
  return P().lstr("def").lstr("shop").lstr("t").lstr("t").lstr(name).lstr(name).u8(0x0C).u16(45).u32(11).u8(0x03)
      .u16(0).u8(0).u16(0);
}
Bytes eof() { return P().u8(0xFE).u16(0).u16(2).b; }

DecodeStatus run(const Bytes& col, const Bytes& row, std::string* error = nullptr) {
  ResponseTracker t(kCaps, Limits{});
  Recorder r;
  t.expect(ComQuery{"select a"}, 1);
  const Bytes wire = test::concat({packet(1, P().lenenc(1).b), packet(2, col), packet(3, eof()), packet(4, row),
                                   packet(5, eof())});
  const auto st = t.feed(wire, r);
  if (error != nullptr) *error = t.error();
  return st;
}

TEST(MysqlResponseValidation, WellFormedTextResultPasses) {
  EXPECT_EQ(run(column("a").b, P().lstr("1").b), DecodeStatus::Ok);
  EXPECT_EQ(run(column("a").b, P().u8(0xFB).b), DecodeStatus::Ok);
}

TEST(MysqlResponseValidation, ColumnDefinitionWithLengthPastThePacketIsRefused) {
  // name claims 200 bytes, the packet ends first
  const Bytes bad = P().lstr("def").lstr("shop").lstr("t").lstr("t").u8(200).str("a").b;
  std::string error;
  EXPECT_EQ(run(bad, P().lstr("1").b, &error), DecodeStatus::Malformed);
  EXPECT_NE(error.find("column definition"), std::string::npos) << error;
}

TEST(MysqlResponseValidation, ColumnDefinitionWithoutFixedFieldsOrWithTrailingBytesIsRefused) {
  EXPECT_EQ(run(P().lstr("def").lstr("s").lstr("t").lstr("t").lstr("a").lstr("a").b, P().lstr("1").b),
            DecodeStatus::Malformed);
  EXPECT_EQ(run(column("a").u8(7).b, P().lstr("1").b), DecodeStatus::Malformed);
  EXPECT_EQ(run(P().lstr("def").lstr("s").lstr("t").lstr("t").lstr("a").lstr("a").u8(0x0B).str("12345678901").b,
                P().lstr("1").b),
            DecodeStatus::Malformed);
}

TEST(MysqlResponseValidation, TextRowWithLengthEncodedValuePastThePacketIsRefused) {
  std::string error;
  EXPECT_EQ(run(column("a").b, P().u8(100).str("short").b, &error), DecodeStatus::Malformed);
  EXPECT_NE(error.find("text row"), std::string::npos) << error;
  EXPECT_EQ(run(column("a").b, P().u8(0xFC).u8(1).b), DecodeStatus::Malformed);  // truncated 2-byte length
  EXPECT_EQ(run(column("a").b, P().u8(0xFE).u32(0).u32(1).b), DecodeStatus::Malformed);  // 4 GiB value
}

TEST(MysqlResponseValidation, ImpossibleColumnCountIsRefused) {
  ResponseTracker t(kCaps, Limits{});
  Recorder r;
  t.expect(ComQuery{"select a"}, 1);
  EXPECT_EQ(t.feed(packet(1, P().lenenc(1ull << 40).b), r), DecodeStatus::Malformed);
  EXPECT_NE(t.error().find("column count"), std::string::npos) << t.error();
}

TEST(MysqlResponseValidation, ValidatorsAcceptFieldListDefaultsOnlyForFieldList) {
  const Bytes with_default = column("a").lstr("0").b;
  EXPECT_TRUE(valid_column_definition(with_default, true, false));
  EXPECT_FALSE(valid_column_definition(with_default, false, false));
  EXPECT_FALSE(valid_column_definition(column("a").u8(5).b, true, false));  // default value past the packet
  // MariaDB with extended type info: one more string<lenenc> after org_name.
  const Bytes extended = P().lstr("def").lstr("s").lstr("t").lstr("t").lstr("a").lstr("a").lstr("").u8(0x0C).u16(45)
                             .u32(11).u8(3).u16(0).u8(0).u16(0).b;
  EXPECT_TRUE(valid_column_definition(extended, false, true));
  EXPECT_FALSE(valid_column_definition(extended, false, false));
  EXPECT_TRUE(valid_text_row(P().lstr("x").u8(0xFB).lstr("").b));
  EXPECT_FALSE(valid_text_row(P().u8(0xFF).b));
}

}  // namespace
}  // namespace segproxy::protocols::mysql
