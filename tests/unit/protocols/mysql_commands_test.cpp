// Command packets: every command round-trips, refused kinds, structural errors, and
// the COM_STMT_EXECUTE parameter block.
#include <gtest/gtest.h>

#include "protocols/mysql/commands.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::P;

constexpr Capabilities k41 = CLIENT_PROTOCOL_41;
const std::uint8_t kLong[] = {'a', 0, 'b'};
const std::uint8_t kParams[] = {0x00, 0x01, 0x03, 0x00, 0x2a, 0x00, 0x00, 0x00};

std::vector<Command> every_command() {
  return {
      ComQuit{},
      ComInitDb{"shop"},
      ComQuery{"SELECT 1; SELECT 2"},
      ComQuery{""},
      ComFieldList{"users", "na%"},
      ComStatistics{},
      ComProcessKill{77},
      ComPing{},
      ComStmtPrepare{"SELECT ? + ?"},
      ComStmtExecute{5, 1, 1, std::span<const std::uint8_t>(kParams)},
      ComStmtExecute{5, 0, 1, {}},
      ComStmtSendLongData{5, 1, std::span<const std::uint8_t>(kLong)},
      ComStmtClose{5},
      ComStmtReset{5},
      ComStmtFetch{5, 100},
      ComSetOption{1},
      ComResetConnection{},
  };
}

TEST(MysqlCommands, EveryCommandRoundTripsExactly) {
  for (const auto& c : every_command()) {
    Bytes wire;
    encode_command(wire, c);
    const auto d = decode_command(wire, k41);
    ASSERT_EQ(d.status, DecodeStatus::Ok) << command_name(wire[0]) << ": " << d.error;
    EXPECT_EQ(d.consumed, wire.size());
    EXPECT_TRUE(d.value == c) << command_name(wire[0]);
    EXPECT_EQ(command_code(d.value), wire[0]);
  }
}

TEST(MysqlCommands, QueryTextIsAViewOfThePayload) {
  const Bytes wire = P().u8(0x03).str("SELECT * FROM t").b;
  const auto d = decode_command(wire, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  const auto& q = std::get<ComQuery>(d.value);
  EXPECT_EQ(q.sql, "SELECT * FROM t");
  EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(q.sql.data()), wire.data() + 1);
}

TEST(MysqlCommands, ChangeUserBinlogAndRegisterSlaveAreKnownButRefused) {
  for (std::uint8_t code : {0x11, 0x12, 0x1E, 0x15, 0x08, 0x05, 0x06, 0x07, 0x0A, 0x0D, 0x20, 0xFA, 0x00}) {
    const Bytes wire = P().u8(code).str("whatever").b;
    const auto d = decode_command(wire, k41);
    ASSERT_EQ(d.status, DecodeStatus::Ok) << int(code);
    const auto& r = std::get<ComRefused>(d.value);
    EXPECT_EQ(r.code, code);
    EXPECT_TRUE(r.known) << command_name(code);
  }
  EXPECT_EQ(command_name(0x11), "COM_CHANGE_USER");
  EXPECT_EQ(command_name(0x1E), "COM_BINLOG_DUMP_GTID");
}

