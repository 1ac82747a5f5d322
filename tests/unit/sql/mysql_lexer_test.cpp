// MySQL lexer: token kinds, quoting, comments and executable comments.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "authz/sql/mysql_lexer.hpp"

namespace segproxy::authz::sql::mysql {
namespace {

// "kind:text" per token, space-separated.
std::string render(const LexResult& r) {
  if (!r.ok) return std::string(r.syntax_error ? "SYNTAX: " : "ERROR: ") + r.error;
  static const char* names[] = {"w", "qi", "s", "n", "bh", "uv", "sv", "?", "op", "(", ")", ",", ".", ";"};
  std::string out;
  for (const auto& t : r.tokens) {
    if (!out.empty()) out += ' ';
    out += names[static_cast<int>(t.kind)];
    if (t.kind != TokKind::LParen && t.kind != TokKind::RParen && t.kind != TokKind::Comma &&
        t.kind != TokKind::Dot && t.kind != TokKind::Semicolon && t.kind != TokKind::Param) {
      out += ':' + t.text;
    }
  }
  return out;
}

std::string lex(std::string_view sql, LexOptions o = {}) { return render(lex_mysql(sql, o)); }

LexOptions mysql(std::uint32_t version) {
  LexOptions o;
  o.server_version = version;
  return o;
}

LexOptions mariadb(std::uint32_t version) {
  LexOptions o;
  o.server_version = version;
  o.server_is_mariadb = true;
  return o;
}

TEST(MysqlLexer, EveryTokenKind) {
  EXPECT_EQ(lex("SELECT `a`, 'b', 1.5e3, X'0A', @u, @@session.x, ?, a.b, (1); x := 2"),
            "w:SELECT qi:a , s:b , n:1.5e3 , bh:X'0A' , uv:u , sv:session.x , ? , w:a . w:b , ( n:1 ) ; w:x op::= n:2");
}

TEST(MysqlLexer, BacktickIdentifierWithDoubledBacktick) {
  EXPECT_EQ(lex("SELECT * FROM `or``ders`"), "w:SELECT op:* w:FROM qi:or`ders");
  EXPECT_EQ(lex("`a\\`"), "qi:a\\");  // no backslash escapes in identifiers
}

TEST(MysqlLexer, DoubleQuotesAreStringsUnlessAnsiQuotes) {
  EXPECT_EQ(lex("\"secret\""), "s:secret");
  LexOptions o;
  o.ansi_quotes = true;
  EXPECT_EQ(lex("\"sec\"\"ret\"", o), "qi:sec\"ret");
}

TEST(MysqlLexer, BackslashEscapesInStrings) {
  EXPECT_EQ(lex(R"('a\'b' 'c''d' 'e\\' 'f\n\%')"), "s:a'b s:c'd s:e\\ s:f\n\\%");
}

TEST(MysqlLexer, BackslashEscapeIgnoredUnderNoBackslashEscapes) {
  // Default: one string. NO_BACKSLASH_ESCAPES: the string ends at \' and the rest is code.
  EXPECT_EQ(lex(R"('x\' UNION SELECT 1 -- ')"), "s:x' UNION SELECT 1 -- ");
  LexOptions o;
  o.no_backslash_escapes = true;
  EXPECT_EQ(lex(R"('x\' UNION SELECT 1 -- ')", o), "s:x\\ w:UNION w:SELECT n:1");
}

TEST(MysqlLexer, CharsetIntroducerAndNationalStrings) {
  EXPECT_EQ(lex("_utf8mb4'x' N'y' n 'z'"), "w:_utf8mb4 s:x s:y w:n s:z");
}

TEST(MysqlLexer, HexAndBitLiterals) {
  EXPECT_EQ(lex("x'41' B'01' 0x41 0b01 0x4g"), "bh:x'41' bh:B'01' bh:0x41 bh:0b01 w:0x4g");
}

TEST(MysqlLexer, NumberFollowedByLettersIsAnIdentifier) {
  EXPECT_EQ(lex("SELECT 1abc, 12, .5, 1e5"), "w:SELECT w:1abc , n:12 , n:.5 , n:1e5");
}

TEST(MysqlLexer, NumberWithExponentOrFractionEndsBeforeLetters) {
  // Regression: "1e1FROM secret" is 1e1 FROM secret for the server, not one identifier.
  EXPECT_EQ(lex("SELECT 1e1FROM secret"), "w:SELECT n:1e1 w:FROM w:secret");
  EXPECT_EQ(lex("SELECT 1.5FROM secret"), "w:SELECT n:1.5 w:FROM w:secret");
  EXPECT_EQ(lex("SELECT 1.FROM secret"), "w:SELECT n:1. w:FROM w:secret");
  EXPECT_EQ(lex("SELECT 1ea, 1e+a"), "w:SELECT w:1ea , w:1e op:+ w:a");
}

TEST(MysqlLexer, NonAsciiIdentifiersMustBeValidUtf8) {
  EXPECT_EQ(lex("SELECT caf\xc3\xa9"), "w:SELECT w:caf\xc3\xa9");
  EXPECT_EQ(lex("SELECT caf\xe9").rfind("ERROR:", 0), 0u);
  EXPECT_EQ(lex("SELECT `caf\xe9`").rfind("ERROR:", 0), 0u);
  EXPECT_EQ(lex("SELECT 'caf\xe9'"), "w:SELECT s:caf\xe9");  // string bytes are data
  LexOptions latin1;
  latin1.utf8 = false;
  EXPECT_EQ(lex("SELECT caf\xc3\xa9", latin1).rfind("ERROR:", 0), 0u);
}

TEST(MysqlLexer, HashAndDashDashComments) {
  EXPECT_EQ(lex("a # b\nc"), "w:a w:c");
  EXPECT_EQ(lex("a -- b\nc"), "w:a w:c");
  EXPECT_EQ(lex("a --\tb\nc"), "w:a w:c");
  EXPECT_EQ(lex("a --"), "w:a");
  EXPECT_EQ(lex("a --b"), "w:a op:- op:- w:b");  // no space: two minus signs
  EXPECT_EQ(lex("a # x\r y"), "w:a");              // only \n ends a # comment
}

TEST(MysqlLexer, NonNestingCommentEndsAtFirstTerminator) {
  EXPECT_EQ(lex("SELECT /* a /* b */ 1 FROM secret */"), "w:SELECT n:1 w:FROM w:secret op:* op:/");
  EXPECT_EQ(lex("SELECT /* x */ 1"), "w:SELECT n:1");
  EXPECT_EQ(lex("SELECT /*/ 1 */ 2"), "w:SELECT n:2");
}

TEST(MysqlLexer, SelectWithExecutableCommentHidingDropIsAnalysed) {
  EXPECT_EQ(lex("SELECT 1 /*! ; DROP TABLE t */"), "w:SELECT n:1 ; w:DROP w:TABLE w:t");
  EXPECT_TRUE(lex_mysql("SELECT 1 /*! ; DROP TABLE t */", {}).tokens[2].in_exec_comment);
}

// Issue 12 item 1.6: executable comments are code whatever their version and whatever
// the server (a server may run them: another version or product behind the listener).
TEST(MysqlLexer, VersionCommentIsCodeWhateverTheServerVersion) {
  EXPECT_EQ(lex("SELECT 1 /*!50000 FROM t */", mysql(80036)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*!90000 FROM t */", mysql(80036)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*!99999 FROM t */"), "w:SELECT n:1 w:FROM w:t");
  // Fewer than 5 digits: not a version, the digits are code.
  EXPECT_EQ(lex("SELECT /*!123 */", mysql(80036)), "w:SELECT n:123");
}

TEST(MysqlLexer, MariaDbAndMysqlVersionCommentsAreCodeOnEveryServer) {
  EXPECT_EQ(lex("SELECT 1 /*!80000 FROM t */", mariadb(100611)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*!50700 FROM t */", mariadb(100611)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*M!100100 FROM t */", mariadb(100611)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*M!999999 FROM t */", mariadb(100611)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*!100100 FROM t */", mariadb(100611)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*M! FROM t */", mariadb(100611)), "w:SELECT n:1 w:FROM w:t");
  // /*M! on MySQL (a plain comment there) is still judged as code.
  EXPECT_EQ(lex("SELECT 1 /*M!100100 FROM t */", mysql(80036)), "w:SELECT n:1 w:FROM w:t");
  EXPECT_EQ(lex("SELECT 1 /*M!100100 FROM t */"), "w:SELECT n:1 w:FROM w:t");
}

TEST(MysqlLexer, SixDigitVersionIsAmbiguousOnMysql) {
  EXPECT_EQ(lex("SELECT /*!800001 */", mysql(80036)).rfind("ERROR:", 0), 0u);
  EXPECT_EQ(lex("SELECT /*!800001 */").rfind("ERROR:", 0), 0u);
}

TEST(MysqlLexer, VersionCommentWithOneNestedCommentIsCode) {
  EXPECT_EQ(lex("SELECT 1 /*!99999 x /* y */ z */ , 2", mysql(80036)), "w:SELECT n:1 w:x w:z , n:2");
}

TEST(MysqlLexer, ExecutableCommentMustEndAtTheSamePlaceEitherWay) {
  // Skipped: ends at the first */ and "; DROP ..." runs. Executed: the string hides it.
  const auto r = lex_mysql("SELECT /*!99999 'x */ 1; DROP TABLE t; -- ' */", mysql(80036));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.syntax_error);
  EXPECT_FALSE(lex_mysql("SELECT /*! 1 -- */\n */", {}).ok);
}

TEST(MysqlLexer, NestedExecutableCommentIsRefused) {
  EXPECT_EQ(lex("SELECT /*! /*! 1 */ */"), "ERROR: nested executable comment");
  EXPECT_EQ(lex("SELECT /*! /* c */ 1 */"), "w:SELECT n:1");
}

TEST(MysqlLexer, OptimizerHintWithQuotesIsRefused) {
  EXPECT_EQ(lex("SELECT /*+ NO_ICP(t) */ 1"), "w:SELECT n:1");
  EXPECT_EQ(lex("SELECT /*+ QB_NAME(`a*/`) */ 1"), "ERROR: quote inside an optimizer hint comment");
}

TEST(MysqlLexer, UnterminatedQuotesAndCommentsAreSyntaxErrors) {
  for (const char* sql : {"SELECT 'abc", "SELECT `abc", "SELECT \"abc", "SELECT /* x", "SELECT /*! 1", "SELECT 'a\\'"}) {
    const auto r = lex_mysql(sql, {});
    EXPECT_FALSE(r.ok) << sql;
    EXPECT_TRUE(r.syntax_error) << sql;
  }
}

TEST(MysqlLexer, NulByteAndBackslashOutsideStringsAreRefused) {
  EXPECT_FALSE(lex_mysql(std::string_view("SELECT 1\0 FROM t", 16), {}).ok);
  EXPECT_FALSE(lex_mysql(std::string_view("SELECT 1 # \0\n FROM t", 20), {}).ok);
  EXPECT_TRUE(lex_mysql(std::string_view("SELECT '\0'", 10), {}).ok);  // inside a string: data
  EXPECT_FALSE(lex_mysql("SELECT \\N", {}).ok);
}

TEST(MysqlLexer, DollarQuotesAndDashDashBeforeNonAsciiAreRefused) {
  // MySQL 8 may read $$'$$ as a dollar-quoted string hiding a quote from us.
  EXPECT_EQ(lex("SELECT $$'$$ FROM secret -- '").rfind("ERROR:", 0), 0u);
  EXPECT_EQ(lex("SELECT a$b"), "w:SELECT w:a$b");
  EXPECT_EQ(lex("SELECT $a", mariadb(100611)), "w:SELECT w:$a");
  EXPECT_EQ(lex("SELECT 1 --\xc2\xa0x").rfind("ERROR:", 0), 0u);
}

TEST(MysqlLexer, Variables) {
  EXPECT_EQ(lex("@a @'b c' @`d` @@GLOBAL.x @@y @a.b"), "uv:a uv:b c uv:d sv:global.x sv:y uv:a.b");
}

TEST(MysqlLexer, JoinedMarksAdjacentTokens) {
  const auto r = lex_mysql("a.b c (", {});
  ASSERT_EQ(r.tokens.size(), 5u);
  EXPECT_TRUE(r.tokens[1].joined);
  EXPECT_TRUE(r.tokens[2].joined);
  EXPECT_FALSE(r.tokens[3].joined);
  EXPECT_FALSE(r.tokens[4].joined);
}

}  // namespace
}  // namespace segproxy::authz::sql::mysql
