// Blocking libpq admin connection for dynamic credentials (worker threads only).
#include "proxy/dynamic_pg_admin.hpp"

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

std::string one_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string numeric_address(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1) return host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return "";
  char text[NI_MAXHOST] = {};
  const int rc = ::getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
  ::freeaddrinfo(res);
  return rc == 0 ? std::string(text) : std::string();
}

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

std::vector<std::pair<std::string, std::string>> admin_conn_params(const config::Listener& l,
                                                                   const std::string& database,
                                                                   const std::string& user,
                                                                   std::chrono::milliseconds connect_timeout,
                                                                   const std::string& hostaddr) {
  std::vector<std::pair<std::string, std::string>> p;
  const auto& tls = l.backend.tls;
  const bool rename = tls.mode == config::BackendTlsMode::VerifyFull && !tls.server_name.empty() &&
                      tls.server_name != l.backend.endpoint.host && !hostaddr.empty();
  p.emplace_back("host", rename ? tls.server_name : l.backend.endpoint.host);
  if (rename) p.emplace_back("hostaddr", hostaddr);
  p.emplace_back("port", std::to_string(l.backend.endpoint.port));
  p.emplace_back("dbname", database);
  p.emplace_back("user", user);
  switch (tls.mode) {
    case config::BackendTlsMode::Disable: p.emplace_back("sslmode", "disable"); break;
    case config::BackendTlsMode::Require: p.emplace_back("sslmode", "require"); break;
    case config::BackendTlsMode::VerifyFull:
      p.emplace_back("sslmode", "verify-full");
      p.emplace_back("sslrootcert", tls.ca);
      break;
  }
  p.emplace_back("gssencmode", "disable");
  const auto secs = std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(connect_timeout).count());
  p.emplace_back("connect_timeout", std::to_string(secs));
  p.emplace_back("application_name", "segproxy-credentials");
  p.emplace_back("client_encoding", "UTF8");
  p.emplace_back("options", "-c statement_timeout=30000 -c lock_timeout=10000");
  return p;
}

std::unique_ptr<PgAdminConnection> PgAdminConnection::connect(const config::Listener& l,
                                                              const std::string& database,
                                                              const std::string& user,
                                                              const authz::Secret& password,
                                                              std::chrono::milliseconds connect_timeout,
                                                              std::string& why) {
  const std::string where = "admin connection to " + l.backend.endpoint.host + ":" +
                            std::to_string(l.backend.endpoint.port) + " as \"" + user + "\" failed: ";
  std::string hostaddr;
  const auto& tls = l.backend.tls;
  if (tls.mode == config::BackendTlsMode::VerifyFull && !tls.server_name.empty() &&
      tls.server_name != l.backend.endpoint.host) {
    hostaddr = numeric_address(l.backend.endpoint.host);
    if (hostaddr.empty()) {
      why = where + "cannot resolve " + l.backend.endpoint.host;
      return nullptr;
    }
  }
  const auto params = admin_conn_params(l, database, user, connect_timeout, hostaddr);
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back("password");
  values.push_back(password.reveal().c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), 0);
  if (c == nullptr) {
    why = where + "out of memory";
    return nullptr;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    why = where + one_line(PQerrorMessage(c));
    PQfinish(c);
    return nullptr;
  }
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
    why = "cannot compute the password verifier: " + one_line(PQerrorMessage(conn_));
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
  why = one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
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
    why = one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
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
