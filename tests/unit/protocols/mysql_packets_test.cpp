// Generic response packets: OK (with session tracking, OK-as-EOF), ERR, EOF,
// COM_STMT_PREPARE_OK, column count.
#include <gtest/gtest.h>

#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/packets.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::P;

constexpr Capabilities k41 = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS;

TEST(MysqlOk, PlainOkPacketDecodes) {
  const Bytes b = P().u8(0).lenenc(3).lenenc(300).u16(SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS).u16(2)
                      .str("Rows matched: 3").b;
  const auto d = decode_ok(b, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.value.affected_rows, 3u);
  EXPECT_EQ(d.value.last_insert_id, 300u);
  EXPECT_EQ(d.value.status, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS);
  EXPECT_EQ(d.value.warnings, 2);
  EXPECT_EQ(d.value.info, "Rows matched: 3");
  Bytes again;
  encode_ok(again, d.value, k41);
  EXPECT_EQ(again, b);
}

TEST(MysqlOk, SessionTrackSchemaChangeIsDecoded) {
  const Capabilities caps = k41 | CLIENT_SESSION_TRACK;
  const Bytes state = P().u8(1).lenenc(5).lstr("shop").u8(0).lenenc(15).lstr("autocommit").lstr("OFF").b;
  const Bytes b = P().u8(0).lenenc(0).lenenc(0).u16(SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED).u16(0)
                      .lstr("").lenenc(state.size()).raw(state).b;
  const auto d = decode_ok(b, caps);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  ASSERT_TRUE(d.value.session_state.has_value());
  EXPECT_EQ(d.value.session_state->schema, "shop");
  ASSERT_EQ(d.value.session_state->system_variables.size(), 1u);
  EXPECT_EQ(d.value.session_state->system_variables[0].first, "autocommit");
  Bytes again;
  encode_ok(again, d.value, caps);
  EXPECT_EQ(again, b);
}

TEST(MysqlOk, SessionTrackOkWithoutInfoIsAccepted) {
  const Bytes b = P().u8(0).lenenc(1).lenenc(0).u16(2).u16(0).b;
  const auto d = decode_ok(b, k41 | CLIENT_SESSION_TRACK);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.value.affected_rows, 1u);
  Bytes again;
  encode_ok(again, d.value, k41 | CLIENT_SESSION_TRACK);
  EXPECT_EQ(again, b);
}

TEST(MysqlOk, BadSessionStateIsMalformed) {
  const Bytes b = P().u8(0).lenenc(0).lenenc(0).u16(SERVER_SESSION_STATE_CHANGED).u16(0).lstr("").u8(10).u8(1).b;
  EXPECT_EQ(decode_ok(b, k41 | CLIENT_SESSION_TRACK).status, DecodeStatus::Malformed);
}

TEST(MysqlOk, OkAsEofHeaderOnlyWhereAllowed) {
  const Bytes b = P().u8(0xFE).lenenc(0).lenenc(0).u16(2).u16(0).b;
  EXPECT_EQ(decode_ok(b, k41).status, DecodeStatus::Malformed);
  const auto d = decode_ok(b, k41, true);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_TRUE(d.value.eof_header);
}

TEST(MysqlOk, TruncatedOkIsMalformed) {
  const Bytes b = P().u8(0).lenenc(0).lenenc(0).u16(2).u16(0).b;
  for (std::size_t n = 0; n < b.size(); ++n)
    EXPECT_EQ(decode_ok(std::span(b).first(n), k41).status, DecodeStatus::Malformed) << n;
}

TEST(MysqlErr, ProxyErrPacketHasCodeSqlstateMarkerAndMessage) {
  Bytes out;
  encode_err_packet(out, 1, 1142, "42000", "SELECT command denied to segment 'web' for table 'shop.users'", k41);
  const Bytes expected = test::packet(
      1, P().u8(0xFF).u16(1142).str("#42000").str("SELECT command denied to segment 'web' for table 'shop.users'"));
  EXPECT_EQ(out, expected);
  const auto m = decode_message(out, 1, 1 << 20);
  ASSERT_EQ(m.status, DecodeStatus::Ok);
  const auto e = decode_err(m.value.payload(), k41);
  ASSERT_EQ(e.status, DecodeStatus::Ok);
  EXPECT_EQ(e.value.code, 1142);
  EXPECT_EQ(e.value.sqlstate, "42000");
}

