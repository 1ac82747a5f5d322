#pragma once
// `segproxyctl policy replay` and `policy suggest` (docs/policy.md "Replay" and
// "Suggestions"): offline, from the recorded statement decisions of an audit log
// directory or the central store (ctl/audit_statements.hpp).
//
//   segproxyctl policy replay --config NEW.yaml [--json] [--segment S] [--since T] [--until T]
//                             [--no-verify] (AUDIT_DIR | --postgres CONNINFO [--password-file F]
//                             [--instance X])
//   segproxyctl policy suggest --segment S [--config BASE.yaml] [--since T] [--until T]
//                             [--no-verify] (AUDIT_DIR | --postgres CONNINFO ...)
//
// replay re-judges every recorded statement.decision under NEW.yaml with the recorded
// segment, database, session (SQL-level PREPAREs) and instant (access windows), through
// the gates a proxy session uses (proxy::PgGate, proxy::MysqlGate), and prints what
// changes (allow -> deny, deny -> allow) grouped by segment and rule with counts and
// example statements, the shadow denials NEW.yaml would record, and what it could not
// judge. Exit: 0 nothing goes allow -> deny; 1 something does (a CI gate); 2 usage,
// configuration or read error.
// suggest writes the least-privilege policy (rules per table x operations, statement
// classes, functions) that allows what segment S ran (allowed records, shadow denials
// included), counts as YAML comments; keys to paste under `segments.<S>:`. Exit 0, or 2.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ctl/audit_statements.hpp"

namespace segproxy::proxy::ctl {

// The options both commands share; nullopt (and a message on `err`) on a usage error.
struct LogToolArgs {
  std::optional<std::string> config;  // --config
  bool json = false;                  // --json (replay)
  RecordSource source;                // AUDIT_DIR | --postgres ..., --segment, --since, --until, --no-verify
};
std::optional<LogToolArgs> parse_log_tool_args(const std::vector<std::string>& args, const char* cmd,
                                               std::ostream& err);

// `args` are the words after "policy replay" / "policy suggest".
int run_policy_replay(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int run_policy_suggest(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace segproxy::proxy::ctl
