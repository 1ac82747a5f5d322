#pragma once
// What PgGate says about one statement text (pg_gate.hpp): the decision and what the
// session needs from the classification (command tag, tables for the audit record,
// lexing and transaction effects, the write-ahead class).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "audit/record.hpp"
#include "authz/policy_engine.hpp"
#include "authz/wal/write_class.hpp"

namespace segproxy::proxy {

struct GateVerdict {
  GateVerdict() = default;
  GateVerdict(authz::Decision d, std::string cmd) : decision(std::move(d)), command(std::move(cmd)) {}
  authz::Decision decision;
  std::string command;  // first statement's command tag, for logs ("SELECT", "DELETE", ...)
  bool ddl = false;     // some statement is DDL (learned view dependencies may change)
  bool ends_transaction = false;  // nothing but COMMIT / ROLLBACK (END, ABORT)
  std::vector<audit::TableAccess> tables;  // for the audit record
  std::uint64_t fingerprint = 0;
  // Some statement may change how the server lexes later text (SET client_encoding /
  // standard_conforming_strings, RESET ALL, DISCARD ALL): the session judges nothing
  // after it until the server's answer (and its ParameterStatus) has been read.
  bool changes_lexing = false;
  // Some statement is transaction control (BEGIN, COMMIT, ROLLBACK [TO], SAVEPOINT, ...):
  // it may revert a lexing setting changed in the transaction.
  bool transaction_control = false;
  // The statement text in UTF-8 for the audit record when the session's client_encoding
  // is not UTF8 (converted; undecodable bytes as \xNN) or standard_conforming_strings is
  // off (plain strings shown as the E'...' strings the server reads); empty: the text.
  std::string audit_text;
  // Write-ahead class of the message (issue 14, authz/wal): the strictest statement's,
  // from the parse tree the classifier made (no second parse). Escaping when not
  // classified (no class context given, policy off, not parsed, a refusal before
  // classifying).
  authz::wal::MessageClass write_class;
  // SQL-level PREPARE / DECLARE in the text: the class the session remembers for the
  // name (EXECUTE / FETCH take it). Usually empty.
  std::vector<std::pair<std::string, authz::wal::MessageClass>> wal_prepares;
  std::vector<std::pair<std::string, authz::wal::MessageClass>> wal_cursors;
  // DEALLOCATE name / DEALLOCATE ALL, DISCARD ALL in an allowed text: the prepared
  // statements the session forgets once the backend ran it (never cached verdicts).
  std::vector<std::string> wal_deallocates;
  bool wal_deallocates_all = false;
};

}  // namespace segproxy::proxy
