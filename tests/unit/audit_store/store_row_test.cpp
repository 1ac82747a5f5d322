// One canonical line -> one store row: the in-place scan gives exactly what the strict JSON
// reader gives (on canonical lines of every record shape and on every mutation of them),
// and the COPY BINARY encoding carries the line byte for byte.
#include <gtest/gtest.h>

#include <cstring>

#include "../audit/audit_test_support.hpp"
#include "audit/record_codec.hpp"
#include "audit/store/store_row.hpp"

namespace segproxy::audit::store {
namespace {

using namespace audit::test;

std::string hex64(char c) { return std::string(64, c); }

std::string canonical(AuditRecord r, std::uint64_t seq) {
  r.seq = seq;
  r.ts = "2026-12-07T12:00:00.00000" + std::to_string(seq % 10) + "Z";
  r.instance = "proxy-a";
  r.prev_hash = hex64('a');
  r.hash = hex64('b');
  return encode_record(r);
}

// Records of every shape the writer produces, with the escapes a statement can carry.
std::vector<std::string> canonical_lines() {
  std::vector<std::string> lines;
  std::uint64_t seq = 1;
  lines.push_back(canonical(statement_record(1), seq++));
  AuditRecord quoted = statement_record(2);
  quoted.statement = "select \"a\\b\" from t where x = 'it''s' /* c */\n\tand y = '/'";
  quoted.fingerprint = "select \"?\"";
  quoted.segment = "seg\\ment";
  lines.push_back(canonical(quoted, seq++));
  AuditRecord open;
  open.event = "session.open";
  open.session_id = "s9";
  open.cn = "only-a-cn";
  open.cert_sha256 = hex64('c');
  open.segment = "billing";
  lines.push_back(canonical(open, seq++));
  AuditRecord result = statement_record(3);
  result.event = "statement.result";
  result.rows = 12345678901234ull;
  result.duration_us = 0;
  result.same_as = 1;
  result.results = {ResultEntry{1, 2, 3, "", ""}, ResultEntry{std::nullopt, std::nullopt, 7, "42501", "denied \"x\""}};
  result.tables = {{"public.a", "select"}, {"public.b", "insert"}};
  lines.push_back(canonical(result, seq++));
  AuditRecord admin;
  admin.event = "admin.revoke";
  admin.detail = "reason: test";
  lines.push_back(canonical(admin, seq++));
  return lines;
}

void expect_same_answer(std::string_view line) {
  std::string why_scan, why_reader;
  StoreRow scanned;
  scanned.segment = "left over from the previous line";
  const bool ok = extract_row_into(line, scanned, why_scan);
  const auto reference = extract_row_by_json_reader(line, why_reader);
  ASSERT_EQ(ok, reference.has_value()) << line << "\nscan: " << why_scan << "\nreader: " << why_reader;
  if (ok) {
    EXPECT_EQ(scanned, *reference) << line;
  }
  StoreRow only_scan;
  if (scan_canonical_row(line, only_scan)) {
    ASSERT_TRUE(reference) << "the scan accepted a line the reader refuses: " << line;
    EXPECT_EQ(only_scan, *reference) << line;
  }
}

TEST(StoreRowScan, CanonicalLinesOfEveryRecordShapeTakeTheInPlaceScanAndMatchTheReader) {
  for (const auto& line : canonical_lines()) {
    StoreRow row;
    EXPECT_TRUE(scan_canonical_row(line, row)) << "not scanned in place: " << line;
    expect_same_answer(line);
  }
  // One row reused across lines of different shapes keeps no column of an earlier line.
  StoreRow reused;
  std::string why;
  for (const auto& line : canonical_lines()) {
    ASSERT_TRUE(extract_row_into(line, reused, why)) << why;
    EXPECT_EQ(reused, *extract_row_by_json_reader(line, why)) << line;
  }
}

TEST(StoreRowScan, LinesOutsideTheSubsetGoToTheReaderAndGetItsAnswer) {
  AuditRecord wide = statement_record(4);
  wide.statement = "select 'é', '\x01'";  // non-ASCII, \u0001
  const std::string line = canonical(wide, 3);
  StoreRow row;
  EXPECT_FALSE(scan_canonical_row(line, row));
  expect_same_answer(line);
  for (std::string_view odd : {
           R"( {"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h"})",       // whitespace
           R"({"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h","x":1.5})",  // fraction
           R"({"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h","seq":2})",  // duplicate
           R"({"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h","a":{"k":1,"k":2}})",
           R"({"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h","segment":null})",
           R"({"seq":18446744073709551615,"ts":"t","event":"e","prev_hash":"p","hash":"h"})",
           R"({"seq":"1","ts":"t","event":"e","prev_hash":"p","hash":"h"})",
           R"({"seq":-1,"ts":"t","event":"e","prev_hash":"p","hash":"h"})",
           R"({"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h"}x)",
           R"({"seq":1,"ts":"t\u0041","event":"e","prev_hash":"p","hash":"h"})",
           R"({"seq":1,"ts":"t","event":"e","prev_hash":"p","hash":"h","d":[[[[[[[[1]]]]]]]]})"}) {
    expect_same_answer(odd);
  }
}

// Every truncation and every single-byte replacement of canonical lines (structure
// characters, digits, escapes, bytes outside ASCII): the scan never accepts what the
// reader refuses, and whichever path answers, the answer is the reader's.
TEST(StoreRowScan, EveryMutationOfACanonicalLineGetsExactlyTheReadersAnswer) {
  const std::string replacements = std::string("\"\\,:{}[]0-9e. tnu/") + '\x01' + '\x7f' + '\x80' + '\xc3';
  for (const auto& line : canonical_lines()) {
    for (std::size_t n = 0; n <= line.size(); ++n) ASSERT_NO_FATAL_FAILURE(expect_same_answer(line.substr(0, n)));
    for (std::size_t i = 0; i < line.size(); ++i) {
      for (char c : replacements) {
        std::string m = line;
        m[i] = c;
        ASSERT_NO_FATAL_FAILURE(expect_same_answer(m));
      }
    }
  }
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}
std::uint64_t be64(const std::string& s, std::size_t at) {
  return (static_cast<std::uint64_t>(be32(s, at)) << 32) | be32(s, at + 4);
}

// Schema version 1 has a hash column, version 2 reads the hash from the line: the row
// carries it exactly when the store's table has the column (copy_sql names the same fields).
TEST(StoreRowCopy, BinaryRowsCarryTheLineByteForByteSeqAsInt8TsAsMicrosSince2000NullsAsMinusOneAndTheHashOnlyForAHashColumn) {
  for (const HashColumn h : {HashColumn::present, HashColumn::absent}) {
    SCOPED_TRACE(h == HashColumn::present ? "hash column" : "no hash column");
    StoreRow row;
    row.seq = 0x0102030405ull;
    row.ts = "2000-01-01T00:00:01.000002Z";
    row.event = "e";
    row.hash = "h";
    row.segment = std::string("a\tb\\c\nd");  // no escaping in the binary format
    const std::string line = R"({"statement":"x\\y"})";
    std::string out, why;
    append_copy_binary_header(out);
    ASSERT_EQ(out.size(), 19u);
    EXPECT_EQ(std::memcmp(out.data(), "PGCOPY\n\377\r\n\0", 11), 0);
    EXPECT_EQ(be32(out, 11), 0u);
    EXPECT_EQ(be32(out, 15), 0u);
    ASSERT_TRUE(append_copy_binary_row(out, "inst", row, line, h, why)) << why;
    append_copy_binary_trailer(out);

    const std::string sql = copy_sql(h);
    EXPECT_EQ(sql.find(" hash, line)") != std::string::npos, h == HashColumn::present) << sql;
    std::size_t at = 19;
    ASSERT_EQ(static_cast<unsigned char>(out[at]) * 256 + static_cast<unsigned char>(out[at + 1]),
              h == HashColumn::present ? 12 : 11);
    at += 2;
    const auto text = [&] {
      const std::uint32_t n = be32(out, at);
      at += 4;
      if (n == 0xFFFFFFFFu) return std::string("NULL");
      std::string v = out.substr(at, n);
      at += n;
      return v;
    };
    EXPECT_EQ(text(), "inst");
    ASSERT_EQ(be32(out, at), 8u);
    EXPECT_EQ(be64(out, at + 4), 0x0102030405ull);
    at += 12;
    ASSERT_EQ(be32(out, at), 8u);
    EXPECT_EQ(be64(out, at + 4), 1000002u);
    at += 12;
    EXPECT_EQ(text(), "e");
    EXPECT_EQ(text(), "NULL");  // session_id
    EXPECT_EQ(text(), "NULL");  // identity
    EXPECT_EQ(text(), "NULL");  // cert_sha256
    EXPECT_EQ(text(), "a\tb\\c\nd");
    EXPECT_EQ(text(), "NULL");  // decision
    EXPECT_EQ(text(), "NULL");  // fingerprint
    if (h == HashColumn::present) {
      EXPECT_EQ(text(), "h");
    }
    EXPECT_EQ(text(), line);
    ASSERT_EQ(out.size(), at + 2);
    EXPECT_EQ(out.substr(at), std::string("\xff\xff"));
  }
}

TEST(StoreRowCopy, ATimestampTheStoreWouldRoundOrMisreadIsRefusedAndNothingIsAppended) {
  EXPECT_EQ(pg_timestamptz("2026-12-07T12:00:00.123456Z"), 849'960'000'123'456);
  EXPECT_EQ(pg_timestamptz("2000-01-01T00:00:00Z"), 0);
  EXPECT_EQ(pg_timestamptz("1999-12-31T23:59:59.9Z"), -100'000);
  EXPECT_FALSE(pg_timestamptz("2026-12-07T12:00:00.1234567Z"));  // 7 digits
  EXPECT_FALSE(pg_timestamptz("2026-12-07T12:00:00+01:00"));
  EXPECT_FALSE(pg_timestamptz("t"));
  StoreRow row;
  row.seq = 1;
  row.ts = "yesterday";
  std::string out = "x", why;
  EXPECT_FALSE(append_copy_binary_row(out, "inst", row, "{}", HashColumn::absent, why));
  EXPECT_EQ(out, "x");
  EXPECT_NE(why.find("ts"), std::string::npos) << why;
}

}  // namespace
}  // namespace segproxy::audit::store
