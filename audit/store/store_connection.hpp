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

// The queryable columns taken from one canonical line, generically by key (a record
// format may add or drop fields; absent keys are NULL in the store). identity: the
// record's "identity", else "spiffe_id", else "cn".
struct StoreRow {
  std::uint64_t seq = 0;
  std::string ts, event, hash, prev_hash;  // always present in a canonical line
  std::optional<std::string> session_id, identity, cert_sha256, segment, decision, fingerprint;
};
// nullopt + why when the line is not a JSON object with seq / ts / event / hash / prev_hash.
std::optional<StoreRow> extract_row(std::string_view line, std::string& why);

// The columns of the records table in COPY / SELECT order (line last).
inline constexpr const char* kRowColumns =
    "instance, seq, ts, event, session_id, identity, cert_sha256, segment, decision, fingerprint, hash, line";

// Appends one COPY text-format row (instance, the row's columns, the line) with '\n'.
void append_copy_row(std::string& out, const std::string& instance, const StoreRow& row, std::string_view line);

}  // namespace segproxy::audit::store
