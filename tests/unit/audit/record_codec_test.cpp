// Canonical JSON encoding of audit records: fixed key order, omit-when-empty, escaping,
// determinism, strict decoding, timestamps.
#include <gtest/gtest.h>

#include "audit/record_codec.hpp"

namespace segproxy::audit {
namespace {

AuditRecord full_record() {
  AuditRecord r;
  r.seq = 42;
  r.ts = "2026-11-22T12:03:29.123456Z";
  r.instance = "proxy-a";
  r.event = "statement.result";
  r.session_id = "s1";
  r.listener = "pg";
  r.protocol = "postgresql";
  r.client_addr = "10.0.0.1:5432";
  r.spiffe_id = "spiffe://example.org/a";
  r.cn = "a";
  r.cert_sha256 = "ab";
  r.cert_serial = "01";
  r.segment = "billing";
  r.database = "shop";
  r.backend_user = "ro";
  r.statement = "select ?";
  r.fingerprint = "fp";
  r.tables = {{"public.t", "select"}, {"public.u", "update"}};
  r.decision = "allow";
  r.rule_id = "r1";
  r.reason = "ok";
  r.rows = 3;
  r.duration_us = 1500;
  r.sqlstate = "00000";
  r.error = "e";
  r.detail = "d";
  r.prev_hash = std::string(64, 'a');
  r.hash = std::string(64, 'b');
  return r;
}

TEST(RecordCodec, KeysAppearInFixedCanonicalOrder) {
  const std::string s = encode_record(full_record());
  const char* keys[] = {"seq",       "ts",          "instance",    "event",       "session_id",
                        "listener",  "protocol",    "client_addr", "spiffe_id",   "cn",
                        "cert_sha256", "cert_serial", "segment",   "database",    "backend_user",
                        "statement", "fingerprint", "tables",      "decision",    "rule_id",
                        "reason",    "rows",        "duration_us", "sqlstate",    "error",
                        "detail",    "prev_hash",   "hash"};
  std::size_t last = 0;
  for (const char* k : keys) {
    const std::size_t at = s.find(std::string("\"") + k + "\":");
    ASSERT_NE(at, std::string::npos) << k;
    EXPECT_GT(at, last == 0 ? 0 : last) << k;
    last = at;
  }
  EXPECT_EQ(s.find("\": "), std::string::npos);  // no insignificant whitespace
  EXPECT_EQ(s.find(", \""), std::string::npos);
  EXPECT_EQ(s.front(), '{');
  EXPECT_EQ(s.back(), '}');
}

TEST(RecordCodec, EmptyFieldsAreOmittedRequiredOnesAlwaysPresent) {
  AuditRecord r;
  r.seq = 1;
  r.ts = "2026-11-22T00:00:00.000000Z";
  r.event = "session.open";
  r.prev_hash = "p";
  r.hash = "h";
  EXPECT_EQ(encode_record(r),
            R"({"seq":1,"ts":"2026-11-22T00:00:00.000000Z","event":"session.open","prev_hash":"p","hash":"h"})");
  EXPECT_EQ(encode_record(r, false),
            R"({"seq":1,"ts":"2026-11-22T00:00:00.000000Z","event":"session.open","prev_hash":"p"})");
  r.rows = 0;  // present zero is not empty
  EXPECT_NE(encode_record(r).find("\"rows\":0"), std::string::npos);
}

TEST(RecordCodec, EscapesQuotesBackslashesAndControlCharactersKeepsUtf8) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\r\t\b\f\x01\x1f\x7f", 13) + "é€😀/");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f" "é€😀/\"");
}

TEST(RecordCodec, InvalidUtf8IsReplacedDeterministicallyByReplacementCharacter) {
  const std::string bad = std::string("x\xff") + "\xc3" + "(" + "\xed\xa0\x80" + "\xf0\x9f\x98";
  std::string a, b;
  append_json_string(a, bad);
  append_json_string(b, bad);
  EXPECT_EQ(a, b);
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(a, "\"x" + r + r + "(" + r + r + r + r + r + r + "\"");
  // Overlong encoding of '/' is invalid too.
  std::string c;
  append_json_string(c, "\xc0\xaf");
  EXPECT_EQ(c, "\"" + r + r + "\"");
}

