// Blocking libpq admin connection for dynamic credentials (worker threads only).
#include "proxy/dynamic_pg_admin.hpp"

#include "proxy/libpq_login.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

namespace segproxy::proxy {
namespace {

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultCloser>;

std::string sqlstate_of(const PGresult* r) {
  const char* s = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s != nullptr ? s : "";
}

std::optional<std::string> escaped(char* p) {
  if (p == nullptr) return std::nullopt;
  std::string s(p);
  PQfreemem(p);
  return s;
}

}  // namespace

namespace {
LibpqLogin admin_login(const std::string& database, const std::string& user, std::chrono::milliseconds connect_timeout) {
  LibpqLogin login;
  login.database = database;
  login.user = user;
  login.connect_timeout = connect_timeout;
  login.application_name = "segproxy-credentials";
  login.options = "-c statement_timeout=30000 -c lock_timeout=10000";
  return login;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> admin_conn_params(const config::Listener& l,
                                                                   const std::string& database,
                                                                   const std::string& user,
                                                                   std::chrono::milliseconds connect_timeout,
                                                                   const std::string& hostaddr) {
  return libpq_conn_params(l, admin_login(database, user, connect_timeout), hostaddr);
}

std::unique_ptr<PgAdminConnection> PgAdminConnection::connect(const config::Listener& l,
                                                              const std::string& database,
                                                              const std::string& user,
                                                              const authz::Secret& password,
                                                              std::chrono::milliseconds connect_timeout,
                                                              std::string& why) {
  const std::string where = "admin connection to " + l.backend.endpoint.host + ":" +
                            std::to_string(l.backend.endpoint.port) + " as \"" + user + "\" failed: ";
  std::string error;
  auto conn = libpq_connect(l, admin_login(database, user, connect_timeout), password, error);
  if (!conn) {
    why = where + error;
    return nullptr;
  }
  PGconn* c = conn.release();
  return std::unique_ptr<PgAdminConnection>(new PgAdminConnection(c));
}

PgAdminConnection::~PgAdminConnection() { PQfinish(conn_); }

SqlQuoter PgAdminConnection::quoter() const {
  PGconn* c = conn_;
  return SqlQuoter{
      [c](std::string_view s) { return escaped(PQescapeIdentifier(c, s.data(), s.size())); },
      [c](std::string_view s) { return escaped(PQescapeLiteral(c, s.data(), s.size())); }};
}

std::optional<std::string> PgAdminConnection::scram_verifier(const authz::Secret& password,
                                                             const std::string& user, std::string& why) {
  char* v = PQencryptPasswordConn(conn_, password.reveal().c_str(), user.c_str(), "scram-sha-256");
  if (v == nullptr) {
    why = "cannot compute the password verifier: " + libpq_one_line(PQerrorMessage(conn_));
    return std::nullopt;
  }
  std::string out(v);
  PQfreemem(v);
  return out;
}

bool PgAdminConnection::exec(const std::string& sql, std::string& why, std::string* sqlstate) {
  ResultPtr r(PQexec(conn_, sql.c_str()));
  const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return true;
  why = libpq_one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
  if (sqlstate != nullptr) *sqlstate = sqlstate_of(r.get());
  return false;
}

bool PgAdminConnection::transaction(const std::vector<std::string>& statements, std::string& why,
                                    std::string* sqlstate) {
  if (!exec("BEGIN", why, sqlstate)) return false;
  for (const auto& s : statements) {
    if (!exec(s, why, sqlstate)) {
      std::string ignored;
      exec("ROLLBACK", ignored);
      return false;
    }
  }
  return exec("COMMIT", why, sqlstate);
}

bool PgAdminConnection::query(const char* sql, const std::string& param, Rows& rows, std::string& why,
                              std::string* sqlstate) {
  const char* values[1] = {param.c_str()};
  ResultPtr r(PQexecParams(conn_, sql, 1, nullptr, values, nullptr, nullptr, 0));
  if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    why = libpq_one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
    if (sqlstate != nullptr) *sqlstate = sqlstate_of(r.get());
    return false;
  }
  rows.clear();
  const int n = PQntuples(r.get());
  const int f = PQnfields(r.get());
  for (int i = 0; i < n; ++i) {
    std::vector<std::optional<std::string>> row;
    for (int j = 0; j < f; ++j) {
      if (PQgetisnull(r.get(), i, j)) row.emplace_back(std::nullopt);
      else row.emplace_back(std::string(PQgetvalue(r.get(), i, j)));
    }
    rows.push_back(std::move(row));
  }
  return true;
}

}  // namespace segproxy::proxy
