// Issue 12 leftovers, item 4: binary result rows (COM_STMT_EXECUTE) are validated like
// text rows - against the column types of their result set: header, NULL bitmap size,
// fixed-size values, date/time length bytes, length-encoded strings inside the packet.
// A malformed row is Malformed (the relay answers ERR 1158 and ends the session).
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
  std::uint64_t rows = 0;
  void on_response(const ResponseSummary& s) override {
    ++responses;
    rows += s.rows;
  }
};

constexpr std::uint8_t kLong = 0x03, kLongLong = 0x08, kVarString = 0xfd, kDatetime = 0x0c, kTime = 0x0b,
                       kDouble = 0x05, kTiny = 0x01;

Bytes column(std::uint8_t type) {
  return P().lstr("def").lstr("shop").lstr("t").lstr("t").lstr("c").lstr("c").u8(0x0C).u16(45).u32(11).u8(type)
      .u16(0).u8(0).u16(0).b;
}
Bytes eof() { return P().u8(0xFE).u16(0).u16(2).b; }

// One COM_STMT_EXECUTE response with columns of `types` and the given rows.
DecodeStatus run(std::initializer_list<std::uint8_t> types, std::initializer_list<Bytes> rows,
                 std::string* error = nullptr, Recorder* rec = nullptr) {
  ResponseTracker t(kCaps, Limits{});
  Recorder local;
  Recorder& r = rec != nullptr ? *rec : local;
  t.expect(ComStmtExecute{7, 0, 1, {}}, 1);
  std::uint8_t seq = 1;
  Bytes wire = packet(seq++, P().lenenc(types.size()).b);
  for (const auto type : types) wire = test::concat({wire, packet(seq++, column(type))});
  wire = test::concat({wire, packet(seq++, eof())});
  for (const auto& row : rows) wire = test::concat({wire, packet(seq++, row)});
  wire = test::concat({wire, packet(seq++, eof())});
  const auto st = t.feed(wire, r);
  if (error != nullptr) *error = t.error();
  return st;
}

TEST(MysqlBinaryRowValidation, WellFormedBinaryRowsPass) {
  Recorder rec;
  EXPECT_EQ(run({kLong, kVarString, kDatetime, kTime, kDouble},
                {P().u8(0).u8(0).u32(42).lstr("hello").u8(7).u16(2026).u8(12).u8(6).u8(20).u8(0).u8(1).u8(0).u64(0).b,
                 P().u8(0).u8(0b00001100).u8(0).u8(0).u64(0).b},  // bits 2,3: columns 0,1 NULL
                nullptr, &rec),
            DecodeStatus::Ok);
  EXPECT_EQ(rec.responses, 1);
  EXPECT_EQ(rec.rows, 2u);
}

TEST(MysqlBinaryRowValidation, NullBitmapShorterThanTheColumnsNeedIsRefused) {
  // 7 columns need (7 + 9) / 8 = 2 bitmap bytes; one all-NULL byte and nothing else.
  std::string error;
  EXPECT_EQ(run({kTiny, kTiny, kTiny, kTiny, kTiny, kTiny, kTiny}, {P().u8(0).u8(0xFC).b}, &error),
            DecodeStatus::Malformed);
  EXPECT_NE(error.find("binary row"), std::string::npos) << error;
  EXPECT_EQ(run({kTiny, kTiny, kTiny, kTiny, kTiny, kTiny, kTiny}, {P().u8(0).u8(0xFC).u8(0x01).b}),
            DecodeStatus::Ok);
}

TEST(MysqlBinaryRowValidation, FixedSizeValuesMustHaveTheirLength) {
  EXPECT_EQ(run({kLongLong}, {P().u8(0).u8(0).u32(1).b}), DecodeStatus::Malformed);  // 4 of 8 bytes
  EXPECT_EQ(run({kLong}, {P().u8(0).u8(0).u32(1).u8(9).b}), DecodeStatus::Malformed);  // a byte too many
  EXPECT_EQ(run({kDatetime}, {P().u8(0).u8(0).u8(5).u32(0).u8(0).b}), DecodeStatus::Malformed);  // length 5
  EXPECT_EQ(run({kTime}, {P().u8(0).u8(0).u8(12).u32(0).b}), DecodeStatus::Malformed);  // 12 claimed, 4 sent
}

TEST(MysqlBinaryRowValidation, LengthEncodedStringPastThePacketIsRefused) {
  EXPECT_EQ(run({kVarString}, {P().u8(0).u8(0).u8(100).str("short").b}), DecodeStatus::Malformed);
  EXPECT_EQ(run({kVarString}, {P().u8(0).u8(0).u8(0xFB).b}), DecodeStatus::Malformed);  // no NULL marker here
}

TEST(MysqlBinaryRowValidation, WrongHeaderOrUnknownColumnTypeIsRefused) {
  EXPECT_EQ(run({kLong}, {P().u8(1).u8(0).u32(1).b}), DecodeStatus::Malformed);
  EXPECT_EQ(run({0x20}, {P().u8(0).u8(0).u32(1).b}), DecodeStatus::Malformed);
  // ... unless the column is NULL: no value to measure.
  EXPECT_EQ(run({0x20}, {P().u8(0).u8(0x04).b}), DecodeStatus::Ok);
}

TEST(MysqlBinaryRowValidation, ValidatorReadsTheTypeOfAColumnDefinition) {
  EXPECT_EQ(column_definition_type(column(kVarString), false), kVarString);
  EXPECT_FALSE(column_definition_type(P().lstr("def").b, false).has_value());
  const Bytes types{kLong, kVarString};
  EXPECT_TRUE(valid_binary_row(P().u8(0).u8(0).u32(5).lstr("x").b, types));
  EXPECT_FALSE(valid_binary_row(P().u8(0).u8(0).u32(5).lstr("x").u8(0).b, types));
}

}  // namespace
}  // namespace segproxy::protocols::mysql
