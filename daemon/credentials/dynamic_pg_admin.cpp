// Blocking libpq admin connection for dynamic credentials (worker threads only).
#include "daemon/credentials/dynamic_pg_admin.hpp"

#include "daemon/credentials/libpq_login.hpp"

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

// ---- DynamicAdmin for PostgreSQL ---------------------------------------------------
namespace segproxy::proxy {
namespace {

class PgDynamicAdmin final : public DynamicAdmin {
 public:
  PgDynamicAdmin(std::unique_ptr<PgAdminConnection> conn, const DynamicTarget& t, std::string instance)
      : conn_(std::move(conn)), grant_roles_(t.settings.grant_roles), instance_(std::move(instance)) {}

  Result create_user(const std::string& user, const authz::Secret& password, TimePoint expires,
                     std::string& why) override {
    const auto verifier = conn_->scram_verifier(password, user, why);
    if (!verifier) return Result::Failed;
    const auto stmts = create_role_sql(conn_->quoter(), user, *verifier, format_pg_timestamp(expires), grant_roles_,
                                       format_marker(instance_, expires));
    if (!stmts) {
      why = "cannot quote the CREATE ROLE statement";
      return Result::Failed;
    }
    std::string sqlstate;
    if (conn_->transaction(*stmts, why, &sqlstate)) return Result::Ok;
    return sqlstate == "42710" ? Result::Exists : Result::Failed;
  }

  bool marked_by_this_instance(const std::string& user, std::string& why) override {
    PgAdminConnection::Rows rows;
    if (!conn_->query(kRoleMarkerSql, user, rows, why) || rows.empty() || !rows[0][0]) return false;
    const auto marker = parse_marker(*rows[0][0]);
    return marker && marker->instance == instance_;
  }

  Result renew_user(const std::string& user, TimePoint expires, std::string& why) override {
    const auto stmts =
        renew_role_sql(conn_->quoter(), user, format_pg_timestamp(expires), format_marker(instance_, expires));
    if (!stmts) {
      why = "cannot quote the ALTER ROLE statement";
      return Result::Failed;
    }
    std::string sqlstate;
    if (conn_->transaction(*stmts, why, &sqlstate)) return Result::Ok;
    return sqlstate == "42704" ? Result::Gone : Result::Failed;
  }

  // pg_terminate_backend for every session of `user`, then DROP ROLE IF EXISTS; when the
  // role owns objects or holds privileges (2BP01): REASSIGN OWNED / DROP OWNED / DROP
  // ROLE in one transaction, objects reassigned to the segment's first grant role
  // (daemon/credentials/dynamic_pg_sql.hpp drop_role_owned_sql).
  bool drop_user(const std::string& user, std::string& why) override {
    PgAdminConnection::Rows rows;
    if (!conn_->query(kTerminateSql, user, rows, why)) {
      why = "terminating the sessions of \"" + user + "\": " + why;
      return false;
    }
    const auto plain = drop_role_sql(conn_->quoter(), user);
    if (!plain) {
      why = "cannot quote \"" + user + "\"";
      return false;
    }
    std::string sqlstate;
    if (conn_->exec(*plain, why, &sqlstate)) return true;
    if (sqlstate != "2BP01") {
      why = "dropping \"" + user + "\": " + why;
      return false;
    }
    // It owns objects: they go to the segment's first grant role (never to the admin).
    if (grant_roles_.empty()) {
      why = "dropping \"" + user + "\": it owns objects and the target has no grant role to reassign them to";
      return false;
    }
    const std::string& owner = grant_roles_.front();
    PgAdminConnection::Rows member;
    if (!conn_->query(kAdminIsMemberSql, owner, member, why)) {
      why = "dropping \"" + user + "\": " + why;
      return false;
    }
    const bool grant_owner = member.empty() || !member[0][0] || *member[0][0] != "true";
    const auto stmts = drop_role_owned_sql(conn_->quoter(), user, owner, grant_owner);
    if (!stmts) {
      why = "cannot quote \"" + user + "\"";
      return false;
    }
    if (!conn_->transaction(*stmts, why, &sqlstate)) {
      if (sqlstate == "42704") return true;  // dropped meanwhile
      why = "dropping \"" + user + "\": " + why;
      return false;
    }
    return true;
  }

  bool list_leftovers(const std::string& prefix, std::vector<LeftoverUser>& out, std::string& why) override {
    PgAdminConnection::Rows rows;
    if (!conn_->query(kLeftoverRolesSql, prefix, rows, why)) return false;
    out.clear();
    for (const auto& row : rows) {
      if (row.size() < 2 || !row[0] || !row[1]) continue;
      const auto marker = parse_marker(*row[1]);
      if (!marker) continue;
      out.push_back(LeftoverUser{*row[0], marker->instance == instance_, marker->expires_unix});
    }
    return true;
  }

 private:
  std::unique_ptr<PgAdminConnection> conn_;
  std::vector<std::string> grant_roles_;
  std::string instance_;
};

}  // namespace

std::unique_ptr<DynamicAdmin> connect_pg_dynamic_admin(const DynamicTarget& t, const std::string& instance,
                                                       std::chrono::milliseconds timeout, std::string& why) {
  auto conn = PgAdminConnection::connect(t.listener, t.database, t.settings.admin_user, *t.admin_password, timeout, why);
  if (!conn) return nullptr;
  return std::make_unique<PgDynamicAdmin>(std::move(conn), t, instance);
}

}  // namespace segproxy::proxy
