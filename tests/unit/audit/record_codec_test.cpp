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

}  // namespace
}  // namespace segproxy::audit
