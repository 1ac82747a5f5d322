#include "audit/store/store_schema.hpp"

#include <cstdlib>

#include "audit/store/store_connection.hpp"

namespace segproxy::audit::store {
namespace {

// Migration N brings the schema from version N-1 to N. Never edit a released one: add
// the next.
const char* const kMigrations[] = {
    // 1: records, append-only trigger, the resolved view.
    R"SQL(
CREATE TABLE segproxy_audit.records (
  instance    text        NOT NULL,
  seq         bigint      NOT NULL CHECK (seq > 0),
  ts          timestamptz NOT NULL,
  event       text        NOT NULL,
  session_id  text,
  identity    text,
  cert_sha256 text,
  segment     text,
  decision    text,
  fingerprint text,
  hash        text        NOT NULL,
  line        text        NOT NULL,
  shipped_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, seq)
);
CREATE INDEX records_ts ON segproxy_audit.records (ts);
CREATE INDEX records_session_open ON segproxy_audit.records (instance, session_id, seq)
  WHERE event = 'session.open';
CREATE FUNCTION segproxy_audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'segproxy_audit.records is append-only: % refused', TG_OP
    USING ERRCODE = '42501';
END $$;
CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON segproxy_audit.records
  FOR EACH ROW EXECUTE FUNCTION segproxy_audit.refuse_change();
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON segproxy_audit.records
  FOR EACH STATEMENT EXECUTE FUNCTION segproxy_audit.refuse_change();
CREATE VIEW segproxy_audit.records_resolved AS
SELECT r.instance, r.seq, r.ts, r.event, r.session_id,
       COALESCE(r.identity, o.identity) AS identity,
       COALESCE(r.cert_sha256, o.cert_sha256) AS cert_sha256,
       COALESCE(r.segment, o.segment) AS segment,
       r.decision, r.fingerprint, r.hash, r.line
FROM segproxy_audit.records r
LEFT JOIN LATERAL (
  SELECT s.identity, s.cert_sha256, s.segment FROM segproxy_audit.records s
  WHERE s.instance = r.instance AND s.session_id = r.session_id AND s.event = 'session.open'
    AND s.seq <= r.seq
  ORDER BY s.seq DESC LIMIT 1) o ON r.session_id IS NOT NULL;
)SQL",
    // 2: cheaper per row (docs/audit.md "Central store", bench/RESULTS.md session 11): the
    // hash is read from the line instead of a 65-byte copy in every row (the view still
    // shows it), and ts gets a BRIN index instead of a btree (rows arrive roughly in ts
    // order; a BRIN index costs an insert next to nothing, ranges are summarised by
    // autovacuum). DROP COLUMN only marks the column dropped (no rewrite); the BRIN index
    // reads the table once.
    R"SQL(
DROP VIEW segproxy_audit.records_resolved;
ALTER TABLE segproxy_audit.records DROP COLUMN hash;
DROP INDEX segproxy_audit.records_ts;
CREATE INDEX records_ts ON segproxy_audit.records USING brin (ts) WITH (autosummarize = on);
CREATE VIEW segproxy_audit.records_resolved AS
SELECT r.instance, r.seq, r.ts, r.event, r.session_id,
       COALESCE(r.identity, o.identity) AS identity,
       COALESCE(r.cert_sha256, o.cert_sha256) AS cert_sha256,
       COALESCE(r.segment, o.segment) AS segment,
       r.decision, r.fingerprint, r.line::json ->> 'hash' AS hash, r.line
FROM segproxy_audit.records r
LEFT JOIN LATERAL (
  SELECT s.identity, s.cert_sha256, s.segment FROM segproxy_audit.records s
  WHERE s.instance = r.instance AND s.session_id = r.session_id AND s.event = 'session.open'
    AND s.seq <= r.seq
  ORDER BY s.seq DESC LIMIT 1) o ON r.session_id IS NOT NULL;
)SQL",
};
constexpr int kMigrationCount = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
static_assert(kMigrationCount == kSchemaVersion);

bool valid_role_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return !(s[0] >= '0' && s[0] <= '9');
}

