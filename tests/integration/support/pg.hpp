#pragma once
// libpq conveniences: RAII handles, conninfo strings, small query helpers.
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::it {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Which client certificate libpq presents (files from SEGPROXY_TEST_PKI).
enum class ClientCert {
  Spiffe,   // client-spiffe: spiffe://example.org/ns/billing/sa/api -> segment billing
  Cn,       // client-cn: CN=reporting-job -> segment reporting
  Unknown,  // client-unknown: not mapped to any segment
  OtherCa,  // client-otherca: billing's SPIFFE id, but signed by another CA
  None,     // sslcert/sslkey point at files that do not exist: no certificate is sent
};

// `host=localhost port=P dbname=shop user=whatever sslmode=verify-full sslrootcert=...
// sslcert=... sslkey=... connect_timeout=15 <extra>`; `extra` is appended verbatim and
// overrides earlier keys (libpq: last one wins).
std::string proxy_conninfo(std::uint16_t port, ClientCert cert, std::string_view extra = "");

// Quotes a value for a conninfo string.
std::string conninfo_quote(std::string_view value);

PgConnPtr pg_connect(const std::string& conninfo);

struct QueryOutcome {
  bool ok = false;
  ExecStatusType status = PGRES_FATAL_ERROR;
  std::string value;     // first column of the first row (if any)
  std::string sqlstate;  // on error
  std::string error;     // PQresultErrorMessage or PQerrorMessage
  int rows = 0;
};

// PQexec; ok when the status is COMMAND_OK or TUPLES_OK.
QueryOutcome pg_exec(PGconn* conn, const std::string& sql);

// Waits for the next result of an asynchronous query (PQsendQuery...) up to `timeout`,
// without blocking in libpq. Returns nullptr on timeout or when no result is left.
PgResultPtr pg_wait_result(PGconn* conn, std::chrono::milliseconds timeout, bool* timed_out);

// Drains the remaining results of an asynchronous query (blocking).
void pg_drain(PGconn* conn);

std::string sqlstate_of(const PGresult* res);

}  // namespace segproxy::it
