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

// Caps `statement` at `max_bytes` (cut at a UTF-8 character boundary): a longer text
// keeps its first bytes, and statement_length / statement_sha256 (hex SHA-256) describe
// the whole text so an auditor holding it can match the record. Shorter texts are left
// alone (both fields unset).
void cap_statement_text(std::string& statement, std::optional<std::uint64_t>& statement_length,
                        std::string& statement_sha256, std::size_t max_bytes);

}  // namespace segproxy::audit
