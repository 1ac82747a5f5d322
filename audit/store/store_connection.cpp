#include "audit/store/store_connection.hpp"

#include <algorithm>

namespace segproxy::audit::store {

std::string one_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::vector<std::pair<std::string, std::string>> conn_params(const StoreEndpoint& e) {
  std::vector<std::pair<std::string, std::string>> p;
  p.emplace_back("host", e.host);
  p.emplace_back("port", std::to_string(e.port));
  p.emplace_back("dbname", e.dbname);
  p.emplace_back("user", e.user);
  p.emplace_back("sslmode", e.tls_mode);
  if (!e.tls_ca.empty()) p.emplace_back("sslrootcert", e.tls_ca);
  if (!e.tls_cert.empty()) p.emplace_back("sslcert", e.tls_cert);
  if (!e.tls_key.empty()) p.emplace_back("sslkey", e.tls_key);
  p.emplace_back("gssencmode", "disable");
  const auto secs = std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(e.connect_timeout).count());
  p.emplace_back("connect_timeout", std::to_string(secs));
  // A store that stops answering mid-COPY must not hold the shipper forever.
  const auto stmt_ms = e.statement_timeout.count();
  if (stmt_ms > 0) p.emplace_back("tcp_user_timeout", std::to_string(stmt_ms));
  p.emplace_back("keepalives", "1");
  p.emplace_back("keepalives_idle", "10");
  p.emplace_back("keepalives_interval", "5");
  p.emplace_back("keepalives_count", "3");
  p.emplace_back("application_name", e.application_name);
  p.emplace_back("client_encoding", "UTF8");
  if (stmt_ms > 0) p.emplace_back("options", "-c statement_timeout=" + std::to_string(stmt_ms));
  return p;
}

PgConn connect_params(const std::vector<std::pair<std::string, std::string>>& params,
                      const std::optional<std::string>& password, bool expand_dbname, std::string& why) {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  if (password) {
    keys.push_back("password");
    values.push_back(password->c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PgConn conn(PQconnectdbParams(keys.data(), values.data(), expand_dbname ? 1 : 0));
  if (!conn) {
    why = "out of memory";
    return nullptr;
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    why = one_line(PQerrorMessage(conn.get()));
    return nullptr;
  }
  return conn;
}

PgConn connect(const StoreEndpoint& e, const std::optional<std::string>& password, std::string& why) {
  return connect_params(conn_params(e), password, false, why);
}

PgConn connect_conninfo(const std::string& conninfo, const std::optional<std::string>& password,
                        std::string& why) {
  std::vector<std::pair<std::string, std::string>> p;
  p.emplace_back("dbname", conninfo);  // expanded by libpq (expand_dbname = 1)
  p.emplace_back("client_encoding", "UTF8");
  p.emplace_back("application_name", "segproxyctl-audit");
  return connect_params(p, password, true, why);
}

PgResult exec(PGconn* c, const std::string& sql, std::string& why, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& v : params) values.push_back(v.c_str());
  PgResult r(params.empty() ? PQexec(c, sql.c_str())
                            : PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                           nullptr, nullptr, 0));
  if (!r) {
    why = one_line(PQerrorMessage(c));
    return nullptr;
  }
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    why = one_line(PQresultErrorMessage(r.get()));
    return nullptr;
  }
  return r;
}

std::string quote_ident(PGconn* c, const std::string& s) {
  char* q = PQescapeIdentifier(c, s.c_str(), s.size());
  if (q == nullptr) return "";
  std::string out = q;
  PQfreemem(q);
  return out;
}

std::string quote_literal(PGconn* c, const std::string& s) {
  char* q = PQescapeLiteral(c, s.c_str(), s.size());
  if (q == nullptr) return "";
  std::string out = q;
  PQfreemem(q);
  return out;
}

}  // namespace segproxy::audit::store
