#include "support/pg.hpp"

#include <poll.h>

#include "support/env.hpp"

namespace segproxy::it {

std::string conninfo_quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string proxy_conninfo(std::uint16_t port, ClientCert cert, std::string_view extra) {
  const Env& e = env();
  std::string base;
  switch (cert) {
    case ClientCert::Spiffe: base = "client-spiffe"; break;
    case ClientCert::Cn: base = "client-cn"; break;
    case ClientCert::Unknown: base = "client-unknown"; break;
    case ClientCert::OtherCa: base = "client-otherca"; break;
    case ClientCert::None: base = ""; break;
  }
  std::string certfile;
  std::string keyfile;
  if (base.empty()) {
    certfile = e.test_dir + "/no-such-client-cert.crt";
    keyfile = e.test_dir + "/no-such-client-cert.key";
  } else {
    certfile = e.pki_file(base + ".crt");
    keyfile = e.pki_file(base + ".key");
  }
  std::string ci = "host=localhost port=" + std::to_string(port) + " dbname=" +
                   conninfo_quote(e.db) +
                   " user=whatever sslmode=verify-full sslrootcert=" +
                   conninfo_quote(e.pki_file("ca.crt")) + " sslcert=" + conninfo_quote(certfile) +
                   " sslkey=" + conninfo_quote(keyfile) + " connect_timeout=15";
  if (!extra.empty()) {
    ci += " ";
    ci += extra;
  }
  return ci;
}

PgConnPtr pg_connect(const std::string& conninfo) { return PgConnPtr(PQconnectdb(conninfo.c_str())); }

std::string sqlstate_of(const PGresult* res) {
  if (res == nullptr) return {};
  const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  return s != nullptr ? s : "";
}

QueryOutcome pg_exec(PGconn* conn, const std::string& sql) {
  QueryOutcome q;
  PgResultPtr res(PQexec(conn, sql.c_str()));
  if (!res) {
    q.error = PQerrorMessage(conn);
    return q;
  }
  q.status = PQresultStatus(res.get());
  q.ok = q.status == PGRES_COMMAND_OK || q.status == PGRES_TUPLES_OK;
  if (q.status == PGRES_TUPLES_OK) {
    q.rows = PQntuples(res.get());
    if (q.rows > 0 && PQnfields(res.get()) > 0) q.value = PQgetvalue(res.get(), 0, 0);
  }
  if (!q.ok) {
    q.sqlstate = sqlstate_of(res.get());
    q.error = PQresultErrorMessage(res.get());
    if (q.error.empty()) q.error = PQerrorMessage(conn);
  }
  return q;
}

PgResultPtr pg_wait_result(PGconn* conn, std::chrono::milliseconds timeout, bool* timed_out) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  *timed_out = false;
  while (PQisBusy(conn) != 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      *timed_out = true;
      return nullptr;
    }
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left));
    if (n > 0 && PQconsumeInput(conn) == 0) break;  // connection trouble: PQgetResult reports it
  }
  return PgResultPtr(PQgetResult(conn));
}

void pg_drain(PGconn* conn) {
  while (PGresult* r = PQgetResult(conn)) PQclear(r);
}

}  // namespace segproxy::it
