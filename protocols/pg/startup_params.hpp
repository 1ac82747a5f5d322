#pragma once
// Filters a client's StartupMessage parameters so that a client can never change how
// its session is set up, while real drivers (psql, libpq, pgbench, psycopg2, JDBC)
// keep working.
#include <string>
#include <utility>
#include <vector>

namespace segproxy::protocols::pg {

struct StartupFilterResult {
  bool ok = false;
  std::string user;      // "user" (informational; required)
  std::string database;  // "database", defaults to user as PostgreSQL does
  // Allow-listed parameters to pass to the backend, canonical names, in client order
  // (including those given in `options` as -c name=value / --name=value).
  std::vector<std::pair<std::string, std::string>> forward;
  std::string sqlstate;  // on refusal: 08P01 (protocol), 22023 (bad value), 42501 (not allowed)
  std::string error;     // on refusal: message naming the offending parameter
};

// Allow-list (GUC names are case-insensitive; forwarded with canonical spelling):
// application_name, client_encoding (any encoding segproxy's classifier follows, any
// spelling PostgreSQL accepts, forwarded under its canonical name: encodings.hpp; the
// others are refused with 0A000 naming the encoding), DateStyle, TimeZone, IntervalStyle, extra_float_digits,
// statement_timeout, lock_timeout, idle_in_transaction_session_timeout,
// idle_session_timeout, default_transaction_isolation, default_transaction_read_only,
// default_transaction_deferrable, bytea_output, geqo, jit (node-postgres and JDBC send
// the transaction defaults in `options`). Values are checked by the backend.
// Refused: replication, search_path, role, standard_conforming_strings (any value),
// session_authorization, any other name, `options` switches other than -c/--name=value,
// empty values, and duplicate names (also across `options`).
StartupFilterResult filter_startup_parameters(
    const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace segproxy::protocols::pg
