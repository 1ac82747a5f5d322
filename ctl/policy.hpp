#pragma once
// `segproxyctl policy explain|test`: offline policy tooling. Loads the configuration
// with config::load_config_file (files are checked for existence only; no TLS material
// or secret is read, so CI needs no credentials), maps a certificate identity to its
// segment exactly as the proxy does (authz::IdentityMapper), checks the database, then
// classifies and judges the SQL through proxy::PgGate — the same path as a fresh
// proxy session — at a given instant.
//
//   segproxyctl policy explain --config FILE --identity ID --database DB [--at T]
//                              [--json] [--client-encoding ENC]
//                              [--standard-conforming-strings on|off] SQL
//   segproxyctl policy test --config FILE [--at T] [--verbose] CASES.tsv
//   segproxyctl policy replay | suggest ...  (ctl/policy_replay.hpp)
//
// Exit codes: explain 0 allow, 1 deny; test 0 all passed, 1 any failed or malformed
// row; 2 usage or configuration error.
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "authz/identity.hpp"

namespace segproxy::proxy::ctl {

// `args` are the words after "policy". Returns the process exit code.
int run_policy(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// ---- Pure helpers (exposed for unit tests) ------------------------------------------

// Identity spec: "spiffe://..." (SPIFFE id), or `key=value` attributes separated by ';'
// with keys cn, spiffe, dns, ou (both repeatable), sha256, serial (case-insensitive),
// e.g. "cn=reporting-job;ou=Analytics". A string that starts with neither form is a CN.
// nullopt (and `why`) on an unknown key or an empty value.
std::optional<authz::ClientIdentity> parse_identity_spec(std::string_view spec, std::string& why);

// --at is read by ctl/time_arg (parse_time_arg); shown back as:
std::string format_instant(std::chrono::system_clock::time_point t);  // UTC, seconds, "Z"

// The SQL column of a cases file: \t, \n, \r and \\ are unescaped; any other backslash
// sequence is an error (so a literal backslash is never silently misread).
std::optional<std::string> unescape_sql_column(std::string_view s, std::string& why);

// Expected outcome column: "allow", "deny" or "deny:SQLSTATE" (five characters).
struct Expectation {
  bool allow = false;
  std::string sqlstate;  // empty = any
};
std::optional<Expectation> parse_expectation(std::string_view s);

std::string json_escape(std::string_view s);  // without the surrounding quotes

}  // namespace segproxy::proxy::ctl
