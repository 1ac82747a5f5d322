// Issue 12 item 2.2 (PostgreSQL): the classifier reads statement text as the server does
// under the session's client_encoding and standard_conforming_strings, instead of
// refusing (authz/sql/pg_lexing.hpp, protocols/pg/encodings.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "authz/sql/pg_lexing.hpp"
#include "pg_test_support.hpp"
#include "protocols/pg/encodings.hpp"

namespace segproxy::authz::sql {
namespace {

using test::describe;
namespace pg = protocols::pg;

StatementInfo classify_in(std::string_view sql, const char* encoding, bool scs = true) {
  ClassifierOptions opts;
  opts.client_encoding = encoding;
  opts.standard_conforming_strings = scs;
  return classify_pg(sql, opts);
}

StatementInfo classify_scs_off(std::string_view sql) { return classify_in(sql, "UTF8", false); }

// --- client_encoding -----------------------------------------------------------------

TEST(PgClientEncoding, EveryFollowedEncodingConvertsEveryAsciiByteToItself) {
  std::string ascii;
  for (int c = 1; c < 0x80; ++c) ascii.push_back(static_cast<char>(c));
  int followed = 0;
  for (const auto& e : pg::all_pg_encodings()) {
    if (e.support != pg::EncodingSupport::Iconv) continue;
    const std::string name(e.iconv_name);
    const auto r = iconv_to_utf8(ascii, name.c_str());
    ASSERT_TRUE(r.ok) << e.name << ": " << r.error;
    EXPECT_EQ(r.text, ascii) << e.name << " (" << name << ") does not keep ASCII bytes";
    ++followed;
  }
  EXPECT_EQ(followed, 37);
}

TEST(PgClientEncoding, NamesAndAliasesResolveLikePostgres) {
  EXPECT_EQ(pg::find_pg_encoding("Shift_JIS")->name, "SJIS");
  EXPECT_EQ(pg::find_pg_encoding("win932")->name, "SJIS");
  EXPECT_EQ(pg::find_pg_encoding("euc-jp")->name, "EUC_JP");
  EXPECT_EQ(pg::find_pg_encoding("ISO-8859-1")->name, "LATIN1");
  EXPECT_EQ(pg::find_pg_encoding("unicode")->name, "UTF8");
  EXPECT_EQ(pg::find_pg_encoding("windows-1252")->name, "WIN1252");
  EXPECT_EQ(pg::find_pg_encoding("MULE_INTERNAL")->support, pg::EncodingSupport::Refused);
  EXPECT_EQ(pg::find_pg_encoding("SHIFT_JIS_2004")->support, pg::EncodingSupport::Refused);
  EXPECT_EQ(pg::find_pg_encoding("JOHAB")->support, pg::EncodingSupport::Refused);
  EXPECT_FALSE(pg::find_pg_encoding("klingon"));
}

// 表 is 0x95 0x5C in SJIS: read as raw bytes the 0x5C is a backslash escaping the quote,
// and the DELETE is inside the string; read as SJIS (as the server does), the string ends
// after 表 and the DELETE is code.
TEST(PgClientEncoding, SjisTrailByte5cNeverHidesCodeInsideAString) {
  const std::string sql = "SELECT E'\x95\x5c'; DELETE FROM orders; --'";
  EXPECT_EQ(describe(classify_in(sql, "SJIS")), "Dml ; Dml Delete:~public.orders");
  EXPECT_EQ(describe(classify_in("SELECT E'\x95\x5c' AS x", "SJIS")), "Dml");
}

TEST(PgClientEncoding, Big5AndGbkTrailBytesAreReadAsPartOfTheirCharacter) {
  // 許 in BIG5 is 0xB3 0x5C; 乗 in GBK is 0x81 0x5C (hypothetical trail 0x5C bytes exist in both).
  EXPECT_EQ(describe(classify_in("SELECT E'\xb3\x5c'; DELETE FROM orders; --'", "BIG5")),
            "Dml ; Dml Delete:~public.orders");
  EXPECT_EQ(describe(classify_in("SELECT E'\x81\x5c'; DELETE FROM orders; --'", "GBK")),
            "Dml ; Dml Delete:~public.orders");
}

TEST(PgClientEncoding, InvalidByteSequenceIsRefusedWith22021) {
  const auto info = classify_in("SELECT '\x81'", "SJIS");  // a lead byte followed by a quote
  EXPECT_FALSE(info.parse_ok);
  EXPECT_EQ(info.parse_error_sqlstate, "22021");
  EXPECT_NE(info.parse_error.find("SJIS"), std::string::npos) << info.parse_error;
  EXPECT_EQ(classify_in("SELECT '\xff\xff'", "EUC_JP").parse_error_sqlstate, "22021");
}

TEST(PgClientEncoding, NamesInOtherEncodingsMatchTheirUtf8Spelling) {
  // LATIN1 0xE9 is é: the table is "té" as the server (UTF-8 database) knows it.
  EXPECT_EQ(describe(classify_in("SELECT * FROM \"t\xe9\"", "LATIN1")), "Dml Select:~public.t\xc3\xa9");
  // EUC_JP 0xC6 0xFC 0xCB 0xDC is 日本.
  EXPECT_EQ(describe(classify_in("INSERT INTO \"\xc6\xfc\xcb\xdc\" VALUES ('\xc6\xfc')", "EUC_JP")),
            "Dml Insert:~public.\xe6\x97\xa5\xe6\x9c\xac");
}

TEST(PgClientEncoding, EncodingsWithoutAFaithfulConverterStayRefused) {
  for (const char* enc : {"MULE_INTERNAL", "SHIFT_JIS_2004", "JOHAB"}) {
    const auto info = classify_in("SELECT 1", enc);
    EXPECT_FALSE(info.parse_ok) << enc;
    EXPECT_EQ(info.parse_error_sqlstate, "0A000") << enc;
  }
}

TEST(PgClientEncoding, SqlAsciiBytesAreReadInTheServerEncoding) {
  ClassifierOptions opts;
  opts.client_encoding = "SQL_ASCII";
  opts.server_encoding = "UTF8";
  EXPECT_EQ(describe(classify_pg("SELECT * FROM \"t\xc3\xa9\"", opts)), "Dml Select:~public.t\xc3\xa9");
  EXPECT_EQ(classify_pg("SELECT '\xe9'", opts).parse_error_sqlstate, "22021");  // the server refuses it too
  opts.server_encoding = "LATIN1";
  EXPECT_EQ(describe(classify_pg("SELECT * FROM \"t\xe9\"", opts)), "Dml Select:~public.t\xc3\xa9");
  opts.server_encoding = "SQL_ASCII";  // nobody interprets the bytes: opaque name bytes
  EXPECT_EQ(describe(classify_pg("SELECT * FROM \"t\xe9\"", opts)), "Dml Select:~public.t\xe9");
}

TEST(PgClientEncoding, SetClientEncodingIsFollowedUnlessTheEncodingCannotBe) {
  for (const char* sql : {"SET client_encoding = 'EUC_JP'", "SET NAMES 'SJIS'", "SET LOCAL client_encoding TO 'LATIN1'",
                          "RESET client_encoding", "SET client_encoding TO DEFAULT", "SET standard_conforming_strings = off",
                          "SET SESSION standard_conforming_strings TO on", "RESET standard_conforming_strings"}) {
    const auto info = classify_pg(sql, ClassifierOptions{});
    ASSERT_TRUE(info.parse_ok) << sql;
    EXPECT_EQ(describe(info), "SessionSafe") << sql;
    EXPECT_TRUE(info.statements[0].changes_lexing) << sql;
  }
  const auto mule = classify_pg("SET client_encoding = 'MULE_INTERNAL'", ClassifierOptions{});
  EXPECT_EQ(describe(mule), "Forbidden");
  EXPECT_NE(mule.statements[0].forbidden_reason.find("MULE_INTERNAL"), std::string::npos);
  EXPECT_TRUE(classify_pg("RESET ALL", ClassifierOptions{}).statements[0].changes_lexing);
  EXPECT_TRUE(classify_pg("DISCARD ALL", ClassifierOptions{}).statements[0].changes_lexing);
  EXPECT_EQ(describe(classify_pg("SET backslash_quote = on", ClassifierOptions{})), "SessionSafe");
  EXPECT_EQ(describe(classify_pg("SET escape_string_warning = off", ClassifierOptions{})), "SessionSafe");
}

TEST(PgClientEncoding, NoStatementFollowsALexingChangeInTheSameMessage) {
  EXPECT_EQ(describe(classify_pg("SET client_encoding = 'SJIS'; SELECT 1", ClassifierOptions{})),
            "SessionSafe ; Unknown");
  EXPECT_EQ(describe(classify_pg("SET standard_conforming_strings = off; SELECT 1", ClassifierOptions{})),
            "SessionSafe ; Unknown");
  EXPECT_EQ(describe(classify_pg("SELECT 1; SET client_encoding = 'SJIS'", ClassifierOptions{})), "Dml ; SessionSafe");
}

// --- standard_conforming_strings = off -------------------------------------------------

TEST(PgScsOff, BackslashQuoteInAPlainStringDoesNotEndIt) {
  EXPECT_EQ(describe(classify_scs_off("SELECT 'a\\'; DROP TABLE x; --'")), "Dml");
  EXPECT_EQ(pg_rewrite_scs_off("SELECT 'a\\'; DROP TABLE x; --'").text, "SELECT  E'a\\'; DROP TABLE x; --'");
}

TEST(PgScsOff, DoubledBackslashEndsTheStringBeforeCode) {
  EXPECT_EQ(describe(classify_scs_off("SELECT '\\\\'; DELETE FROM orders; --'")), "Dml ; Dml Delete:~public.orders");
}

TEST(PgScsOff, ContinuationQuotesStayPartOfTheEscapedString) {
  const std::string sql = "SELECT 'a'\n'\\'; DELETE FROM orders; --'";
  EXPECT_EQ(pg_rewrite_scs_off(sql).text, "SELECT  E'a'\n'\\'; DELETE FROM orders; --'");
  EXPECT_EQ(describe(classify_scs_off(sql)), "Dml");
  // A -- comment between the parts: the server continues the string there, libpg_query
  // 15-4 does not (a syntax error): refused, never misread (docs/policy.md).
  EXPECT_EQ(describe(classify_scs_off("SELECT 'a' -- c\n -- d\n'\\'; DELETE FROM orders; --'")), "ParseError");
  EXPECT_EQ(describe(classify_scs_off("SELECT 'a'\n \t\n'\\'; DELETE FROM orders; --'")), "Dml");
  // no newline: not a continuation, a second string (a syntax error either way)
  EXPECT_EQ(describe(classify_scs_off("SELECT 'a' '\\'; DELETE FROM orders; --'")), "ParseError");
}

TEST(PgScsOff, DollarQuotesCommentsAndIdentifiersWithQuotesAreLeftAlone) {
  for (const char* sql : {
           "SELECT $$it's$$, 'a\\'; DELETE FROM orders; --'",
           "SELECT $q$ ' $q$ || 'b\\'; DELETE FROM orders; --'",
           "SELECT 1 /* it's */ , 'a\\'; DELETE FROM orders; --'",
           "/* /* ' */ ' */ SELECT 'a\\'; DELETE FROM orders; --'",
           "-- it's\nSELECT 'a\\'; DELETE FROM orders; --'",
           "SELECT \"it's\", 'a\\'; DELETE FROM orders; --'",
           "SELECT E'a\\'; DELETE FROM orders; --'",
           "SELECT N'a\\'; DELETE FROM orders; --'",
           "SELECT B'1', X'1F', 'a\\'; DELETE FROM orders; --'",
       }) {
    const auto info = classify_scs_off(sql);
    EXPECT_TRUE(info.parse_ok) << sql << ": " << info.parse_error;
    EXPECT_EQ(info.statements.size(), 1u) << sql << " -> " << pg_rewrite_scs_off(sql).text;
  }
  EXPECT_EQ(pg_rewrite_scs_off("SELECT $$it's$$").text, "SELECT $$it's$$");
  EXPECT_EQ(pg_rewrite_scs_off("SELECT E'x', date'2020-01-01', a$b$'c'").text,
            "SELECT E'x', date E'2020-01-01', a$b$ E'c'");
}

TEST(PgScsOff, UnicodeEscapeStringsAreRefusedAsPostgresDoes) {
  const auto info = classify_scs_off("SELECT U&'\\0041'");
  EXPECT_FALSE(info.parse_ok);
  EXPECT_EQ(info.parse_error_sqlstate, "0A000");
  EXPECT_EQ(describe(classify_scs_off("SELECT U&\"a\" FROM t")), "Dml Select:~public.t");
}

// Whatever the text, the rewrite only inserts what it reports (the client's characters
// are all there, in order) and never fails except on U&''.
TEST(PgScsOff, RewriteOnlyInsertsWhatItReportsOnArbitraryText) {
  const std::string alphabet = "'\"\\$-/*\n EeNnBbXxUu&a1;q";
  std::uint32_t seed = 12345;
  const auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const std::size_t len = next() % 24;
    for (std::size_t i = 0; i < len; ++i) text.push_back(alphabet[(next() >> 8) % alphabet.size()]);
    const auto r = pg_rewrite_scs_off(text);
    if (!r.ok) {
      EXPECT_NE(r.error.find("U&"), std::string::npos) << text;
      continue;
    }
    std::string back;  // ASCII only: characters are bytes
    std::size_t k = 0;
    for (const auto& [at, count] : r.inserted) {
      back += r.text.substr(k, static_cast<std::size_t>(at - 1) - k);
      k = static_cast<std::size_t>(at - 1 + count);
    }
    back += r.text.substr(k);
    ASSERT_EQ(back, text) << "rewritten: " << r.text;
  }
}

TEST(PgScsOff, ErrorPositionsPointIntoTheClientsText) {
  const auto on = classify_pg("SELECT 'a' FROM WHERE", ClassifierOptions{});
  const auto off = classify_scs_off("SELECT 'a' FROM WHERE");
  ASSERT_FALSE(off.parse_ok);
  EXPECT_EQ(off.parse_error_position, on.parse_error_position);
}

}  // namespace
}  // namespace segproxy::authz::sql
