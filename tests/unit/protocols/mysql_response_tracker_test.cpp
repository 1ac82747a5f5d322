// ResponseTracker: where each command's response ends and what it reported, with and
// without CLIENT_DEPRECATE_EOF, for every response shape, at every split offset.
#include <gtest/gtest.h>

#include "protocols/mysql/response_tracker.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::P;
using test::packet;

constexpr Capabilities kBase = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS |
                               CLIENT_PS_MULTI_RESULTS | CLIENT_SECURE_CONNECTION;
constexpr Capabilities kDeprecateEof = kBase | CLIENT_DEPRECATE_EOF;

struct Recorder : ResponseEvents {
  std::vector<ResponseSummary> responses;
  std::vector<std::pair<std::string, std::uint8_t>> infile;
  std::vector<ErrPacket> unsolicited;
  void on_response(const ResponseSummary& s) override { responses.push_back(s); }
  void on_local_infile_request(std::string_view f, std::uint8_t seq) override { infile.emplace_back(f, seq); }
  void on_unsolicited_error(const ErrPacket& e) override { unsolicited.push_back(e); }
};

Bytes column_def(std::string_view name) {
  return P().lstr("def").lstr("shop").lstr("t").lstr("t").lstr(name).lstr(name).u8(0x0C).u16(45).u32(11).u8(0x03)
      .u16(0).u8(0).u16(0).b;
}
Bytes ok(std::uint64_t affected, StatusFlags status, std::uint8_t header = 0) {
  return P().u8(header).lenenc(affected).lenenc(0).u16(status).u16(0).b;
}
Bytes eof(StatusFlags status) { return P().u8(0xFE).u16(0).u16(status).b; }
Bytes err(std::uint16_t code) { return P().u8(0xFF).u16(code).str("#42S02").str("Table doesn't exist").b; }
Bytes text_row(std::string_view v) { return P().lstr(v).b; }

// SELECT a, b with two rows; `more` sets SERVER_MORE_RESULTS_EXISTS on the terminator.
Bytes text_result(std::uint8_t& seq, bool deprecate_eof, StatusFlags final_status) {
  Bytes out = test::concat({packet(seq, P().lenenc(2).b), packet(seq + 1, column_def("a")),
                            packet(seq + 2, column_def("b"))});
  seq += 3;
  if (!deprecate_eof) out = test::concat({out, packet(seq++, eof(SERVER_STATUS_AUTOCOMMIT))});
  out = test::concat({out, packet(seq, text_row("1")), packet(seq + 1, P().u8(0xFB).b)});
  seq += 2;
  out = test::concat({out, packet(seq++, deprecate_eof ? ok(0, final_status, 0xFE) : eof(final_status))});
  return out;
}

ResponseSummary run_one(Capabilities caps, const Command& cmd, const Bytes& wire, std::uint8_t seq = 1) {
  ResponseTracker t(caps, Limits{});
  Recorder r;
  t.expect(cmd, seq);
  EXPECT_EQ(t.feed(wire, r), DecodeStatus::Ok) << t.error();
  EXPECT_EQ(r.responses.size(), 1u);
  EXPECT_TRUE(t.idle());
  return r.responses.empty() ? ResponseSummary{} : r.responses[0];
}

TEST(MysqlResponseTracker, TextResultEndsAtEofWithoutDeprecateEof) {
  std::uint8_t seq = 1;
  const auto s = run_one(kBase, ComQuery{"SELECT a, b FROM t"}, text_result(seq, false, SERVER_STATUS_AUTOCOMMIT));
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.rows, 2u);
  EXPECT_EQ(s.result_sets, 1u);
  EXPECT_TRUE(s.autocommit());
  EXPECT_EQ(s.command, 0x03);
}

TEST(MysqlResponseTracker, DeprecateEofTextResultEndsAtOkPacket) {
  std::uint8_t seq = 1;
  const auto s = run_one(kDeprecateEof, ComQuery{"SELECT a, b FROM t"},
                         text_result(seq, true, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS));
  EXPECT_EQ(s.rows, 2u);
  EXPECT_TRUE(s.in_transaction());
}

