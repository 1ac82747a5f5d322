// Issue 12 item 2.2 (MySQL half): sql_mode and character_set_client are followed, not
// refused. Which reported values the analyzer can follow, how SETs of them classify
// (changes_lexing, expressions allowed), the multi-statement rule, and that decisions
// under one mode never answer for another (fingerprint).
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/mysql_classifier.hpp"
#include "tests/unit/sql/hash_key_support.hpp"
#include "authz/sql/mysql_lexing_settings.hpp"

namespace segproxy::authz::sql {
namespace {

MysqlClassifierOptions shop() {
  MysqlClassifierOptions o;
  o.hash_key = test::kTestHashKey;
  o.current_database = "shop";
  return o;
}

std::vector<std::string> tables(const StatementInfo& info) {
  std::vector<std::string> out;
  for (const auto& p : info.statements) {
    for (const auto& t : p.tables) out.push_back(t.schema + "." + t.name);
  }
  return out;
}

TEST(MysqlLexingSettings, ReportedAnsiModeIsFollowedWithAnsiQuotes) {
  // What MariaDB 10.11 reports after SET sql_mode = 'ANSI'.
  const auto m = parse_mysql_sql_mode("REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI");
  EXPECT_TRUE(m.ansi_quotes);
  EXPECT_FALSE(m.no_backslash_escapes);
  EXPECT_EQ(m.unfollowable, "");
  EXPECT_TRUE(parse_mysql_sql_mode("ansi").ansi_quotes);
  EXPECT_TRUE(parse_mysql_sql_mode("STRICT_TRANS_TABLES, NO_BACKSLASH_ESCAPES").no_backslash_escapes);
  EXPECT_EQ(parse_mysql_sql_mode("").unfollowable, "");
  EXPECT_EQ(parse_mysql_sql_mode("STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,"
                                 "NO_ENGINE_SUBSTITUTION,TRADITIONAL,HIGH_NOT_PRECEDENCE")
                .unfollowable,
            "");
}

TEST(MysqlLexingSettings, OracleAndUnknownModesAreNeverFollowed) {
  EXPECT_EQ(parse_mysql_sql_mode("PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ORACLE,NO_KEY_OPTIONS").unfollowable,
            "ORACLE");
  EXPECT_EQ(parse_mysql_sql_mode("mssql").unfollowable, "MSSQL");
  EXPECT_EQ(parse_mysql_sql_mode("STRICT_TRANS_TABLES,SOME_FUTURE_MODE").unfollowable, "SOME_FUTURE_MODE");
  for (const char* m : {"DB2", "MAXDB", "POSTGRESQL"}) EXPECT_FALSE(is_followable_sql_mode_flag(m)) << m;
}

TEST(MysqlLexingSettings, OnlyCharsetsWithoutAsciiTrailBytesAreLexingNeutral) {
  for (const char* cs : {"utf8mb4", "UTF8MB3", "utf8", "latin1", "ascii", "binary", "cp1251", "koi8r", "ujis", "euckr"}) {
    EXPECT_TRUE(is_lexing_neutral_charset(cs)) << cs;
  }
  for (const char* cs : {"gbk", "sjis", "cp932", "big5", "gb18030", "swe7", "ucs2", "utf16", "unknown", ""}) {
    EXPECT_FALSE(is_lexing_neutral_charset(cs)) << cs;
  }
  for (const char* cs : {"gbk", "sjis", "cp932", "big5"}) EXPECT_TRUE(is_followable_charset(cs)) << cs;
  for (const char* cs : {"gb18030", "swe7", "ucs2", "utf16", "unknown", ""}) EXPECT_FALSE(is_followable_charset(cs)) << cs;
}

TEST(MysqlLexingSettings, AsciiTrailBytesOfTwoByteCharactersAreMaskedAsTheServerPairsThem) {
  // gbk: lead 0x81-0xFE, trail 0x40-0x7E / 0x80-0xFE.
  EXPECT_EQ(mask_multibyte_trail_bytes("'\x81\\'", "gbk"), "'\x81\x80'");
  EXPECT_EQ(mask_multibyte_trail_bytes("`\x81``", "GBK"), "`\x81\x80`");
  EXPECT_EQ(mask_multibyte_trail_bytes("'\x81''", "gbk"), "'\x81''");  // 0x27 is never a trail byte
  EXPECT_EQ(mask_multibyte_trail_bytes("\x81\x81\\", "gbk"), "\x81\x81\\");  // pairs from the left
  // sjis / cp932: lead 0x81-0x9F, 0xE0-0xFC; 0xA1-0xDF are single-byte katakana.
  EXPECT_EQ(mask_multibyte_trail_bytes("\x81\\ \xa1\\ \xfd\\", "sjis"), "\x81\x80 \xa1\\ \xfd\\");
  EXPECT_EQ(mask_multibyte_trail_bytes("\xe0\\", "cp932"), "\xe0\x80");
  // big5: lead 0xA1-0xF9, trail 0x40-0x7E / 0xA1-0xFE.
  EXPECT_EQ(mask_multibyte_trail_bytes("\x81\\ \xa1\\ \xa1\x80\\", "big5"), "\x81\\ \xa1\x80 \xa1\x80\\");
  // A lead byte at the end, other character sets: unchanged.
  EXPECT_EQ(mask_multibyte_trail_bytes("'x'\x81", "gbk"), "'x'\x81");
  EXPECT_EQ(mask_multibyte_trail_bytes("\x81\\", "latin1"), "\x81\\");
}

TEST(MysqlLexingSettings, GbkTrailBackslashCannotHideADeniedTable) {
  const std::string sql = "SELECT '\x81\\' FROM orders UNION SELECT * FROM secret -- '";
  auto o = shop();
  o.charset = "gbk";
  EXPECT_EQ(tables(classify_mysql(sql, o)), (std::vector<std::string>{"shop.orders", "shop.secret"}));
  o.charset = "latin1";  // there the backslash escapes the quote: one string
  EXPECT_TRUE(tables(classify_mysql(sql, o)).empty());
  o.charset = "big5";  // 0x81 is no big5 lead byte
  EXPECT_TRUE(tables(classify_mysql(sql, o)).empty());
  o.charset = "big5";
  EXPECT_EQ(tables(classify_mysql("SELECT '\xa1\\' FROM orders UNION SELECT * FROM secret -- '", o)),
            (std::vector<std::string>{"shop.orders", "shop.secret"}));
  o.charset = "gbk";  // non-ASCII names stay refused outside UTF-8
  EXPECT_EQ(classify_mysql("SELECT * FROM `t\x81\x40`", o).statements.at(0).klass, StatementClass::Unknown);
}

TEST(MysqlLexingSettings, SqlModeExpressionIsAllowedAndMarkedAsChangingLexing) {
  // MariaDB Connector/J 2.7's login statement.
  const auto info = classify_mysql("set autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')", shop());
  ASSERT_EQ(info.statements.size(), 1u);
  EXPECT_EQ(info.statements[0].klass, StatementClass::SessionSafe) << info.statements[0].forbidden_reason;
  EXPECT_TRUE(info.statements[0].changes_lexing);
  for (const char* sql : {"SET sql_mode = 'ANSI'", "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
                          "SET @@session.sql_mode = 'PIPES_AS_CONCAT,IGNORE_SPACE'", "SET sql_mode = ''",
                          "SET sql_mode = DEFAULT", "SET NAMES latin1", "SET NAMES DEFAULT", "SET CHARACTER SET cp1251",
                          "SET character_set_client = @x", "SET sql_mode = @saved"}) {
    const auto i = classify_mysql(sql, shop());
    ASSERT_EQ(i.statements.size(), 1u) << sql;
    EXPECT_EQ(i.statements[0].klass, StatementClass::SessionSafe) << sql << ": " << i.statements[0].forbidden_reason;
    EXPECT_TRUE(i.statements[0].changes_lexing) << sql;
  }
  EXPECT_FALSE(classify_mysql("SET autocommit = 1", shop()).statements[0].changes_lexing);
  EXPECT_FALSE(classify_mysql("SELECT * FROM orders", shop()).statements[0].changes_lexing);
}

// MariaDB SET STATEMENT ... FOR stmt: judged as the statement (lexed under the session's
// settings), with allow-listed, non-lexing assignments.
TEST(MysqlLexingSettings, SetStatementForIsJudgedAsItsStatement) {
  const auto ok = classify_mysql("SET STATEMENT max_statement_time = 5, lock_wait_timeout = 2 FOR SELECT * FROM orders",
                                 shop());
  ASSERT_EQ(ok.statements.size(), 1u);
  EXPECT_EQ(ok.statements[0].klass, StatementClass::Dml) << ok.statements[0].forbidden_reason;
  EXPECT_EQ(tables(ok), (std::vector<std::string>{"shop.orders"}));
  EXPECT_FALSE(ok.statements[0].changes_lexing);
  const auto denied = classify_mysql("SET STATEMENT max_statement_time = 5 FOR SELECT * FROM secret", shop());
  EXPECT_EQ(tables(denied), (std::vector<std::string>{"shop.secret"}));
}

// MariaDB keeps a SET NAMES run inside BEGIN NOT ATOMIC ... END (unlike inside stored
// routines, which restore the caller's character set and sql_mode).
TEST(MysqlLexingSettings, AnonymousCompoundStatementIsReadBackAfter) {
  const auto info = classify_mysql("BEGIN NOT ATOMIC SET NAMES latin1; END", shop());
  ASSERT_EQ(info.statements.size(), 1u);
  EXPECT_EQ(info.statements[0].klass, StatementClass::AnonymousCode);
  EXPECT_TRUE(info.statements[0].changes_lexing);
}

TEST(MysqlLexingSettings, SqlModeSetIsFollowedWhileAnsiQuotesOrNoBackslashEscapesAreOn) {
  auto o = shop();
  o.ansi_quotes = true;
  o.no_backslash_escapes = true;
  const auto info = classify_mysql("SET sql_mode = 'STRICT_TRANS_TABLES'", o);
  EXPECT_EQ(info.statements[0].klass, StatementClass::SessionSafe) << info.statements[0].forbidden_reason;
}

TEST(MysqlLexingSettings, UnfollowableLiteralModesAndCharsetsStayRefused) {
  for (const char* sql : {"SET sql_mode = 'ORACLE'", "SET sql_mode = 'STRICT_TRANS_TABLES,MSSQL'", "SET NAMES gb18030",
                          "SET NAMES 'ucs2'", "SET CHARACTER SET swe7", "SET character_set_client = utf16",
                          "SET STATEMENT sql_mode = 'ANSI' FOR SELECT 1",
                          "SET STATEMENT max_statement_time = 1, character_set_client = latin1 FOR SELECT 1",
                          "SET STATEMENT foreign_key_checks = 0 FOR DELETE FROM orders"}) {
    const auto i = classify_mysql(sql, shop());
    ASSERT_EQ(i.statements.size(), 1u) << sql;
    EXPECT_TRUE(i.statements[0].klass == StatementClass::Forbidden || i.statements[0].klass == StatementClass::Unknown)
        << sql;
  }
}

TEST(MysqlLexingSettings, LexingChangeFollowedByMoreStatementsIsRefused) {
  const auto info = classify_mysql("SET sql_mode = 'ANSI'; SELECT \"a\" FROM orders", shop());
  ASSERT_EQ(info.statements.size(), 2u);
  EXPECT_EQ(info.statements[0].klass, StatementClass::Forbidden);
  EXPECT_EQ(info.statements[0].forbidden_reason, kLexingChangeNotLast);
  for (const char* sql : {"SET NAMES latin1; SELECT 1", "EXECUTE s; SELECT 1",
                          "EXECUTE IMMEDIATE 'SET sql_mode = ''ANSI'''; SELECT 1"}) {
    const auto i = classify_mysql(sql, shop());
    ASSERT_FALSE(i.statements.empty()) << sql;
    EXPECT_NE(i.statements[0].klass, StatementClass::SessionSafe) << sql;
    EXPECT_NE(i.statements[0].klass, StatementClass::Prepare) << sql;
  }
  // Last in the text: fine.
  const auto last = classify_mysql("SELECT 1; SET sql_mode = 'ANSI'", shop());
  ASSERT_EQ(last.statements.size(), 2u);
  EXPECT_EQ(last.statements[1].klass, StatementClass::SessionSafe);
}

TEST(MysqlLexingSettings, UnfollowableReportedModeMakesEveryStatementUnknown) {
  auto o = shop();
  o.unfollowable_sql_mode = "ORACLE";
  for (const char* sql : {"SELECT 1", "SET sql_mode = 'ORACLE'", "SELECT * FROM orders", "SET sql_mode = concat('')",
                          "SET sql_mode = '' /* x */", "SET sql_mode = ''; SELECT 1", "SET sql_mode = \"\"",
                          "SET sql_mode = 'ANSI\\'", "SET names = ''"}) {
    const auto i = classify_mysql(sql, o);
    ASSERT_EQ(i.statements.size(), 1u) << sql;
    EXPECT_EQ(i.statements[0].klass, StatementClass::Unknown) << sql;
    EXPECT_NE(i.statements[0].forbidden_reason.find("ORACLE"), std::string::npos) << sql;
  }
  // The way back: a SET sql_mode that lexes the same under every mode.
  for (const char* sql : {"SET sql_mode = ''", "set session sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION';",
                          "SET @@session.sql_mode := DEFAULT", "  SET @@sql_mode='ANSI'  "}) {
    EXPECT_TRUE(is_sql_mode_recovery(sql)) << sql;
    const auto i = classify_mysql(sql, o);
    ASSERT_EQ(i.statements.size(), 1u) << sql;
    EXPECT_EQ(i.statements[0].klass, StatementClass::SessionSafe) << sql << ": " << i.statements[0].forbidden_reason;
    EXPECT_TRUE(i.statements[0].changes_lexing) << sql;
  }
}

TEST(MysqlLexingSettings, NoBackslashEscapesDecidesWhetherTheTableIsInsideAString) {
  // The classic bypass: under the default reading 'a\' ... is one string and `secret` is
  // inside it; under NO_BACKSLASH_ESCAPES the string ends at the backslash.
  const std::string sql = "SELECT 'a\\' FROM orders UNION SELECT * FROM secret -- '";
  auto o = shop();
  const auto plain = classify_mysql(sql, o);
  o.no_backslash_escapes = true;
  const auto nbe = classify_mysql(sql, o);
  EXPECT_EQ(tables(nbe), (std::vector<std::string>{"shop.orders", "shop.secret"}));
  EXPECT_NE(tables(plain), tables(nbe));
}

TEST(MysqlLexingSettings, DecisionKeyDiffersPerModeAndCharset) {
  const std::string sql = "SELECT \"x\" FROM orders";
  auto o = shop();
  const auto base = fingerprint_mysql(sql, o);
  auto quotes = o;
  quotes.ansi_quotes = true;
  auto escapes = o;
  escapes.no_backslash_escapes = true;
  auto latin = o;
  latin.charset = "latin1";
  auto oracle = o;
  oracle.unfollowable_sql_mode = "ORACLE";
  EXPECT_NE(base, fingerprint_mysql(sql, quotes));
  EXPECT_NE(base, fingerprint_mysql(sql, escapes));
  EXPECT_NE(base, fingerprint_mysql(sql, latin));
  EXPECT_NE(base, fingerprint_mysql(sql, oracle));
}

TEST(MysqlLexingSettings, AnsiQuotesReadsDoubleQuotedNamesAsTables) {
  auto o = shop();
  o.ansi_quotes = true;
  EXPECT_EQ(tables(classify_mysql("SELECT * FROM \"secret\"", o)), (std::vector<std::string>{"shop.secret"}));
  EXPECT_EQ(tables(classify_mysql("SELECT \"x\" || 'y' FROM orders", o)), (std::vector<std::string>{"shop.orders"}));
}

}  // namespace
}  // namespace segproxy::authz::sql
