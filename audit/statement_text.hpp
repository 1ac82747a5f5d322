#pragma once
// audit.statement_text: what the `statement` field may show.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "audit/config.hpp"

namespace segproxy::audit {

// Replaces every literal with '?': quoted strings ('..', E'..', X'..' keep their prefix
// letter), dollar-quoted strings ($$..$$, $tag$..$tag$), numbers; comments are removed.
// For protocol "mysql" double-quoted text and backslash escapes are literals too (the
// server default without ANSI_QUOTES). An unterminated literal swallows the rest of the
// text. Conservative by design: a secret inside a literal never survives.
std::string normalize_statement(std::string_view sql, std::string_view protocol);

// Same, into `out` (replacing its contents; no allocation once `out` has the capacity).
void normalize_statement_into(std::string& out, std::string_view sql, std::string_view protocol);

// The text the record keeps under `mode`.
std::string apply_statement_text(StatementText mode, std::string_view sql,
                                 std::string_view protocol);

void apply_statement_text_into(std::string& out, StatementText mode, std::string_view sql,
                               std::string_view protocol);

// ---- the lexical pieces of statement text ------------------------------------------
// Shared by normalize_statement and segproxyctl's reading of normalized text back
// (ctl/audit_statements reparseable_statements).

// An identifier character: a letter, digit, '_', '$' or any byte >= 0x80.
bool statement_ident_char(char c);
// Index just past a quoted run starting at s[i] (the opening quote `q`): a doubled quote
// stays inside, and with `backslash` so does \x; s.size() when unterminated.
std::size_t skip_quoted(std::string_view s, std::size_t i, char q, bool backslash);
// Does a quote that follows `before` open a PostgreSQL escape string E'..' (`before`
// ends in E or e with no identifier character ahead of it)?
bool escape_string_prefix(std::string_view before);
// Where a comment starting at s[i] ends: -- (and # with `hash`) at the newline (not
// included), /* */ past its close (nesting ignored), s.size() when unterminated;
// std::string_view::npos when no comment starts at i.
std::size_t comment_end(std::string_view s, std::size_t i, bool hash);
// At s[i] == '$' (PostgreSQL; whether an identifier character precedes it is the
// caller's test): a dollar-quoted string $tag$..$tag$ (end: past the closing tag,
// s.size() when unterminated), a positional parameter $1 (end: past its digits), or
// neither.
struct DollarToken {
  enum class Kind { None, Quoted, Parameter };
  Kind kind = Kind::None;
  std::size_t end = 0;
};
DollarToken scan_dollar(std::string_view s, std::size_t i);

// Caps `statement` at `max_bytes` (cut at a UTF-8 character boundary): a longer text
// keeps its first bytes, and statement_length / statement_sha256 (hex SHA-256) describe
// the whole text so an auditor holding it can match the record. Shorter texts are left
// alone (both fields unset).
void cap_statement_text(std::string& statement, std::optional<std::uint64_t>& statement_length,
                        std::string& statement_sha256, std::size_t max_bytes);

}  // namespace segproxy::audit
