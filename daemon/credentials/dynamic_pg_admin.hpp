#pragma once
// The blocking libpq admin connection of dynamic credentials (daemon/credentials/dynamic_credentials).
// Used only on the service's worker threads, never on I/O threads. Passwords are
// passed to libpq as a connection parameter (never in a conninfo string or a log line).
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "authz/credential_store.hpp"
#include "config/config.hpp"
#include "daemon/credentials/dynamic_admin.hpp"
#include "daemon/credentials/dynamic_pg_sql.hpp"

namespace segproxy::proxy {

// libpq keyword/value pairs (without the password) of the admin connection of listener
// `l`: its backend endpoint and backend TLS settings (as daemon/catalog/view_loader does).
std::vector<std::pair<std::string, std::string>> admin_conn_params(const config::Listener& l,
                                                                   const std::string& database,
                                                                   const std::string& user,
                                                                   std::chrono::milliseconds connect_timeout,
                                                                   const std::string& hostaddr = {});

class PgAdminConnection {
 public:
  // Connects (blocking, bounded by connect_timeout, at least 2 s as libpq rounds). nullptr
  // + why (naming host, port and user, never the password) on failure.
  static std::unique_ptr<PgAdminConnection> connect(const config::Listener& l, const std::string& database,
                                                    const std::string& user, const authz::Secret& password,
                                                    std::chrono::milliseconds connect_timeout, std::string& why);
  ~PgAdminConnection();
  PgAdminConnection(const PgAdminConnection&) = delete;
  PgAdminConnection& operator=(const PgAdminConnection&) = delete;

  // PQescapeIdentifier / PQescapeLiteral on this connection.
  SqlQuoter quoter() const;
  // SCRAM-SHA-256 verifier of `password` computed locally (PQencryptPasswordConn).
  std::optional<std::string> scram_verifier(const authz::Secret& password, const std::string& user,
                                            std::string& why);
  // Runs `statements` in one transaction (BEGIN ... COMMIT; ROLLBACK on error). False +
  // why (+ SQLSTATE) on failure.
  bool transaction(const std::vector<std::string>& statements, std::string& why, std::string* sqlstate = nullptr);
  bool exec(const std::string& sql, std::string& why, std::string* sqlstate = nullptr);
  // A one-parameter query; rows of nullable text columns.
  using Rows = std::vector<std::vector<std::optional<std::string>>>;
  bool query(const char* sql, const std::string& param, Rows& rows, std::string& why,
             std::string* sqlstate = nullptr);

 private:
  explicit PgAdminConnection(PGconn* c) : conn_(c) {}
  PGconn* conn_;
};

// The PostgreSQL DynamicAdmin: roles with LOGIN, VALID UNTIL, IN ROLE grant_roles and
// the comment marker "segproxy:<instance>:<expires_unix>" (daemon/credentials/dynamic_pg_sql.hpp).
std::unique_ptr<DynamicAdmin> connect_pg_dynamic_admin(const DynamicTarget& t, const std::string& instance,
                                                       std::chrono::milliseconds timeout, std::string& why);

}  // namespace segproxy::proxy