TEST(MysqlResponseTracker, OkAndErrResponses) {
  const auto s = run_one(kBase, ComQuery{"UPDATE t SET a = 1"}, packet(1, ok(5, SERVER_STATUS_IN_TRANS)));
  EXPECT_EQ(s.affected_rows, 5u);
  EXPECT_EQ(s.oks, 1u);
  EXPECT_TRUE(s.in_transaction());
  const auto e = run_one(kBase, ComQuery{"SELECT * FROM nope"}, packet(1, err(1146)));
  EXPECT_TRUE(e.error);
  EXPECT_EQ(e.err.code, 1146);
  EXPECT_EQ(e.err.sqlstate, "42S02");
}

TEST(MysqlResponseTracker, MoreResultsExistChainsResultSetsAndOks) {
  for (bool dep : {false, true}) {
    std::uint8_t seq = 1;
    Bytes wire = text_result(seq, dep, SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS);
    wire = test::concat({wire, packet(seq++, ok(3, SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS))});
    wire = test::concat({wire, text_result(seq, dep, SERVER_STATUS_AUTOCOMMIT)});
    const auto s = run_one(dep ? kDeprecateEof : kBase, ComQuery{"SELECT 1; UPDATE t SET a=1; SELECT 2"}, wire);
    EXPECT_EQ(s.result_sets, 2u);
    EXPECT_EQ(s.rows, 4u);
    EXPECT_EQ(s.affected_rows, 3u);
  }
}

TEST(MysqlResponseTracker, ErrorInTheMiddleOfRowsEndsTheResponse) {
  const Bytes wire = test::concat({packet(1, P().lenenc(1).b), packet(2, column_def("a")),
                                   packet(3, eof(2)), packet(4, text_row("x")), packet(5, err(1317))});
  const auto s = run_one(kBase, ComQuery{"SELECT SLEEP(10)"}, wire);
  EXPECT_TRUE(s.error);
  EXPECT_EQ(s.rows, 1u);
  EXPECT_EQ(s.err.code, 1317);
}

// next_seq() is where the proxy's own ERR goes when the backend stalls between packets
// (daemon/mysql/mysql_backend_stall.cpp): after whole packets, an ERR with that sequence
// id ends the response as the server's own would.
TEST(MysqlResponseTracker, NextSeqIsTheSequenceIdAnErrBetweenRowsMustCarry) {
  ResponseTracker t(kBase, Limits{});
  Recorder r;
  t.expect(ComQuery{"SELECT pad FROM t"}, 1);
  EXPECT_EQ(t.next_seq(), 1);
  const Bytes head = test::concat({packet(1, P().lenenc(1).b), packet(2, column_def("a")), packet(3, eof(2)),
                                   packet(4, text_row("x"))});
  ASSERT_EQ(t.feed(head, r), DecodeStatus::Ok) << t.error();
  EXPECT_FALSE(t.mid_packet());
  EXPECT_FALSE(t.idle());
  EXPECT_EQ(t.next_seq(), 5);
  ASSERT_EQ(t.feed(packet(t.next_seq(), err(2013)), r), DecodeStatus::Ok) << t.error();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_TRUE(r.responses[0].error);
  EXPECT_EQ(r.responses[0].err.code, 2013);
  EXPECT_TRUE(t.idle());
}

TEST(MysqlResponseTracker, PrepareResponseReportsStatementIdAndParamCount) {
  for (bool dep : {false, true}) {
    Bytes wire = packet(1, P().u8(0).u32(17).u16(1).u16(2).u8(0).u16(0).b);
    std::uint8_t seq = 2;
    wire = test::concat({wire, packet(seq++, column_def("?")), packet(seq++, column_def("?"))});
    if (!dep) wire = test::concat({wire, packet(seq++, eof(2))});
    wire = test::concat({wire, packet(seq++, column_def("a"))});
    if (!dep) wire = test::concat({wire, packet(seq++, eof(2))});
    const auto s = run_one(dep ? kDeprecateEof : kBase, ComStmtPrepare{"SELECT a FROM t WHERE x=? AND y=?"}, wire);
    ASSERT_TRUE(s.prepared.has_value());
    EXPECT_EQ(s.prepared->statement_id, 17u);
    EXPECT_EQ(s.prepared->num_params, 2);
    EXPECT_EQ(s.prepared->num_columns, 1);
  }
}

