// See mysql_literal_bytes.hpp.
#include "authz/sql/mysql_literal_bytes.hpp"

#include "protocols/common/utf8.hpp"

namespace segproxy::authz::sql {

bool non_utf8_bytes_only_in_string_literals(std::string_view sql, const std::vector<mysql::Token>& tokens) {
  std::size_t outside = 0;  // start of the text not yet checked (outside string literals)
  for (const mysql::Token& t : tokens) {
    if (t.kind != mysql::TokKind::String) continue;
    if (t.offset < outside || t.end < t.offset || t.end > sql.size()) return false;  // not in text order
    if (!protocols::is_valid_utf8(sql.substr(outside, t.offset - outside))) return false;
    outside = t.end;
  }
  return protocols::is_valid_utf8(sql.substr(outside));
}

}  // namespace segproxy::authz::sql
