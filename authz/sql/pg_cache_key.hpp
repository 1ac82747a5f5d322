#pragma once
// Decision-cache key for PostgreSQL statement text: the text with plain numeric and
// plain single-quoted string literals replaced by '?', so `... WHERE aid = 1` and
// `... WHERE aid = 2` share one cached decision (what pg_stat_statements calls the
// normalised statement).
//
// Soundness: two texts get the same key only if they differ solely in such literals,
// and the classification never depends on a literal's value (COPY TO 'file', the
// opaque functions ... are judged by name or keyword). The exception, the empty
// search_path (SET search_path = '' / set_config('search_path', '', ...)), is never
// keyed by shape: text naming search_path or set_config gets nullopt. Anything the
// scanner is not sure about makes it give up (nullopt) and the caller keys by the exact
// text instead: comments, dollar quotes, quoted-string prefixes (E'', U&'', B'', X''),
// backslashes outside strings, non-ASCII bytes, unterminated strings, and any text when
// standard_conforming_strings is off.
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::authz::sql {

std::optional<std::string> pg_cache_key(std::string_view sql, bool standard_conforming_strings = true);
// The same key written into `out` (cleared first; its memory resource decides where it
// lives: PgGate keys on the stack, issue 15). False, with `out` unspecified: no key by
// shape (pg_cache_key's nullopt).
bool pg_cache_key_into(std::pmr::string& out, std::string_view sql, bool standard_conforming_strings = true);

}  // namespace segproxy::authz::sql