TEST(RecordCodec, EncodingIsDeterministicAndRoundTripsExactly) {
  const AuditRecord r = full_record();
  const std::string a = encode_record(r);
  EXPECT_EQ(a, encode_record(r));
  std::string err;
  auto back = decode_record(a, err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, r);
  EXPECT_EQ(encode_record(*back), a);
}

TEST(RecordCodec, RoundTripsControlCharactersAndUnicodeInStatements) {
  AuditRecord r = full_record();
  r.statement = "select '\x01\n\"\\' -- é😀";
  std::string err;
  auto back = decode_record(encode_record(r), err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(back->statement, r.statement);
}

TEST(RecordCodec, DecoderRejectsAnythingNotCanonical) {
  const std::string good = encode_record(full_record());
  std::string err;
  ASSERT_TRUE(decode_record(good, err));
  // Whitespace.
  std::string ws = good;
  ws.insert(1, " ");
  EXPECT_FALSE(decode_record(ws, err));
  // Keys swapped (ts before seq).
  AuditRecord m;
  m.seq = 1;
  m.ts = "t";
  m.event = "e";
  m.prev_hash = "p";
  m.hash = "h";
  EXPECT_TRUE(decode_record(encode_record(m), err));
  EXPECT_FALSE(decode_record(R"({"ts":"t","seq":1,"event":"e","prev_hash":"p","hash":"h"})", err));
  // Non-canonical escape of a printable character.
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"\u0074","event":"e","prev_hash":"p","hash":"h"})", err));
  // Unknown key, leading zero, empty string present, missing hash, trailing bytes.
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"t","event":"e","x":"1","prev_hash":"p","hash":"h"})", err));
  EXPECT_NE(err.find("unknown key"), std::string::npos);
  EXPECT_FALSE(decode_record(R"({"seq":01,"ts":"t","event":"e","prev_hash":"p","hash":"h"})", err));
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"t","instance":"","event":"e","prev_hash":"p","hash":"h"})", err));
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"t","event":"e","prev_hash":"p"})", err));
  EXPECT_FALSE(decode_record(good + " ", err));
  EXPECT_FALSE(decode_record(good.substr(0, good.size() - 1), err));
}

TEST(RecordCodec, TimestampsAreRfc3339UtcWithMicroseconds) {
  using namespace std::chrono;
  const auto t = sys_days{year{2026} / 11 / 22} + hours{12} + minutes{3} + seconds{29} +
                 microseconds{123456};
  EXPECT_EQ(format_timestamp(t), "2026-11-22T12:03:29.123456Z");
  EXPECT_EQ(format_timestamp(sys_days{year{2026} / 1 / 1}), "2026-01-01T00:00:00.000000Z");
  auto back = parse_timestamp("2026-11-22T12:03:29.123456Z");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  EXPECT_TRUE(parse_timestamp("2026-11-22T12:03:29Z"));
  EXPECT_FALSE(parse_timestamp("2026-11-22T12:03:29+01:00"));
  EXPECT_FALSE(parse_timestamp("2026-13-22T12:03:29Z"));
}

