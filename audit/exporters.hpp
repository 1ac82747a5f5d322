#pragma once
// Export of a verified audit log as JSON Lines (the canonical records), CSV (RFC 4180,
// header row, CRLF) or OCSF 1.x JSON Lines (Datastore Activity 6005 for session and
// statement events, API Activity 6003 for admin/config/audit events); see docs/audit.md.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "audit/record.hpp"
#include "audit/verifier.hpp"

namespace segproxy::audit {

// jsonl / csv / ocsf: self-contained records (session fields of session.open and the
// statement fields of same_as joined back in, audit/record_join.hpp); raw: the log's own
// canonical lines unchanged (re-hashable).
enum class ExportFormat { jsonl, csv, ocsf, raw };
std::optional<ExportFormat> parse_export_format(std::string_view s);  // "jsonl"|"csv"|"ocsf"|"raw"

struct ExportFilter {
  std::optional<std::chrono::system_clock::time_point> since;  // ts >= since
  std::optional<std::chrono::system_clock::time_point> until;  // ts < until
  std::string identity;  // equals spiffe_id, cn or cert_sha256
  std::string segment;   // equals segment
  std::string event;     // equals event, or a prefix ending in '*' ("statement.*")
};
bool matches(const AuditRecord& r, const ExportFilter& f);

struct ExportOptions {
  ExportFormat format = ExportFormat::jsonl;
  ExportFilter filter;
  bool verify = true;  // verify the chain while reading; stop at the first problem
  std::optional<std::filesystem::path> public_key;
  std::optional<std::filesystem::path> checkpoints;
};

struct ExportResult {
  std::uint64_t exported = 0;  // records written to the stream
  std::uint64_t unresolved = 0;  // joins that found no session.open / same_as target
  VerifyResult verification;   // status of the read (chain status when verify=true)
  // Everything read was intact (a torn tail is tolerated: its record was never acked).
  bool ok() const { return verification.intact(); }
};

// Streams the matching records of `dir` in seq order. Records before a problem have
// already been written when it is found: check the result before trusting the output.
ExportResult export_log(const std::filesystem::path& dir, std::ostream& out,
                        const ExportOptions& opts);

// One record in `format` (jsonl: the canonical line as is) with its line ending.
// `joined`: `r` had its session's identity fields filled in by a RecordJoiner, so jsonl
// writes the joined record (self-contained) instead of the logged line.
void write_export_record(std::ostream& out, ExportFormat format, const AuditRecord& r, std::string_view line,
                         bool joined = false);

// Building blocks (also used by tests).
std::string csv_header();                      // with CRLF
std::string to_csv_row(const AuditRecord& r);  // with CRLF
std::string csv_quote(std::string_view field);
std::string to_ocsf(const AuditRecord& r);     // one JSON object, no newline

}  // namespace segproxy::audit