TEST(MysqlCommands, UnknownCommandCodeIsRefusedNotMalformed) {
  const auto d = decode_command(Bytes{0x99, 1, 2}, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_FALSE(std::get<ComRefused>(d.value).known);
  EXPECT_EQ(command_name(0x99), "COM_UNKNOWN(0x99)");
}

TEST(MysqlCommands, FixedSizeCommandsWithWrongLengthAreMalformed) {
  for (const Bytes& b : {Bytes{}, Bytes{0x01, 0}, Bytes{0x0E, 0}, Bytes{0x09, 1}, Bytes{0x1F, 1}, Bytes{0x19, 1, 2, 3},
                         Bytes{0x1A, 1, 2, 3, 4, 5}, Bytes{0x1C, 1, 2, 3, 4}, Bytes{0x1B, 1}, Bytes{0x0C, 1, 2},
                         Bytes{0x17, 1, 2, 3, 4, 0, 1}, Bytes{0x18, 1, 2, 3, 4, 1}, Bytes{0x04, 'a', 'b'}}) {
    EXPECT_EQ(decode_command(b, k41).status, DecodeStatus::Malformed) << test::to_hex(b);
  }
}

// ---- COM_STMT_EXECUTE parameters ----

ComStmtExecute execute_of(const Bytes& wire) { return std::get<ComStmtExecute>(decode_command(wire, k41).value); }

TEST(MysqlExecuteParams, TypedValuesNullsAndStringsAreSplit) {
  // 4 params: LONGLONG 42, NULL (bitmap), VAR_STRING "abc", DATETIME (7 bytes), unsigned TINY 200
  const Bytes wire = P().u8(0x17).u32(9).u8(0).u32(1)
                         .u8(0x02)           // null bitmap: param 1 is NULL
                         .u8(1)              // new params bound
                         .u16(0x08).u16(0x0F).u16(0xFD).u16(0x0C).u16(0x8001)
                         .u64(42).lstr("abc").u8(7).u16(2024).u8(1).u8(2).u8(3).u8(4).u8(5).u8(200)
                         .b;
  // 5 params: the NULL one (index 1) has no value.
  const auto d = decode_execute_params(execute_of(wire), 5, {}, {}, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_TRUE(d.value.new_params_bound);
  ASSERT_EQ(d.value.values.size(), 5u);
  EXPECT_TRUE(d.value.is_null[1]);
  EXPECT_EQ(d.value.values[0].size(), 8u);
  EXPECT_EQ(as_string_view(d.value.values[2]), "abc");
  EXPECT_EQ(d.value.values[3].size(), 7u);
  EXPECT_EQ(d.value.types[4], 0x8001);
}

TEST(MysqlExecuteParams, PreviouslyBoundTypesAreUsedWhenNotResent) {
  const Bytes wire = P().u8(0x17).u32(9).u8(0).u32(1).u8(0).u8(0).u32(7).b;
  const std::uint16_t types[] = {0x03};
  const auto d = decode_execute_params(execute_of(wire), 1, types, {}, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.value.types[0], 0x03);
  EXPECT_EQ(decode_execute_params(execute_of(wire), 1, {}, {}, k41).status, DecodeStatus::Malformed);
}

TEST(MysqlExecuteParams, LongDataParametersHaveNoValueInThePacket) {
  const Bytes wire = P().u8(0x17).u32(9).u8(0).u32(1).u8(0).u8(1).u16(0xFC).u16(0x03).u32(5).b;
  const auto d = decode_execute_params(execute_of(wire), 2, {}, {true, false}, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_TRUE(d.value.values[0].empty());
  EXPECT_EQ(d.value.values[1].size(), 4u);
}

TEST(MysqlExecuteParams, TruncatedUnknownTypeAndTrailingBytesAreMalformed) {
  const Bytes truncated = P().u8(0x17).u32(9).u8(0).u32(1).u8(0).u8(1).u16(0x08).u32(1).b;
  EXPECT_EQ(decode_execute_params(execute_of(truncated), 1, {}, {}, k41).status, DecodeStatus::Malformed);
  const Bytes unknown = P().u8(0x17).u32(9).u8(0).u32(1).u8(0).u8(1).u16(0x42).u8(1).b;
  EXPECT_EQ(decode_execute_params(execute_of(unknown), 1, {}, {}, k41).status, DecodeStatus::Malformed);
  const Bytes trailing = P().u8(0x17).u32(9).u8(0).u32(1).u8(0).u8(1).u16(0x01).u8(1).u8(9).b;
  EXPECT_EQ(decode_execute_params(execute_of(trailing), 1, {}, {}, k41).status, DecodeStatus::Malformed);
  const Bytes bad_date = P().u8(0x17).u32(9).u8(0).u32(1).u8(0).u8(1).u16(0x0A).u8(5).zeros(5).b;
  EXPECT_EQ(decode_execute_params(execute_of(bad_date), 1, {}, {}, k41).status, DecodeStatus::Malformed);
  const Bytes none = P().u8(0x17).u32(9).u8(0).u32(1).b;
  EXPECT_EQ(decode_execute_params(execute_of(none), 0, {}, {}, k41).status, DecodeStatus::Ok);
  EXPECT_EQ(decode_execute_params(execute_of(none), 1, {}, {}, k41).status, DecodeStatus::Malformed);
}

TEST(MysqlQueryAttributes, QueryWithAttributesSkipsThemWhenNegotiated) {
  const Capabilities caps = k41 | CLIENT_QUERY_ATTRIBUTES;
  const Bytes wire = P().u8(0x03).lenenc(1).lenenc(1).u8(0).u8(1).u16(0xFD).lstr("trace_id").lstr("abc")
                         .str("SELECT 1").b;
  const auto d = decode_command(wire, caps);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(std::get<ComQuery>(d.value).sql, "SELECT 1");
  EXPECT_EQ(std::get<ComQuery>(d.value).attributes, 1u);
  const Bytes none = P().u8(0x03).lenenc(0).lenenc(1).str("SELECT 2").b;
  EXPECT_EQ(std::get<ComQuery>(decode_command(none, caps).value).sql, "SELECT 2");
  // Without the capability the same bytes are plain query text.
  EXPECT_EQ(std::get<ComQuery>(decode_command(none, k41).value).sql.size(), none.size() - 1);
  EXPECT_EQ(decode_command(P().u8(0x03).lenenc(1).lenenc(2).b, caps).status, DecodeStatus::Malformed);
}

}  // namespace
}  // namespace segproxy::protocols::mysql
