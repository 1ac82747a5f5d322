#pragma once
// Self-contained records from the compact log (docs/audit.md "Volume"): statement and
// session records carry only their session_id, and a repeated statement of a session is
// written with `same_as` (the seq of an earlier record of the same file with the same
// statement fields). The joiner, fed every record in seq order, fills the session's
// identity fields back in from its session.open and the statement fields from the record
// `same_as` names. Exports and tests read through it; the log itself stays compact.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "audit/record.hpp"

namespace segproxy::audit {

class RecordJoiner {
 public:
  // The line of an earlier record of the current file by seq (LogReader::line_of).
  using Lookup = std::function<std::optional<std::string_view>(std::uint64_t seq)>;

  explicit RecordJoiner(std::size_t max_sessions = std::size_t{1} << 20) : max_sessions_(max_sessions) {}

  // Joins `r` in place; true when it changed. Only compact records (no session field but
  // a MySQL statement's database) get session fields. A reference that cannot be resolved (a
  // session.open outside the log read, a same_as the lookup does not find) is counted and
  // leaves the fields empty.
  bool join(AuditRecord& r, const Lookup& lookup);
  std::uint64_t unresolved() const { return unresolved_; }

 private:
  struct Session {
    std::string listener, protocol, client_addr, spiffe_id, cn, cert_sha256, cert_serial, segment, database,
        backend_user;
  };
  std::unordered_map<std::string, Session> sessions_;
  std::size_t max_sessions_;
  std::uint64_t unresolved_ = 0;
};

// Copies the statement fields (statement ... shadow_rule) of `from` into `to`.
void copy_statement_fields(const AuditRecord& from, AuditRecord& to);

}  // namespace segproxy::audit
