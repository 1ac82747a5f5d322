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
// UTF-8 is refused (ER_INVALID_CHARACTER_STRING 1300, answered by the MySQL gate).
#include <string_view>
#include <vector>

#include "authz/sql/mysql_lexer.hpp"

namespace segproxy::authz::sql {

// True when every byte of `sql` that is not valid UTF-8 lies inside a String token of
// `tokens`, the lexer's reading of `sql` under the session's lexing settings (sql_mode
// quotes and backslash escapes, server version for executable comments), in text order.
// The classifier asks it in its one lexing pass (MysqlText, mysql_classifier.hpp), only for
// utf8-family sessions and only for text that is not UTF-8 as a whole.
bool non_utf8_bytes_only_in_string_literals(std::string_view sql, const std::vector<mysql::Token>& tokens);

}  // namespace segproxy::authz::sql
