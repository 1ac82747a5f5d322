#pragma once
// The MySQL / MariaDB session settings that decide how the server lexes a statement
// (sql_mode, character_set_client), and which of their values the analyzer can follow.
// Pure; used by the analyzer (SET validation) and by the session, which reads the values
// the server reports after every statement that may change them (docs/mysql.md,
// "Lexing settings").
#include <string>
#include <string_view>

namespace segproxy::authz::sql {

// One sql_mode flag the analyzer follows: the modes that change lexing (ANSI_QUOTES,
// NO_BACKSLASH_ESCAPES, and ANSI, which includes ANSI_QUOTES), the ones that change only
// expressions and never which objects a statement names (PIPES_AS_CONCAT,
// HIGH_NOT_PRECEDENCE, IGNORE_SPACE: the analyzer reads `name (` as a call with or without
// the space), and the data-checking ones (STRICT_*, NO_ZERO_*, ...). Not followed: the
// combination modes that change the parser (MariaDB ORACLE, MSSQL, DB2, MAXDB,
// POSTGRESQL) and any flag segproxy does not know.
bool is_followable_sql_mode_flag(std::string_view flag);

// A reported (or literal) sql_mode value: comma-separated flags, any case.
struct MysqlSqlMode {
  bool ansi_quotes = false;           // ANSI_QUOTES or ANSI
  bool no_backslash_escapes = false;  // NO_BACKSLASH_ESCAPES
  std::string unfollowable;           // the first flag the analyzer cannot follow (upper-case), or empty
};
MysqlSqlMode parse_mysql_sql_mode(std::string_view value);

// The multibyte client character sets whose second byte can be ASCII (0x40-0x7E, the
// backslash 0x5C and the backtick 0x60 among them): sjis, cp932, big5, gbk. Followed by
// masking (below); gb18030 (MySQL 8 only, four-byte forms) is not.
bool has_ascii_trail_bytes(std::string_view charset);

// A copy of `text` in which every ASCII byte that the server reads as the second byte of
// a two-byte character of `charset` (has_ascii_trail_bytes) becomes 0x80: the same length,
// the same quotes, backslashes and delimiters as the server's lexer sees them (it pairs a
// lead byte with the next byte only when that byte is a valid trail byte: MariaDB's
// my_ismbchar ranges, checked against MariaDB 10.11). The analyzer lexes the copy as a
// single-byte text (non-ASCII identifiers are refused there); the original bytes are
// what is forwarded. Other character sets: the text unchanged.
std::string mask_multibyte_trail_bytes(std::string_view text, std::string_view charset);

// lexing-neutral or has_ascii_trail_bytes: a character_set_client the analyzer follows.
bool is_followable_charset(std::string_view charset);

// The one statement accepted while the session's sql_mode cannot be followed: `SET
// [SESSION | LOCAL] sql_mode = DEFAULT | '<followable flags>'` (also `@@sql_mode`,
// `@@session.sql_mode`, `:=`, one trailing ';'), written with ASCII letters, '_', ',',
// '.', '@', '=', ':', ';', spaces and one single-quoted string of flag names only - no
// comment, backslash, double quote or backtick - so every sql_mode lexes it the same way.
bool is_sql_mode_recovery(std::string_view text);

// A character_set_client in which no byte of a multibyte character is below 0x80, so
// quotes, backslashes and every other ASCII byte mean what they mean in ASCII: the UTF-8
// family, ascii, binary, the ISO-8859 / Windows / DOS / Mac single-byte sets and the EUC
// sets (ujis, eucjpms, euckr, gb2312). Not neutral: sjis, cp932, big5, gbk (followed by
// masking), gb18030 (0x5c can be a trail byte; not followed), ucs2/utf16/utf32 (not valid
// client sets) and swe7 (a 7-bit set whose ASCII positions hold letters).
bool is_lexing_neutral_charset(std::string_view charset);

}  // namespace segproxy::authz::sql