// Same class as the config fuzz finding (1e2fae2): a hostile record's ts with a year the
// clock cannot hold overflowed the conversion to nanoseconds (UB); it is unparseable now
// (the exporters then write time 0).
TEST(RecordCodec, TimestampYearOutsideTheClockRangeIsUnparseableNotAnOverflow) {
  for (const char* bad : {"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2201-01-01T00:00:00Z",
                          "9999-12-31T23:59:59.999999Z"}) {
    EXPECT_FALSE(parse_timestamp(bad)) << bad;
  }
  EXPECT_TRUE(parse_timestamp("1970-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("2200-12-31T23:59:59.999999Z"));
}

// Lines exactly as the codec wrote them before the audit decoder moved onto json/ (issue
// 13): the chain hashes these bytes, so they must keep decoding to the same record and
// re-encoding to the same bytes. Edge cases: the largest counters a backend can report
// (MySQL affected rows are 64-bit unsigned), escapes, non-BMP characters, DEL, tables,
// checkpoint fields.
TEST(RecordCodec, LinesWrittenBeforeTheJsonMoveDecodeAndReencodeByteIdentically) {
  const std::string lines[] = {
      R"({"seq":1,"ts":"2026-11-22T00:00:00.000000Z","event":"session.open","prev_hash":"p","hash":"h"})",
      R"({"seq":18446744073709551615,"ts":"2026-11-22T12:03:29.123456Z","instance":"proxy-a","event":"statement.result","session_id":"s1","listener":"my","protocol":"mysql","rows":18446744073709551615,"duration_us":9223372036854775808,"prev_hash":"p","hash":"h"})",
      R"({"seq":42,"ts":"2026-11-22T12:03:29.123456Z","instance":"proxy-a","event":"statement.result","session_id":"s1","listener":"pg","protocol":"postgresql","client_addr":"10.0.0.1:5432","spiffe_id":"spiffe://example.org/a","cn":"a","cert_sha256":"ab","cert_serial":"01","segment":"billing","database":"shop","backend_user":"ro","statement":"select ?","fingerprint":"fp","tables":[{"name":"public.t","op":"select"},{"name":"public.u","op":"update"}],"decision":"allow","rule_id":"r1","reason":"ok","rows":3,"duration_us":1500,"sqlstate":"00000","error":"e","detail":"d","prev_hash":"aaaa","hash":"bbbb"})",
      "{\"seq\":7,\"ts\":\"t\",\"event\":\"statement.decision\",\"statement\":\"select '\\u0001\\n\\\"\\\\' -- \xc3\xa9\xf0\x9f\x98\x80 \x7f/\\t\\b\\f\\r\\u001f\",\"prev_hash\":\"p\",\"hash\":\"h\"}",
      R"({"seq":9,"ts":"t","event":"audit.checkpoint","genesis":"g","head_seq":0,"head_hash":"hh","key_id":"k","signature":"sig","prev_hash":"p","hash":"h"})",
      R"({"seq":3,"ts":"t","event":"statement.result","rows":0,"prev_hash":"p","hash":"h"})",
  };
  for (const std::string& line : lines) {
    std::string err;
    const auto r = decode_record(line, err);
    ASSERT_TRUE(r) << err << "\n" << line;
    EXPECT_EQ(encode_record(*r), line);
  }
  std::string err;
  const auto big = decode_record(lines[1], err);
  ASSERT_TRUE(big) << err;
  EXPECT_EQ(big->seq, UINT64_MAX);
  EXPECT_EQ(big->rows, UINT64_MAX);
  EXPECT_EQ(big->duration_us, std::uint64_t{1} << 63);
  const auto full = decode_record(lines[2], err);
  ASSERT_TRUE(full) << err;
  ASSERT_EQ(full->tables.size(), 2u);
  EXPECT_EQ(full->tables[1].name, "public.u");
  EXPECT_EQ(full->tables[1].op, "update");
  const auto text = decode_record(lines[3], err);
  ASSERT_TRUE(text) << err;
  EXPECT_EQ(text->statement, "select '\x01\n\"\\' -- \xc3\xa9\xf0\x9f\x98\x80 \x7f/\t\b\f\r\x1f");
}

TEST(RecordCodec, DecoderRejectsNumbersThatAreNotPlainUnsignedIntegers) {
  std::string err;
  for (const char* seq : {"-1", "1.0", "1e2", "18446744073709551616", "\"1\"", "true", "null"}) {
    const std::string line = std::string(R"({"seq":)") + seq + R"(,"ts":"t","event":"e","prev_hash":"p","hash":"h"})";
    EXPECT_FALSE(decode_record(line, err)) << seq;
  }
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"t","event":"e","tables":[{"op":"select","name":"t"}],"prev_hash":"p","hash":"h"})", err));
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"t","event":"e","tables":[{"name":"t","op":"select","x":"y"}],"prev_hash":"p","hash":"h"})", err));
  EXPECT_FALSE(decode_record(R"({"seq":1,"ts":"t","ts":"t","event":"e","prev_hash":"p","hash":"h"})", err));
  EXPECT_FALSE(decode_record("{\"seq\":1,\"ts\":\"t\xff\",\"event\":\"e\",\"prev_hash\":\"p\",\"hash\":\"h\"}", err));
}

}  // namespace
}  // namespace segproxy::audit
