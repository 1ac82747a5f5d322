#pragma once
// Canonical JSON Lines encoding of AuditRecord and its strict decoder.
//
// Canonical form: one JSON object, keys in AuditRecord's declaration order, no
// whitespace, empty strings / empty arrays / absent numbers omitted (seq, ts, event,
// prev_hash are always present; hash unless encoding the hash input). Strings are UTF-8;
// '"' and '\\' are escaped, \b \f \n \r \t use their short forms, other bytes < 0x20 are
// \u00XX (lowercase hex); every other character is written as is. Invalid UTF-8 is
// replaced by U+FFFD, one per invalid byte, so encoding is total and deterministic.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "audit/record.hpp"
#include "json/json.hpp"

namespace segproxy::audit {

// Canonical encoding, no trailing newline. with_hash=false leaves out "hash" (the
// input of the chain hash).
std::string encode_record(const AuditRecord& r, bool with_hash = true);

// The canonical fields from "event" up to (not including) "prev_hash", each preceded by
// ',', appended to `out` with `statement` in place of r.statement. `layout` (optional)
// receives where the statement fields (statement ... reason) begin and end in `out`.
struct BodyLayout {
  std::size_t head_end = 0;   // end of event ... backend_user, same_as
  std::size_t shape_end = 0;  // end of statement ... shadow_rule
};
void append_body(std::string& out, const AuditRecord& r, std::string_view statement,
                 BodyLayout* layout = nullptr);

// Strict decode: the line must be exactly the canonical encoding of the record it
// describes (re-encoding must reproduce it byte for byte), including "hash".
// On failure returns nullopt and sets `error`.
std::optional<AuditRecord> decode_record(std::string_view line, std::string& error);

// Appends `s` as a JSON string literal (with quotes) using the canonical escaping. The
// one escaper lives in json/ (json::append_string); this forwards to it.
inline void append_json_string(std::string& out, std::string_view s) { json::append_string(out, s); }

// RFC 3339 UTC with microseconds, e.g. 2026-11-22T12:03:29.123456Z.
std::string format_timestamp(std::chrono::system_clock::time_point t);
// Reads that form (protocols::parse_rfc3339, TimeSyntax::Utc: years 1970..2200).
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view s);

}  // namespace segproxy::audit
