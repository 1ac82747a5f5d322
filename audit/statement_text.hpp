#pragma once
// audit.statement_text: what the `statement` field may show.
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

// The text the record keeps under `mode`.
std::string apply_statement_text(StatementText mode, std::string_view sql,
                                 std::string_view protocol);

}  // namespace segproxy::audit
