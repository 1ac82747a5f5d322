#pragma once
// One canonical audit line -> one row of the central store (docs/audit.md "Central
// store"): the queryable columns taken from the line by key, and the row's encoding for
// COPY ... FROM STDIN (FORMAT binary). The shipper's per-record work: no JSON tree and no
// allocation per record in the steady state (the row's strings keep their capacity).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::audit::store {

// The queryable columns taken from one canonical line, generically by key (a record
// format may add or drop fields; absent keys are NULL in the store). identity: the
// record's "identity", else "spiffe_id", else "cn".
struct StoreRow {
  std::uint64_t seq = 0;
  std::string ts, event, hash, prev_hash;  // always present in a canonical line
  std::optional<std::string> session_id, identity, cert_sha256, segment, decision, fingerprint;
  friend bool operator==(const StoreRow&, const StoreRow&) = default;
};

// Fills `row` from `line` (reusing its storage); false + why when the line is not a JSON
// object with a positive seq and string ts / event / hash / prev_hash. The same result as
// reading the line with the project's strict JSON reader (extract_row_by_json_reader):
// lines in the canonical subset (printable ASCII, no \u escapes, no whitespace, integers
// only, nesting <= 6, no duplicate keys, the taken keys holding strings) are scanned in
// place; anything else is handed to the reader.
bool extract_row_into(std::string_view line, StoreRow& row, std::string& why);
std::optional<StoreRow> extract_row(std::string_view line, std::string& why);

// The reference: the whole line through json::parse (strict RFC 8259), then the keys.
std::optional<StoreRow> extract_row_by_json_reader(std::string_view line, std::string& why);

// The in-place scan alone: false when the line is outside the canonical subset above
// (then `row` is unspecified and the reader decides). Exposed for the equivalence tests.
bool scan_canonical_row(std::string_view line, StoreRow& row);

// Whether the records table keeps each line's hash in a column of its own (schema version
// 1) or only in the line (version 2 on: 65 bytes less per row; store_schema.hpp).
enum class HashColumn { absent, present };

// COPY segproxy_audit.records (columns, line last) FROM STDIN (FORMAT binary).
const char* copy_sql(HashColumn h);

// COPY ... FROM STDIN (FORMAT binary): the stream's signature and header, one tuple per
// row, the trailer. Text columns travel as their bytes (the server still checks they are
// valid UTF-8 without NUL), seq as int8, ts as timestamptz (microseconds since
// 2000-01-01 UTC): no escaping on either side and no date parsing in the store.
void append_copy_binary_header(std::string& out);
// false + why (out unchanged) when row.ts is not RFC 3339 UTC with at most 6 fraction
// digits (the canonical form has 6), which a timestamptz would round.
bool append_copy_binary_row(std::string& out, std::string_view instance, const StoreRow& row, std::string_view line,
                            HashColumn h, std::string& why);
void append_copy_binary_trailer(std::string& out);

// row.ts as a PostgreSQL timestamptz: microseconds since 2000-01-01T00:00:00Z.
std::optional<std::int64_t> pg_timestamptz(std::string_view ts);

}  // namespace segproxy::audit::store
