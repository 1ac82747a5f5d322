#pragma once
// The central audit store (docs/audit.md "Central store"): how to reach it with libpq.
// Shared by the shipper (daemon) and segproxyctl audit store|verify|export --postgres.
// Blocking calls: use them on the shipper's own thread or in the CLI only.
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/store/store_row.hpp"  // StoreRow, extract_row: what the store holds per record

namespace segproxy::audit::store {

inline constexpr const char* kSchema = "segproxy_audit";

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;

struct PgResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultCloser>;

// audit.ship.postgres (config/ maps YAML onto it; the password is read by the daemon).
struct StoreEndpoint {
  std::string host;
  std::uint16_t port = 5432;
  std::string dbname;
  std::string user;
  std::string tls_mode = "verify-full";  // disable | require | verify-ca | verify-full
  std::string tls_ca, tls_cert, tls_key;  // files; ca needed for verify-*
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{30000};  // every query and COPY of the shipper
  std::string application_name = "segproxy-audit-ship";
};

// libpq keyword/value pairs for `e`, without the password.
std::vector<std::pair<std::string, std::string>> conn_params(const StoreEndpoint& e);

// Connects with keyword/value pairs (+ the password when given); null + `why` (never the
// password) on failure. Sets client_encoding UTF8 and, when `statement_timeout` > 0, the
// session's statement_timeout.
PgConn connect_params(const std::vector<std::pair<std::string, std::string>>& params,
                      const std::optional<std::string>& password, bool expand_dbname, std::string& why);
PgConn connect(const StoreEndpoint& e, const std::optional<std::string>& password, std::string& why);
// A libpq connection string (segproxyctl --postgres); the password from the string,
// libpq's usual sources, or `password` when given.
PgConn connect_conninfo(const std::string& conninfo, const std::optional<std::string>& password,
                        std::string& why);

// One line for logs/errors from a libpq message.
std::string one_line(const char* msg);

// Runs `sql` (no parameters or with text parameters); null + why unless the status is
// one of PGRES_COMMAND_OK / PGRES_TUPLES_OK.
PgResult exec(PGconn* c, const std::string& sql, std::string& why,
              const std::vector<std::string>& params = {});

// `s` as a SQL identifier / literal (quoted, via libpq); empty on failure.
std::string quote_ident(PGconn* c, const std::string& s);
std::string quote_literal(PGconn* c, const std::string& s);

}  // namespace segproxy::audit::store
