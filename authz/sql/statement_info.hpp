#pragma once
// What a SQL classifier understood of one client request: the input of the policy
// engine. Produced by authz/sql/pg_classifier (libpg_query) and, later, the MySQL
// analyzer. Pure data.
#include <cstdint>
#include <string>
#include <vector>

namespace segproxy::authz::sql {

// Table-level operations (policy `allow:` / `deny:` vocabulary).
enum class TableOp : std::uint8_t {
  Select,
  Insert,
  Update,
  Delete,
  Truncate,
  CopyTo,    // COPY t TO STDOUT / COPY (query) TO STDOUT reads
  CopyFrom,  // COPY t FROM STDIN
  References,
  Lock,      // LOCK TABLE (needs any grant on the table)
  // Added by pg_classifier:
  Alter,     // DDL on the relation itself: CREATE/ALTER/DROP/RENAME/COMMENT ON/CREATE INDEX/
             // CREATE TRIGGER/INHERITS/PARTITION OF (owner-level; part class is Ddl)
  Maintain,  // VACUUM/ANALYZE/CLUSTER/REINDEX/REFRESH MATERIALIZED VIEW (PG17's MAINTAIN)
};

// The policy vocabulary's word for an operation ("select", "copy_to", ...), as audit
// records and messages show it.
constexpr const char* table_op_name(TableOp op) {
  switch (op) {
    case TableOp::Select: return "select";
    case TableOp::Insert: return "insert";
    case TableOp::Update: return "update";
    case TableOp::Delete: return "delete";
    case TableOp::Truncate: return "truncate";
    case TableOp::CopyTo: return "copy_to";
    case TableOp::CopyFrom: return "copy_from";
    case TableOp::References: return "references";
    case TableOp::Lock: return "lock";
    case TableOp::Alter: return "alter";
    case TableOp::Maintain: return "maintain";
  }
  return "unknown";
}

// Statement classes beyond table access (policy `statements:` vocabulary).
enum class StatementClass : std::uint8_t {
  Dml,          // SELECT/INSERT/UPDATE/DELETE/MERGE/TABLE/VALUES/COPY/LOCK: judged by tables
  Transaction,  // BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ...
  SessionSafe,  // SET/RESET/SHOW of an allow-listed GUC, DISCARD ALL-like driver resets
  Ddl,
  Admin,       // VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, ...
  Procedural,  // CALL of a routine (the routine is judged against `functions`)
  AnonymousCode,  // code the proxy cannot inspect: DO blocks, MariaDB BEGIN NOT ATOMIC
  Notify,      // LISTEN, NOTIFY, UNLISTEN
  Prepare,     // PREPARE, EXECUTE, DEALLOCATE (SQL level)
  Cursor,      // DECLARE, FETCH, MOVE, CLOSE
  Explain,     // EXPLAIN (its inner statement is classified too)
  Forbidden,   // never allowed: SET ROLE, SET SESSION AUTHORIZATION, search_path changes,
               // COPY PROGRAM / server files, ALTER SYSTEM, LOAD, lexing-changing SETs, ...
  Unknown,     // not understood: always denied
};

struct TableRef {
  std::string schema;  // as normalised by PostgreSQL; default_schema filled in when unqualified
  std::string name;
  bool schema_given = false;  // written qualified by the client
  TableOp op = TableOp::Select;
  // Schema- or database-level DDL (DROP/RENAME/OWNER TO of a schema or database): the
  // statement acts on every relation of `schema` (name is "*"); schema "*" = every
  // schema of the database. The engine requires `op` on all of them (policy_engine.hpp).
  bool whole_schema = false;
  // Reported by the MySQL analyzer (its system schemas differ); `schema` is a database.
  // MySQL/MariaDB: DDL (op Alter) must stay inside the segment's
  // databases (RENAME TABLE / ALTER TABLE ... RENAME / CREATE TABLE into another one).
  bool mysql = false;
  bool operator==(const TableRef&) const = default;
};

// What a statement does to the session's SQL-level prepared statements (PREPARE name /
// EXECUTE name / DEALLOCATE name; DeallocateAll: DEALLOCATE ALL, DISCARD ALL).
enum class PreparedEffect : std::uint8_t { None, Prepare, Execute, Deallocate, DeallocateAll };

struct FunctionRef {
  std::string schema;  // empty when unqualified
  std::string name;    // lower-case as normalised
  bool mysql = false;  // a MySQL/MariaDB call: judged against the MySQL built-ins
  // set_config only: its three arguments when they are constants (name lower-cased,
  // value, "true"/"false"); the engine allows exactly the empty search_path.
  std::vector<std::string> constant_args = {};
  bool operator==(const FunctionRef&) const = default;
};

// What a Transaction-class statement does to the open transaction, typed so that callers
// never compare command strings (ROLLBACK TO SAVEPOINT, SAVEPOINT, BEGIN: None).
enum class TransactionEnd : std::uint8_t { None, Commit, Rollback };

struct StatementPart {
  StatementClass klass = StatementClass::Unknown;
  // COMMIT / END (Commit), ROLLBACK / ABORT (Rollback) of the whole transaction, with or
  // without AND CHAIN; None for everything else.
  TransactionEnd ends = TransactionEnd::None;
  std::string command;  // e.g. "SELECT", "INSERT", "SET", "CREATE TABLE" (for messages and audit)
  std::string forbidden_reason;  // set when klass == Forbidden or Unknown
  std::vector<TableRef> tables;
  std::vector<FunctionRef> functions;
  std::string prepared_name;  // EXECUTE / PREPARE name, when relevant
  PreparedEffect prepared_effect = PreparedEffect::None;
  // The statement also carries code the proxy cannot inspect (CREATE FUNCTION/PROCEDURE
  // with a body given as a string, e.g. LANGUAGE plpgsql): needs `anonymous_code` too.
  bool opaque_code = false;
  bool locks_rows = false;    // SELECT ... FOR UPDATE/SHARE somewhere in the statement
  // With locks_rows: when row_locks_exact, the relations whose rows are locked are
  // exactly row_locks (PostgreSQL FOR UPDATE OF <FROM item>, each needs update);
  // otherwise every table the statement reads counts as locked.
  bool row_locks_exact = false;
  std::vector<TableRef> row_locks;
  std::string database;       // MySQL USE: the database selected (the session checks it
                              // against the segment and makes it the current database)
  // The statement may change how the server lexes later text: PostgreSQL client_encoding,
  // standard_conforming_strings (also RESET ALL / DISCARD ALL); MySQL SET sql_mode,
  // character_set_client, NAMES, CHARACTER SET (the session reads them back after it).
  bool changes_lexing = false;
};

struct StatementInfo {
  bool parse_ok = false;
  std::string parse_error;        // libpg_query's message (answered as 42601)
  std::string parse_error_sqlstate;  // empty: 42601; 54000/54001 over a StatementLimits bound
  int parse_error_position = 0;   // 1-based cursor position, 0 if unknown
  std::vector<StatementPart> statements;  // one per statement in a multi-statement string
  std::uint64_t fingerprint = 0;  // normalised-statement fingerprint (decision cache key)
  // MySQL, utf8-family session: bytes that are not UTF-8 outside string literals
  // (authz/sql/mysql_literal_bytes.hpp); parse_ok is false, the server would answer
  // ER_INVALID_CHARACTER_STRING 1300 (so does the gate).
  bool invalid_text_bytes = false;
};

}  // namespace segproxy::authz::sql
