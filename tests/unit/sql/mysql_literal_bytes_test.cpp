// Issue 12 (driver transparency) with item 4.5 kept: bytes that are not UTF-8 pass only
// inside string literals (PyMySQL's `_binary'<raw bytes>'`), where they are data and the
// literal ends at the same byte for the server and for the lexer; anywhere else the text
// is refused. The literal boundaries follow the session's sql_mode. The check is made in
// the classifier's one lexing pass (MysqlText), under its limits (review finding).
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/statement_limits.hpp"

namespace segproxy::authz::sql {
namespace {

MysqlClassifierOptions utf8_session() {
  MysqlClassifierOptions o;
  o.current_database = "test1";
  o.server_is_mariadb = true;
  o.server_version = 100611;
  return o;
}

const std::string kRaw = std::string("\x00\xff\xfe\x80", 4).substr(1);  // ff fe 80: no UTF-8

// The text's bytes pass: none that is not UTF-8 lies outside a string literal.
bool non_utf8_bytes_only_in_string_literals(const std::string& sql, const MysqlClassifierOptions& o) {
  return !MysqlText(sql, o).invalid_bytes();
}

TEST(MysqlLiteralBytes, RawBytesInsideABinaryStringLiteralPass) {
  const auto o = utf8_session();
  EXPECT_TRUE(non_utf8_bytes_only_in_string_literals("INSERT INTO t VALUES (_binary'" + kRaw + "')", o));
  EXPECT_TRUE(non_utf8_bytes_only_in_string_literals("SELECT '" + kRaw + "', \"" + kRaw + "\"", o));
}

TEST(MysqlLiteralBytes, AnEscapedQuoteBeforeRawBytesKeepsTheLiteralOpen) {
  const auto o = utf8_session();
  EXPECT_TRUE(non_utf8_bytes_only_in_string_literals("SELECT _binary'\\'" + kRaw + "\\\\'", o));
  EXPECT_TRUE(non_utf8_bytes_only_in_string_literals("SELECT _binary'''" + kRaw + "'", o));
}

TEST(MysqlLiteralBytes, RawBytesInNamesCommentsOrAfterTheLiteralAreRefused) {
  const auto o = utf8_session();
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT 1 AS caf\xe9", o));
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT `caf\xe9` FROM t", o));
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT 1 /* " + kRaw + " */", o));
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT 1 -- " + kRaw + "\n", o));
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT 'a'" + kRaw, o));
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT 1 /*!100000 " + kRaw + " */", o));
}

TEST(MysqlLiteralBytes, UnderAnsiQuotesADoubleQuotedNameWithRawBytesIsRefused) {
  auto o = utf8_session();
  EXPECT_TRUE(non_utf8_bytes_only_in_string_literals("SELECT \"" + kRaw + "\"", o));
  o.ansi_quotes = true;  // "..." is now an identifier
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT \"" + kRaw + "\"", o));
}

TEST(MysqlLiteralBytes, UnderNoBackslashEscapesTheLiteralEndsAtTheBackslashQuote) {
  auto o = utf8_session();
  // With escapes: '\'' is one literal holding a quote, the raw bytes stay inside.
  const std::string text = "SELECT '\\'" + kRaw + "'";
  EXPECT_TRUE(non_utf8_bytes_only_in_string_literals(text, o));
  // NO_BACKSLASH_ESCAPES: the literal is '\' and the raw bytes follow it outside.
  o.no_backslash_escapes = true;
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals(text, o));
}

TEST(MysqlLiteralBytes, TextTheLexerCannotReadIsRefused) {
  const auto o = utf8_session();
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT '" + kRaw, o));  // unterminated
}

TEST(MysqlLiteralBytes, ARefusedTextIsAnInvalidCharacterStringWithoutFingerprint) {
  const auto o = utf8_session();
  const StatementInfo info = classify_mysql("SELECT 1 /* " + kRaw + " */", o);
  EXPECT_FALSE(info.parse_ok);
  EXPECT_TRUE(info.invalid_text_bytes);
  EXPECT_EQ(info.fingerprint, 0u);
  EXPECT_EQ(fingerprint_mysql("SELECT 1 /* " + kRaw + " */", o), 0u);
  const StatementInfo ok = classify_mysql("INSERT INTO t VALUES (_binary'" + kRaw + "')", o);
  EXPECT_TRUE(ok.parse_ok) << ok.parse_error;
  EXPECT_FALSE(ok.invalid_text_bytes);
}

TEST(MysqlLiteralBytes, OnlyUtf8SessionsAreChecked) {
  auto o = utf8_session();
  o.charset = "latin1";  // every byte is a character: the analyzer judges the text as it is
  EXPECT_FALSE(MysqlText("SELECT 1 /* " + kRaw + " */", o).invalid_bytes());
}

// Review finding: the check lexed with its own options (1,000,000 tokens, no
// limits.max_statement_length), so text over the statement limits was lexed whole. Now
// it is the classifier's lexing: over the limits nothing is checked and the text is
// refused for its length / token count (54000 / 54001), not 1300.
TEST(MysqlLiteralBytes, TextOverTheStatementLimitsIsRefusedForThemWithoutBeingChecked) {
  auto o = utf8_session();
  o.limits.max_statement_length = 32;
  const std::string long_text = "SELECT 1 /* " + kRaw + " */ " + std::string(64, ' ');
  EXPECT_FALSE(MysqlText(long_text, o).invalid_bytes());
  const StatementInfo too_long = classify_mysql(long_text, o);
  EXPECT_EQ(too_long.parse_error_sqlstate, kSqlstateProgramLimitExceeded);
  auto few = utf8_session();
  few.limits.max_statement_tokens = 4;
  const std::string many = "SELECT 1, 2, 3, 4, 5 /* " + kRaw + " */";
  const MysqlText many_text(many, few);
  EXPECT_FALSE(many_text.invalid_bytes());
  EXPECT_EQ(many_text.tokens(), nullptr);
  EXPECT_EQ(classify_mysql(many, few).parse_error_sqlstate, kSqlstateStatementTooComplex);
}

}  // namespace
}  // namespace segproxy::authz::sql
