#pragma once
// The fields every audit record of a client session carries (both protocols).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "audit/record.hpp"
#include "authz/identity.hpp"

namespace segproxy::proxy {

struct SessionAuditFields {
  const std::string& session_id;
  const std::string& listener;
  const char* protocol;  // "postgresql" | "mysql"
  const std::string& client_addr;
  const authz::ClientIdentity& identity;
  const std::string& segment;
  const std::string& database;
  const std::string& backend_user;
};

// A statement fingerprint as the `fingerprint` field shows it (16 lower-case hex digits).
inline std::string fingerprint_hex(std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kHex[v & 0xF];
  return out;
}

// Identity and session fields appear once per session: in session.open (and in
// session.refused, which has no session.open). Every later record of the session carries
// its session_id only (readers join the rest back in: audit/record_join.hpp); a MySQL
// statement record also carries the current database, which USE can change.
inline bool carries_session_fields(std::string_view event) {
  return event == "session.open" || event == "session.refused";
}

inline audit::AuditRecord session_audit_record(const char* event, const SessionAuditFields& f) {
  audit::AuditRecord r;
  r.event = event;
  r.session_id = f.session_id;
  if (!carries_session_fields(event)) {
    if (std::string_view(f.protocol) == "mysql" && r.event.rfind("statement.", 0) == 0) r.database = f.database;
    return r;
  }
  r.listener = f.listener;
  r.protocol = f.protocol;
  r.client_addr = f.client_addr;
  r.spiffe_id = f.identity.spiffe_id;
  r.cn = f.identity.cn;
  r.cert_sha256 = f.identity.sha256_hex;
  r.cert_serial = f.identity.serial_hex;
  r.segment = f.segment;
  r.database = f.database;
  r.backend_user = f.backend_user;
  return r;
}

// The session.close record `r` (from session_audit_record): how long the session lasted
// and why it ended ("client" when nothing else was recorded).
inline audit::AuditRecord session_close_record(audit::AuditRecord r, std::chrono::steady_clock::time_point started,
                                               const std::string& close_reason) {
  r.duration_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
  r.detail = close_reason.empty() ? "client" : close_reason;
  return r;
}

}  // namespace segproxy::proxy
