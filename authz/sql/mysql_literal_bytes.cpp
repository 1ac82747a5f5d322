// See mysql_literal_bytes.hpp.
#include "authz/sql/mysql_literal_bytes.hpp"

#include "authz/sql/mysql_lexer.hpp"
#include "protocols/common/utf8.hpp"

namespace segproxy::authz::sql {

bool non_utf8_bytes_only_in_string_literals(std::string_view sql, const MysqlClassifierOptions& opts) {
  if (sql.size() > opts.max_length) return false;
  mysql::LexOptions lex;
  lex.ansi_quotes = opts.ansi_quotes;
  lex.no_backslash_escapes = opts.no_backslash_escapes;
  lex.server_is_mariadb = opts.server_is_mariadb;
  lex.server_version = opts.server_version;
  lex.utf8 = true;
  lex.max_tokens = opts.max_tokens;
  const mysql::LexResult lexed = mysql::lex_mysql(sql, lex);
  if (!lexed.ok) return false;
  std::size_t outside = 0;  // start of the text not yet checked (outside string literals)
  for (const mysql::Token& t : lexed.tokens) {
    if (t.kind != mysql::TokKind::String) continue;
    if (t.offset < outside || t.end < t.offset || t.end > sql.size()) return false;  // not in text order
    if (!protocols::is_valid_utf8(sql.substr(outside, t.offset - outside))) return false;
    outside = t.end;
  }
  return protocols::is_valid_utf8(sql.substr(outside));
}

}  // namespace segproxy::authz::sql