bool role_exists(PGconn* c, const std::string& role, bool& exists, std::string& why) {
  auto r = exec(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", why, {role});
  if (!r) return false;
  exists = PQntuples(r.get()) > 0;
  return true;
}

bool ensure_role(PGconn* c, const std::string& role, bool login, InitReport& report, std::string& why) {
  bool exists = false;
  if (!role_exists(c, role, exists, why)) return false;
  if (exists) return true;
  const std::string sql = "CREATE ROLE " + quote_ident(c, role) + (login ? " LOGIN" : " NOLOGIN");
  if (!exec(c, sql, why)) return false;
  report.actions.push_back("created role " + role + (login ? " (LOGIN)" : " (NOLOGIN)"));
  return true;
}

bool apply(PGconn* c, const InitOptions& opts, InitReport& report, std::string& why) {
  auto enc = exec(c, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()", why);
  if (!enc) return false;
  if (PQntuples(enc.get()) != 1 || std::string(PQgetvalue(enc.get(), 0, 0)) != "UTF8") {
    why = "the store database must use the UTF8 encoding (lines are stored byte for byte)";
    return false;
  }
  if (!exec(c, "SELECT pg_advisory_xact_lock(hashtext('segproxy_audit.schema'))", why)) return false;
  if (!exec(c, "CREATE SCHEMA IF NOT EXISTS segproxy_audit", why)) return false;
  if (!exec(c,
            "CREATE TABLE IF NOT EXISTS segproxy_audit.schema_version ("
            "version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            why))
    return false;
  auto v = exec(c, "SELECT coalesce(max(version), 0) FROM segproxy_audit.schema_version", why);
  if (!v) return false;
  const int current = std::atoi(PQgetvalue(v.get(), 0, 0));
  report.from_version = current;
  if (current > kSchemaVersion) {
    why = "the store has schema version " + std::to_string(current) + ", newer than this segproxyctl (" +
          std::to_string(kSchemaVersion) + ")";
    return false;
  }
  const int target = opts.schema_version;
  if (target < 1 || target > kSchemaVersion) {
    why = "schema version " + std::to_string(target) + " does not exist (1.." + std::to_string(kSchemaVersion) + ")";
    return false;
  }
  if (current > target) {
    why = "the store has schema version " + std::to_string(current) + ", above the requested " +
          std::to_string(target) + " (migrations are never undone)";
    return false;
  }
  for (int n = current + 1; n <= target; ++n) {
    if (!exec(c, kMigrations[n - 1], why)) {
      why = "migration " + std::to_string(n) + ": " + why;
      return false;
    }
    if (!exec(c, "INSERT INTO segproxy_audit.schema_version (version) VALUES ($1)", why, {std::to_string(n)}))
      return false;
    report.actions.push_back("applied migration " + std::to_string(n));
  }
  report.to_version = target;

  if (!valid_role_name(opts.shipper_role)) {
    why = "invalid shipper role name (lower-case letters, digits, '_')";
    return false;
  }
  if (!ensure_role(c, opts.shipper_role, true, report, why)) return false;
  const std::string shipper = quote_ident(c, opts.shipper_role);
  // Exactly INSERT + SELECT: nothing else, also after a re-run with other grants.
  if (!exec(c, "REVOKE ALL ON ALL TABLES IN SCHEMA segproxy_audit FROM " + shipper, why) ||
      !exec(c, "GRANT USAGE ON SCHEMA segproxy_audit TO " + shipper, why) ||
      !exec(c, "GRANT INSERT, SELECT ON segproxy_audit.records TO " + shipper, why))
    return false;
  report.actions.push_back("granted " + opts.shipper_role + " INSERT, SELECT on segproxy_audit.records");
  if (opts.shipper_password) {
    char* hashed = PQencryptPasswordConn(c, opts.shipper_password->c_str(), opts.shipper_role.c_str(), "scram-sha-256");
    if (hashed == nullptr) {
      why = "cannot hash the shipper password: " + one_line(PQerrorMessage(c));
      return false;
    }
    const std::string lit = quote_literal(c, hashed);
    PQfreemem(hashed);
    if (!exec(c, "ALTER ROLE " + shipper + " LOGIN PASSWORD " + lit, why)) return false;
    report.actions.push_back("set the password of " + opts.shipper_role + " (SCRAM-SHA-256)");
  }
  if (!opts.reader_role.empty()) {
    if (!valid_role_name(opts.reader_role)) {
      why = "invalid reader role name (lower-case letters, digits, '_')";
      return false;
    }
    if (!ensure_role(c, opts.reader_role, false, report, why)) return false;
    const std::string reader = quote_ident(c, opts.reader_role);
    if (!exec(c, "REVOKE ALL ON ALL TABLES IN SCHEMA segproxy_audit FROM " + reader, why) ||
        !exec(c, "GRANT USAGE ON SCHEMA segproxy_audit TO " + reader, why) ||
        !exec(c, "GRANT SELECT ON ALL TABLES IN SCHEMA segproxy_audit TO " + reader, why))
      return false;
    report.actions.push_back("granted " + opts.reader_role + " SELECT on the segproxy_audit tables and view");
  }
  return true;
}

}  // namespace

bool init_store(PGconn* c, const InitOptions& opts, InitReport& report, std::string& why) {
  // The shipper password is hashed here (PQencryptPasswordConn): no cleartext reaches
  // the server or its log.
  if (!exec(c, "BEGIN", why)) return false;
  if (!apply(c, opts, report, why)) {
    PgResult(PQexec(c, "ROLLBACK"));
    return false;
  }
  if (!exec(c, "COMMIT", why)) return false;
  return true;
}

std::optional<HashColumn> records_hash_column(PGconn* c, std::string& why) {
  auto r = exec(c,
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = "
                "'segproxy_audit.records'::regclass AND attname = 'hash' AND attnum > 0 AND NOT attisdropped)",
                why);
  if (!r) return std::nullopt;
  return std::string(PQgetvalue(r.get(), 0, 0)) == "t" ? HashColumn::present : HashColumn::absent;
}

std::optional<int> schema_version(PGconn* c, std::string& why) {
  auto t = exec(c, "SELECT to_regclass('segproxy_audit.schema_version') IS NOT NULL", why);
  if (!t) return std::nullopt;
  if (std::string(PQgetvalue(t.get(), 0, 0)) != "t") return 0;
  auto v = exec(c, "SELECT coalesce(max(version), 0) FROM segproxy_audit.schema_version", why);
  if (!v) return std::nullopt;
  return std::atoi(PQgetvalue(v.get(), 0, 0));
}

}  // namespace segproxy::audit::store
