#pragma once
// Reading a client's statement text as the PostgreSQL server will (issue 12 item 2.2):
// the classifier (libpg_query: UTF-8 bytes, standard_conforming_strings=on) gets a COPY
// converted from the session's client_encoding to UTF-8 and, under
// standard_conforming_strings=off, rewritten so that every string the server reads with
// backslash escapes is an E'' string. The bytes forwarded to the backend are always the
// client's own.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::authz::sql {

struct ClientText {
  bool ok = false;
  std::string text;      // UTF-8 (when ok)
  std::string sqlstate;  // when !ok: 22021 (invalid byte sequence) or 0A000 (encoding not followed)
  std::string error;
  int position = 0;      // when !ok: 1-based character position of the offending byte, 0 if none
};

// `sql` in `client_encoding` (a PostgreSQL name, as ParameterStatus reports it) as UTF-8.
// SQL_ASCII: the server does not convert, it reads the bytes in `server_encoding` (UTF8
// when empty). UTF8 text is returned unchanged but must be valid UTF-8. An encoding the
// classifier cannot follow (protocols/pg/encodings.hpp) or an unknown name: 0A000.
ClientText pg_client_text_to_utf8(std::string_view sql, std::string_view client_encoding,
                                  std::string_view server_encoding);

// Conversion with glibc iconv from `iconv_name` to UTF-8; exposed for tests.
ClientText iconv_to_utf8(std::string_view in, const char* iconv_name);

struct ScsOffRewrite {
  bool ok = false;
  std::string text;       // equivalent text for a standard_conforming_strings=on lexer
  std::string error;      // when !ok (sqlstate 0A000)
  // Characters inserted (character position in `text`, 1-based, and count), in order.
  std::vector<std::pair<int, int>> inserted;
};

// UTF-8 text as a server with standard_conforming_strings=off lexes it, rewritten for a
// lexer with it on: every plain '...' string start (also N'...') becomes an E'...'
// string (" E" inserted; N' becomes NCHAR E'); E'', B'', X'', continuation quotes of a
// multi-line string, comments, dollar quotes and "identifiers" are left alone. U&'...'
// strings are refused (PostgreSQL rejects them when standard_conforming_strings is off).
ScsOffRewrite pg_rewrite_scs_off(std::string_view utf8);

// A 1-based character position in a rewritten text -> the position in the text before
// the rewrite.
int pg_position_before_rewrite(int position, const std::vector<std::pair<int, int>>& inserted);

}  // namespace segproxy::authz::sql
