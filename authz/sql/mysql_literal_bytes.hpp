#pragma once
// Where a MySQL statement text may carry bytes that are not UTF-8 (issue 12: PyMySQL and
// MySQLdb send binary values as `_binary'<raw bytes>'` string literals, not as X'..').
// In a utf8 / utf8mb3 / utf8mb4 session the server finds the end of a string literal
// byte by byte: an ASCII byte (quote, backslash) is never part of a multibyte sequence,
// and an invalid sequence is read one byte at a time (my_ismbchar is false for it), so
// the literal ends at the same byte for the server and for segproxy's lexer, whatever
// the bytes inside. The bytes of a literal are data (binary with `_binary`, else checked
// by the server against the column's character set); they never name anything.
// Anywhere else - names, keywords, comments, executable comments - a byte that is not
// UTF-8 is refused (ER_INVALID_CHARACTER_STRING 1300 by the session).
#include <string_view>

#include "authz/sql/mysql_classifier.hpp"

namespace segproxy::authz::sql {

// True when every byte of `sql` that is not valid UTF-8 lies inside a string literal as
// the lexer reads it under the session's lexing settings (`opts`: sql_mode quotes and
// backslash escapes, server version for executable comments). False when the text
// cannot be lexed (then the caller refuses it as before: fail closed) or when a byte
// outside every string literal is not UTF-8. Call it only for utf8-family sessions.
bool non_utf8_bytes_only_in_string_literals(std::string_view sql, const MysqlClassifierOptions& opts);

}  // namespace segproxy::authz::sql
