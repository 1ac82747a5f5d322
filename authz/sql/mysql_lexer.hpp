#pragma once
// MySQL / MariaDB lexer for the policy analyzer: SQL text -> tokens, following the
// server's lexer (sql_lex.cc) where it matters for security:
//  - '...' strings with '' and (unless NO_BACKSLASH_ESCAPES) backslash escapes; "..." is
//    a string, or an identifier under ANSI_QUOTES; `...` identifiers with `` escapes;
//    X'..' / B'..' / N'..' / 0x.. / 0b.. literals; _charset introducers are plain words.
//  - comments: '#' and '-- ' (dash dash + whitespace/control char or end) to end of line;
//    '/* */' does NOT nest (ends at the first '*/'); '/*+ hints */' are comments but any
//    quote inside one is refused (MySQL's hint scanner would end them elsewhere).
//  - executable comments '/*! ... */', '/*!NNNNN ... */', '/*M!NNNNNN ... */': their content
//    is code when the server would run it (version rules of MySQL resp. MariaDB; with an
//    unknown server version every executable comment is code). Because a skipped
//    version comment ends at its (second-level) '*/' while an executed one ends at the
//    first '*/' outside strings, the two readings must end at the same byte, else the
//    text is refused as ambiguous. Nested executable comments and ';' inside one are
//    refused by the analyzer.
// Anything unexpected or read differently by server versions (NUL bytes, unterminated
// quotes/comments, a backslash outside a string, '--' before a non-ASCII byte, an
// identifier starting with '$' on MySQL, which MySQL 8 may read as $tag$ dollar-quoted
// text, invalid UTF-8 in names) is an error: the caller treats the text as not
// understood (fail closed).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::authz::sql::mysql {

enum class TokKind : std::uint8_t {
  Word,         // keyword or unquoted identifier, text as written
  QuotedIdent,  // `x` (or "x" under ANSI_QUOTES), text unescaped
  String,       // '...' / "...", text unescaped (bytes as the server sees them)
  Number,       // 12, 1.5, 1e3, .5
  BitHex,       // X'0A', B'01', 0x0A, 0b01 (text as written)
  UserVar,      // @name / @'name' / @`name`: text = name
  SysVar,       // @@name / @@session.name: text = as written after @@, lower case
  Param,        // ?
  Op,           // operator / other punctuation, text as written (multi-char: := <=> -> ->> ...)
  LParen,
  RParen,
  Comma,
  Dot,
  Semicolon,
};

struct Token {
  TokKind kind = TokKind::Op;
  std::string text;
  std::uint32_t offset = 0;  // byte offset of the first character in the input
  std::uint32_t end = 0;     // byte offset just past the token
  bool in_exec_comment = false;  // came from inside /*! ... */
  bool joined = false;           // no whitespace or comment between the previous token and this one
  char quote = 0;                // String / QuotedIdent: the quote character
};

struct LexOptions {
  bool ansi_quotes = false;
  bool no_backslash_escapes = false;
  bool server_is_mariadb = false;
  std::uint32_t server_version = 0;  // MySQL 80036 / MariaDB 100611 style; 0 = unknown
  // utf8 / utf8mb3 / utf8mb4 session character set (else single-byte: non-ASCII
  // identifiers are refused).
  bool utf8 = true;
  std::size_t max_tokens = 4'000'000;
};

struct LexResult {
  bool ok = false;
  bool syntax_error = false;  // the server would reject the text too (unterminated ...)
  bool too_many_tokens = false;  // stopped at LexOptions::max_tokens
  std::string error;
  std::vector<Token> tokens;
};

LexResult lex_mysql(std::string_view sql, const LexOptions& opts);

// ASCII case-insensitive equality (keywords are ASCII).
bool iequals(std::string_view a, std::string_view b);
std::string ascii_lower(std::string_view s);

}  // namespace segproxy::authz::sql::mysql