TEST(MysqlErr, InvalidSqlstateBecomesHY000AndPre41HasNoMarker) {
  Bytes out;
  encode_err(out, ErrPacket{1045, "280", "denied"}, k41);
  EXPECT_EQ(out, P().u8(0xFF).u16(1045).str("#HY000denied").b);
  out.clear();
  encode_err(out, ErrPacket{1045, "28000", "denied"}, 0);
  EXPECT_EQ(out, P().u8(0xFF).u16(1045).str("denied").b);
}

TEST(MysqlErr, TruncatedErrIsMalformed) {
  EXPECT_EQ(decode_err(Bytes{0xFF, 1}, k41).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_err(Bytes{0x00, 1, 2}, k41).status, DecodeStatus::Malformed);
}

TEST(MysqlEof, EofPacketDecodesAndRejectsLongPayloads) {
  const Bytes b = P().u8(0xFE).u16(1).u16(SERVER_MORE_RESULTS_EXISTS).b;
  const auto d = decode_eof(b, k41);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(d.value.warnings, 1);
  EXPECT_EQ(d.value.status, SERVER_MORE_RESULTS_EXISTS);
  Bytes again;
  encode_eof(again, d.value, k41);
  EXPECT_EQ(again, b);
  EXPECT_EQ(decode_eof(P().u8(0xFE).zeros(8).b, k41).status, DecodeStatus::Malformed);
  EXPECT_TRUE(is_eof(b, b.size()));
  EXPECT_FALSE(is_eof(b, 9));
  EXPECT_TRUE(is_ok_eof_terminator(b, 0xFFFFFE));
  EXPECT_FALSE(is_ok_eof_terminator(b, 0xFFFFFF));
}

TEST(MysqlPrepareOk, PrepareOkRoundTripsAndChecksLength) {
  const Bytes b = P().u8(0).u32(7).u16(2).u16(3).u8(0).u16(1).b;
  const auto d = decode_prepare_ok(b);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.value, (PrepareOk{7, 2, 3, 1}));
  Bytes again;
  encode_prepare_ok(again, d.value);
  EXPECT_EQ(again, b);
  EXPECT_EQ(decode_prepare_ok(std::span(b).first(8)).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_prepare_ok(P().raw(b).u16(0).b).status, DecodeStatus::Malformed);
}

TEST(MysqlColumnCount, ZeroAndTrailingBytesAreMalformed) {
  EXPECT_EQ(decode_column_count(Bytes{3}).value, 3u);
  EXPECT_EQ(decode_column_count(Bytes{0}).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_column_count(Bytes{3, 0}).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_column_count(Bytes{0xFF}).status, DecodeStatus::Malformed);
}

TEST(MysqlPackets, TextRowDecodesExactlyItsColumnsAndRejectsEveryTruncationOrTrailingByte) {
  // "ab", NULL, "" : 02 'a' 'b' | FB | 00
  const Bytes row{2, 'a', 'b', 0xFB, 0};
  auto d = decode_text_row(row, 3);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  ASSERT_EQ(d.value.size(), 3u);
  EXPECT_EQ(d.value[0], std::optional<std::string>("ab"));
  EXPECT_FALSE(d.value[1].has_value());
  EXPECT_EQ(d.value[2], std::optional<std::string>(""));
  EXPECT_EQ(d.consumed, row.size());
  for (std::size_t cut = 0; cut < row.size(); ++cut) {
    const Bytes head(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(decode_text_row(head, 3).status, DecodeStatus::Malformed) << "cut at " << cut;
  }
  Bytes longer = row;
  longer.push_back(0);
  EXPECT_EQ(decode_text_row(longer, 3).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_text_row(row, 2).status, DecodeStatus::Malformed);  // a column left over
  EXPECT_EQ(decode_text_row(row, 0).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_text_row(row, 1u << 30).status, DecodeStatus::Malformed);  // never reserves that much
}

}  // namespace
}  // namespace segproxy::protocols::mysql