TEST(MysqlResponseTracker, PrepareWithoutParamsOrColumnsIsJustTheOk) {
  const auto s = run_one(kBase, ComStmtPrepare{"DO 1"}, packet(1, P().u8(0).u32(3).u16(0).u16(0).u8(0).u16(0).b));
  ASSERT_TRUE(s.prepared.has_value());
  EXPECT_EQ(s.prepared->statement_id, 3u);
}

Bytes binary_result(bool dep, StatusFlags terminator_status) {
  std::uint8_t seq = 1;
  Bytes wire = test::concat({packet(seq, P().lenenc(1).b), packet(seq + 1, column_def("a"))});
  seq += 2;
  if (!dep) wire = test::concat({wire, packet(seq++, eof(2))});
  wire = test::concat({wire, packet(seq, P().u8(0).u8(0).u32(1).b), packet(seq + 1, P().u8(0).u8(0).u32(2).b),
                       packet(seq + 2, dep ? ok(0, terminator_status, 0xFE) : eof(terminator_status))});
  return wire;
}

TEST(MysqlResponseTracker, BinaryResultSetForExecuteCountsRows) {
  for (bool dep : {false, true}) {
    const auto s = run_one(dep ? kDeprecateEof : kBase, ComStmtExecute{17, 0, 1, {}}, binary_result(dep, 2));
    EXPECT_EQ(s.rows, 2u);
    EXPECT_FALSE(s.cursor_opened);
  }
}

TEST(MysqlResponseTracker, ExecuteWithCursorEndsAfterMetadataThenFetchReturnsRows) {
  for (bool dep : {false, true}) {
    const Capabilities caps = dep ? kDeprecateEof : kBase;
    const StatusFlags cursor = SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_CURSOR_EXISTS;
    Bytes wire = test::concat({packet(1, P().lenenc(1).b), packet(2, column_def("a")),
                               packet(3, dep ? ok(0, cursor, 0xFE) : eof(cursor))});
    const auto s = run_one(caps, ComStmtExecute{17, 1, 1, {}}, wire);
    EXPECT_TRUE(s.cursor_opened);
    EXPECT_EQ(s.rows, 0u);

    const StatusFlags last = SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_CURSOR_EXISTS | SERVER_STATUS_LAST_ROW_SENT;
    Bytes fetch = test::concat({packet(1, P().u8(0).u8(0).u32(1).b), packet(2, P().u8(0).u8(0).u32(2).b),
                                packet(3, P().u8(0).u8(0).u32(3).b), packet(4, dep ? ok(0, last, 0xFE) : eof(last))});
    const auto f = run_one(caps, ComStmtFetch{17, 10}, fetch);
    EXPECT_EQ(f.rows, 3u);
    EXPECT_TRUE(f.status & SERVER_STATUS_LAST_ROW_SENT);
  }
}

TEST(MysqlResponseTracker, FieldListStatisticsPingAndSetOption) {
  const Bytes fl = test::concat({packet(1, P().raw(column_def("a")).lstr("0").b), packet(2, column_def("b")),
                                 packet(3, eof(2))});
  EXPECT_EQ(run_one(kBase, ComFieldList{"t", ""}, fl).rows, 2u);
  const Bytes fl_dep = test::concat({packet(1, column_def("a")), packet(2, ok(0, 2, 0xFE))});
  EXPECT_EQ(run_one(kDeprecateEof, ComFieldList{"t", ""}, fl_dep).rows, 1u);
  const auto st = run_one(kBase, ComStatistics{}, packet(1, P().str("Uptime: 5  Threads: 1").b));
  EXPECT_EQ(st.statistics, "Uptime: 5  Threads: 1");
  EXPECT_EQ(run_one(kBase, ComPing{}, packet(1, ok(0, 2))).oks, 1u);
  EXPECT_EQ(run_one(kBase, ComSetOption{0}, packet(1, eof(2))).status, 2);
  EXPECT_EQ(run_one(kDeprecateEof, ComSetOption{0}, packet(1, ok(0, 2, 0xFE))).status, 2);
  EXPECT_TRUE(run_one(kBase, ComInitDb{"nope"}, packet(1, err(1049))).error);
}

