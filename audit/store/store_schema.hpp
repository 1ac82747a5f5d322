#pragma once
// Schema of the central audit store (docs/audit.md "Central store"), created and migrated
// by `segproxyctl audit store init`:
//   segproxy_audit.schema_version   one row per applied migration
//   segproxy_audit.records          (instance, seq) primary key, the canonical line byte
//                                   for byte plus queryable columns; a trigger refuses
//                                   UPDATE, DELETE and TRUNCATE (append-only)
//   segproxy_audit.records_resolved a view that fills identity / segment of rows without
//                                   them from the session.open of the same (instance,
//                                   session_id) (records that carry the session id only)
// The shipping role gets USAGE on the schema and INSERT + SELECT on records, nothing else.
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

namespace segproxy::audit::store {

inline constexpr int kSchemaVersion = 1;

struct InitOptions {
  std::string shipper_role = "segproxy_audit_shipper";  // created (LOGIN) when missing
  std::optional<std::string> shipper_password;          // set (SCRAM, hashed client-side) when given
  std::string reader_role;                              // optional: SELECT only (NOLOGIN group role)
};

struct InitReport {
  int from_version = 0;  // 0: a new store
  int to_version = 0;
  std::vector<std::string> actions;  // what was done, one line each (no secrets)
};

// Creates or migrates the schema in one transaction (serialised by an advisory lock) and
// grants the roles. false + why (the transaction is rolled back).
bool init_store(PGconn* c, const InitOptions& opts, InitReport& report, std::string& why);

// The schema version of the store (0 when there is none); nullopt + why on error.
std::optional<int> schema_version(PGconn* c, std::string& why);

}  // namespace segproxy::audit::store
