#pragma once
// Schema of the central audit store (docs/audit.md "Central store"), created and migrated
// by `segproxyctl audit store init`:
//   segproxy_audit.schema_version   one row per applied migration
//   segproxy_audit.records          (instance, seq) primary key, the canonical line byte
//                                   for byte plus queryable columns; a trigger refuses
//                                   UPDATE, DELETE and TRUNCATE (append-only); version 1
//                                   also kept each line's hash in a column of its own,
//                                   version 2 reads it from the line
//   segproxy_audit.records_resolved a view that fills identity / segment of rows without
//                                   them from the session.open of the same (instance,
//                                   session_id) (records that carry the session id only)
// The shipping role gets USAGE on the schema and INSERT + SELECT on records, nothing else.
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

#include "audit/store/store_row.hpp"  // HashColumn

namespace segproxy::audit::store {

inline constexpr int kSchemaVersion = 2;

struct InitOptions {
  std::string shipper_role = "segproxy_audit_shipper";  // created (LOGIN) when missing
  std::optional<std::string> shipper_password;          // set (SCRAM, hashed client-side) when given
  std::string reader_role;                              // optional: SELECT only (NOLOGIN group role)
  int schema_version = kSchemaVersion;  // migrate up to this version (a staged upgrade; tests)
};

struct InitReport {
  int from_version = 0;  // 0: a new store
  int to_version = 0;
  std::vector<std::string> actions;  // what was done, one line each (no secrets)
};

// Creates or migrates the schema in one transaction (serialised by an advisory lock) and
// grants the roles. false + why (the transaction is rolled back).
bool init_store(PGconn* c, const InitOptions& opts, InitReport& report, std::string& why);

// Whether the store's records table has the hash column (schema version 1) or not (2 on):
// the shipper's COPY and the store reader follow it, so a proxy upgraded before its store
// keeps shipping. Read from pg_catalog (the shipping role may read nothing else).
std::optional<HashColumn> records_hash_column(PGconn* c, std::string& why);

// The schema version of the store (0 when there is none); nullopt + why on error.
std::optional<int> schema_version(PGconn* c, std::string& why);

}  // namespace segproxy::audit::store
