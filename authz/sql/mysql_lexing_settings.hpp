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

// A character_set_client in which no byte of a multibyte character is below 0x80, so
// quotes, backslashes and every other ASCII byte mean what they mean in ASCII: the UTF-8
// family, ascii, binary, the ISO-8859 / Windows / DOS / Mac single-byte sets and the EUC
// sets (ujis, eucjpms, euckr, gb2312). Not followed: sjis, cp932, big5, gbk, gb18030
// (0x5c, the backslash, can be a trail byte), ucs2/utf16/utf32 (not valid client sets) and
// swe7 (a 7-bit set whose ASCII positions hold letters).
bool is_lexing_neutral_charset(std::string_view charset);

}  // namespace segproxy::authz::sql