TEST(MysqlResponseTracker, ErrDoesNotResetTheTransactionStatus) {
  ResponseTracker t(kBase, Limits{}, SERVER_STATUS_AUTOCOMMIT);
  Recorder r;
  t.expect(ComQuery{"BEGIN"}, 1);
  t.expect(ComQuery{"SELECT * FROM nope"}, 1);
  ASSERT_EQ(t.feed(test::concat({packet(1, ok(0, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS)),
                                 packet(1, err(1146))}),
                   r),
            DecodeStatus::Ok);
  ASSERT_EQ(r.responses.size(), 2u);
  EXPECT_TRUE(r.responses[1].error);
  EXPECT_TRUE(r.responses[1].in_transaction());
  EXPECT_TRUE(t.in_transaction());
}

TEST(MysqlResponseTracker, MariadbCacheMetadataSkipsDefinitionsAndProgressReportsAreSkipped) {
  const Capabilities caps = kBase | MARIADB_CLIENT_CACHE_METADATA | MARIADB_CLIENT_PROGRESS;
  const Bytes wire = test::concat({packet(1, P().lenenc(2).u8(0).b), packet(2, eof(2)),
                                   packet(3, P().u8(0xFF).u16(0xFFFF).u8(1).u8(1).u8(1).u24(5).lstr("stage").b),
                                   packet(4, P().u8(0).u8(0).u32(7).b), packet(5, eof(2))});
  const auto s = run_one(caps, ComStmtExecute{1, 0, 1, {}}, wire);
  EXPECT_EQ(s.rows, 1u);
  EXPECT_FALSE(s.error);
}

TEST(MysqlResponseTracker, LocalInfileRequestIsReportedWithTheReplySequenceId) {
  ResponseTracker t(kBase, Limits{});
  Recorder r;
  t.expect(ComQuery{"LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t"}, 1);
  ASSERT_EQ(t.feed(packet(1, P().u8(0xFB).str("/etc/passwd").b), r), DecodeStatus::Ok);
  ASSERT_EQ(r.infile.size(), 1u);
  EXPECT_EQ(r.infile[0].first, "/etc/passwd");
  EXPECT_EQ(r.infile[0].second, 2);
  EXPECT_TRUE(r.responses.empty());
  // The proxy sends an empty packet with sequence id 2; the backend answers with 3.
  ASSERT_EQ(t.feed(packet(3, err(1148)), r), DecodeStatus::Ok) << t.error();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_TRUE(r.responses[0].local_infile_requested);
  EXPECT_TRUE(r.responses[0].error);
}

TEST(MysqlResponseTracker, PipelinedCommandsCompleteInOrder) {
  ResponseTracker t(kBase, Limits{});
  Recorder r;
  t.expect(ComStmtPrepare{"DO ?"}, 1);
  t.expect(ComStmtClose{9}, 1);  // no response
  t.expect(ComPing{}, 1);
  EXPECT_EQ(t.pending(), 2u);
  const Bytes wire = test::concat({packet(1, P().u8(0).u32(4).u16(0).u16(1).u8(0).u16(0).b),
                                   packet(2, column_def("?")), packet(3, eof(2)), packet(1, ok(0, 2))});
  ASSERT_EQ(t.feed(wire, r), DecodeStatus::Ok) << t.error();
  ASSERT_EQ(r.responses.size(), 2u);
  EXPECT_EQ(r.responses[0].command, 0x16);
  EXPECT_EQ(r.responses[1].command, 0x0E);
  EXPECT_TRUE(t.idle());
}

TEST(MysqlResponseTracker, SequenceIdMismatchIsMalformed) {
  ResponseTracker t(kBase, Limits{});
  Recorder r;
  t.expect(ComPing{}, 1);
  EXPECT_EQ(t.feed(packet(2, ok(0, 2)), r), DecodeStatus::Malformed);
  EXPECT_NE(t.error().find("sequence"), std::string::npos);
}

