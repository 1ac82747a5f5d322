#pragma once
// `segproxyctl audit store init`, `audit verify --postgres`, `audit export --postgres`:
// the central audit store (docs/audit.md "Central store"), reached with a libpq connection
// string (CONNINFO, e.g. "host=db port=5432 dbname=audit user=auditor sslmode=verify-full
// sslrootcert=ca.crt"); the password from --password-file or libpq's usual sources
// (PGPASSWORD, ~/.pgpass).
//
//   segproxyctl audit store init --postgres CONNINFO [--password-file FILE]
//               [--shipper-role NAME] [--shipper-password-file FILE] [--reader-role NAME]
//               [--schema-version N]
//   segproxyctl audit verify --postgres CONNINFO [--password-file FILE] [--instance X]
//               [--since T] [--pubkey FILE] [--json]
//   segproxyctl audit export --postgres CONNINFO [--password-file FILE] [--instance X]
//               [--format ...] [--since T] [--until T] [filters] [--no-verify] [--pubkey FILE]
//
// Exit codes as for a directory: 0 intact, 1 tampered / bad signature, 2 usage, store or
// I/O error (no records of a named instance included).
#include <chrono>
#include <optional>
#include <ostream>
#include <string>

#include "audit/exporters.hpp"

namespace segproxy::proxy::ctl {

struct StoreArgs {
  std::string conninfo;
  std::optional<std::string> password_file;  // the connecting role's password
  std::optional<std::string> instance;       // verify / export: only this instance
  std::optional<std::string> pubkey;         // verify checkpoint signatures
  // store init
  std::optional<std::string> shipper_role, shipper_password_file, reader_role;
  std::optional<std::string> schema_version;  // migrate up to this version only (default: the newest)
};

int audit_store_init(const StoreArgs& a, std::ostream& out, std::ostream& err);
int audit_store_verify(const StoreArgs& a, std::optional<std::chrono::system_clock::time_point> since, bool json,
                       std::ostream& out, std::ostream& err);
int audit_store_export(const StoreArgs& a, const audit::ExportOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace segproxy::proxy::ctl
