#pragma once
// One audit record. Field order here is the canonical JSON key order (record_codec).
// Empty strings, empty `tables` and absent numbers are omitted from the encoding.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace segproxy::audit {

struct TableAccess {
  std::string name;  // as classified, e.g. "public.orders"
  std::string op;    // "select", "insert", "update", "delete", "ddl", ...
  bool operator==(const TableAccess&) const = default;
};

// One statement's outcome inside a folded `statement.result` record (`results`).
struct ResultEntry {
  std::optional<std::uint64_t> seq;  // the statement's decision record, when the session knows it
  std::optional<std::uint64_t> rows;
  std::optional<std::uint64_t> duration_us;
  std::string sqlstate;
  std::string error;
  bool operator==(const ResultEntry&) const = default;
};

struct AuditRecord {
  std::uint64_t seq = 0;  // assigned by the sink: gap-free per log, starts at 1
  std::string ts;         // assigned by the sink: RFC 3339 UTC, microseconds
  std::string instance;   // assigned by the sink from AuditConfig::instance
  std::string event;      // session.open, statement.decision, audit.checkpoint, ...

  std::string session_id;
  std::string listener;
  std::string protocol;  // "postgresql" | "mysql"
  std::string client_addr;

  std::string spiffe_id;
  std::string cn;
  std::string cert_sha256;
  std::string cert_serial;

  std::string segment;
  std::string database;
  std::string backend_user;

  // Written by the sink instead of the statement fields (statement ... reason) when they
  // equal those of record `same_as` of the same session in the same file (readers join
  // them back: audit/record_join.hpp). Never set by submitters.
  std::optional<std::uint64_t> same_as;

  std::string statement;  // per AuditConfig::statement_text (applied by the sink)
  // Set only when the sink cut `statement` to AuditConfig::max_statement_text: the byte
  // length and hex SHA-256 of the whole text (as statement_text made it) before the cut.
  std::optional<std::uint64_t> statement_length;
  std::string statement_sha256;
  std::string fingerprint;
  std::vector<TableAccess> tables;
  std::string decision;  // "allow" | "deny"
  std::string rule_id;
  std::string reason;
  // Shadow evaluation (docs/policy.md "Shadow mode"): on an allowed statement that the
  // segment's shadow policy would deny, "deny" and the deciding rule id.
  std::string shadow_decision;
  std::string shadow_rule;
  // Emergency grants (authz/grants, docs/admin.md "Break-glass grants"): the id(s) of the
  // grant(s) without which this statement would have been refused; empty otherwise.
  std::string grant_id;

  std::optional<std::uint64_t> rows;
  std::optional<std::uint64_t> duration_us;
  std::string sqlstate;
  std::string error;
  // statement.result: the outcomes of several statements of one session, in order.
  std::vector<ResultEntry> results;

  std::string detail;  // free text for admin.*, config.reload, audit.* events

  // audit.start of a new log: the random genesis the first prev_hash equals.
  std::string genesis;
  // audit.checkpoint: head of the chain before this record, signature over the payload.
  std::optional<std::uint64_t> head_seq;
  std::string head_hash;
  std::string key_id;
  std::string signature;

  std::string prev_hash;  // hex SHA-256 of the previous record (or the genesis)
  std::string hash;       // hex SHA-256(prev_hash || canonical record without "hash")

  bool operator==(const AuditRecord&) const = default;
};

}  // namespace segproxy::audit