TEST(MysqlResponseTracker, UnexpectedPacketsAreMalformedButUnsolicitedErrIsReported) {
  ResponseTracker idle(kBase, Limits{});
  Recorder r;
  EXPECT_EQ(idle.feed(packet(0, err(4031)), r), DecodeStatus::Ok);
  ASSERT_EQ(r.unsolicited.size(), 1u);
  EXPECT_EQ(r.unsolicited[0].code, 4031);
  EXPECT_EQ(idle.feed(packet(0, ok(0, 2)), r), DecodeStatus::Malformed);

  ResponseTracker ping(kBase, Limits{});
  ping.expect(ComPing{}, 1);
  EXPECT_EQ(ping.feed(packet(1, P().lenenc(1).b), r), DecodeStatus::Malformed);
  ResponseTracker cols(kBase, Limits{});
  cols.expect(ComQuery{"SELECT 1"}, 1);
  EXPECT_EQ(cols.feed(test::concat({packet(1, P().lenenc(1).b), packet(2, column_def("a")), packet(3, text_row("1"))}),
                      r),
            DecodeStatus::Malformed);  // the EOF after the definitions is missing
}

TEST(MysqlResponseTracker, OversizedControlPacketIsMalformedButLargeRowsAreStreamed) {
  Limits limits;
  limits.max_mysql_backend_control = 64;
  ResponseTracker t(kBase, limits);
  Recorder r;
  t.expect(ComQuery{"SELECT big"}, 1);
  const Bytes wire = test::concat({packet(1, P().lenenc(1).b), packet(2, column_def("a")), packet(3, eof(2)),
                                   packet(4, text_row(std::string(100000, 'x'))), packet(5, eof(2))});
  ASSERT_EQ(t.feed(wire, r), DecodeStatus::Ok) << t.error();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses[0].rows, 1u);

  ResponseTracker big_err(kBase, limits);
  big_err.expect(ComPing{}, 1);
  EXPECT_EQ(big_err.feed(packet(1, P().u8(0xFF).u16(1).str("#HY000").str(std::string(100, 'e')).b), r),
            DecodeStatus::Malformed);
}

TEST(MysqlResponseTracker, SameSummariesForEverySplitOffset) {
  for (bool dep : {false, true}) {
    const Capabilities caps = dep ? kDeprecateEof : kBase;
    std::uint8_t seq = 1;
    Bytes wire = text_result(seq, dep, SERVER_STATUS_IN_TRANS | SERVER_MORE_RESULTS_EXISTS);
    wire = test::concat({wire, packet(seq++, ok(7, SERVER_STATUS_IN_TRANS))});
    wire = test::concat({wire, packet(1, ok(0, 2)), packet(1, P().u8(0).u32(4).u16(1).u16(0).u8(0).u16(0).b),
                         packet(2, column_def("a"))});
    if (!dep) wire = test::concat({wire, packet(3, eof(2))});
    auto expect_all = [&](ResponseTracker& t) {
      t.expect(ComQuery{"SELECT a, b FROM t; UPDATE t SET a = 1"}, 1);
      t.expect(ComPing{}, 1);
      t.expect(ComStmtPrepare{"SELECT a FROM t"}, 1);
    };
    ResponseTracker ref(caps, Limits{});
    Recorder whole;
    expect_all(ref);
    ASSERT_EQ(ref.feed(wire, whole), DecodeStatus::Ok) << ref.error();
    ASSERT_EQ(whole.responses.size(), 3u);
    EXPECT_EQ(whole.responses[0].rows, 2u);
    EXPECT_EQ(whole.responses[0].affected_rows, 7u);
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
      ResponseTracker t(caps, Limits{});
      Recorder r;
      expect_all(t);
      ASSERT_EQ(t.feed(std::span(wire).first(cut), r), DecodeStatus::Ok) << cut << ": " << t.error();
      ASSERT_EQ(t.feed(std::span(wire).subspan(cut), r), DecodeStatus::Ok) << cut << ": " << t.error();
      ASSERT_EQ(r.responses.size(), 3u) << cut;
      for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r.responses[i].rows, whole.responses[i].rows);
        EXPECT_EQ(r.responses[i].affected_rows, whole.responses[i].affected_rows);
        EXPECT_EQ(r.responses[i].status, whole.responses[i].status);
        EXPECT_EQ(r.responses[i].command, whole.responses[i].command);
      }
      EXPECT_TRUE(t.idle());
    }
  }
}

}  // namespace
}  // namespace segproxy::protocols::mysql
