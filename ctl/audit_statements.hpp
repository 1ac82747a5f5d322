#pragma once
// The recorded statement decisions of an audit log, for `policy replay` and `policy
// suggest`: a log directory or the central store (--postgres) is read through the export
// path (verified, self-contained records: session fields and same_as joined back in,
// filtered) and each record is handed to a callback as it is read (no whole-log buffer).
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "audit/exporters.hpp"
#include "audit/record.hpp"
#include "ctl/audit_store.hpp"

namespace segproxy::proxy::ctl {

struct RecordSource {
  std::optional<std::string> dir;    // AUDIT_DIR
  std::optional<StoreArgs> store;    // --postgres CONNINFO [--password-file F] [--instance X]
  audit::ExportFilter filter;        // --since / --segment
  bool verify = true;                // false: --no-verify
};

struct RecordSourceResult {
  bool ok = false;                // read completely (and intact when verified)
  std::uint64_t records = 0;      // handed to the callback
  std::uint64_t undecodable = 0;  // exported lines that did not decode (over 64 MiB, ...)
  std::string error;              // why not ok (the export's own messages)
};

// Calls `fn` for every matching record in log order.
RecordSourceResult read_records(const RecordSource& src, const std::function<void(const audit::AuditRecord&)>& fn);

// The recorded statement text in forms the classifier of `protocol` ("postgresql",
// "mysql") parses, to be tried in order (the first that parses is the statement):
// audit.statement_text `normalized` writes literals as `?`, which PostgreSQL's grammar
// does not accept. For PostgreSQL every `?` outside quoted text and comments becomes `0`
// (numeric slots: typmods, LIMIT, fillfactor, ...), or '' where a string is due (after
// a kept E/X/B/N/U& prefix, DATE/TIME/TIMESTAMP/INTERVAL); then every `?` becomes '';
// then the text as recorded. MySQL's analyzer reads `?` as a parameter marker: only the
// text as recorded. A `?` that was a PostgreSQL operator (jsonb ?, ?|, ?&) cannot be told
// apart: such statements parse only as recorded (or not at all: counted as not judgeable).
std::vector<std::string> reparseable_statements(std::string_view text, std::string_view protocol);

}  // namespace segproxy::proxy::ctl
