// Issue 12 (driver transparency) with item 4.5 kept: bytes that are not UTF-8 pass only
// inside string literals (PyMySQL's `_binary'<raw bytes>'`), where they are data and the
// literal ends at the same byte for the server and for the lexer; anywhere else the text
// is refused. The literal boundaries follow the session's sql_mode.
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/mysql_literal_bytes.hpp"

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
  auto small = o;
  small.max_length = 8;
  EXPECT_FALSE(non_utf8_bytes_only_in_string_literals("SELECT '" + kRaw + "'", small));
}

}  // namespace
}  // namespace segproxy::authz::sql
