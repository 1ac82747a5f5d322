// MySQL / MariaDB admin connection of dynamic credentials (worker threads only).
#include "daemon/credentials/dynamic_my_admin.hpp"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/metadata.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "config/mysql_grant.hpp"
#include "daemon/credentials/connector_login.hpp"
#include "daemon/credentials/dynamic_pg_sql.hpp"  // identity_id8
#include "daemon/credentials/mysql_driver.hpp"

namespace segproxy::proxy {
namespace {

constexpr int ER_CANNOT_USER = 1396;       // CREATE USER of an existing account
constexpr int ER_NO_SUCH_THREAD = 1094;    // KILL of a connection that ended meanwhile

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class MyDynamicAdmin final : public DynamicAdmin {
 public:
  MyDynamicAdmin(std::unique_ptr<sql::Connection> conn, bool mariadb, const DynamicTarget& t, std::string instance)
      : conn_(std::move(conn)), mariadb_(mariadb), grants_(t.settings.grants),
        role_(mysql_marker_role(instance)) {}

  Result create_user(const std::string& user, const authz::Secret& password, TimePoint expires,
                     std::string& why) override {
    const auto account = account_of(user);
    const auto role = config::quote_mysql_identifier(role_);
    const std::string native = mysql_native_password_hash(password.reveal());
    const auto hash = native.size() == 41 ? mysql_string_literal(native) : std::nullopt;
    if (!account || !role || !hash) {
      why = "cannot quote the CREATE USER statement";
      return Result::Failed;
    }
    std::vector<std::string> grants;
    for (const auto& text : grants_) {
      std::string perr;
      const auto g = config::parse_mysql_grant(text, perr);
      if (!g) {
        why = "grant \"" + text + "\": " + perr;
        return Result::Failed;
      }
      grants.push_back("GRANT " + config::render_mysql_grant(*g) + " TO " + *account);
    }
    if (!exec("CREATE ROLE IF NOT EXISTS " + *role, why)) {
      why = "creating the marker role: " + why;
      return Result::Failed;
    }
    int code = 0;
    // mysql_native_password: MariaDB's default for IDENTIFIED BY; MySQL 8.0 accepts it
    // (8.4 only with the plugin enabled).
    if (!exec("CREATE USER " + *account + " IDENTIFIED WITH mysql_native_password AS " + *hash, why, &code)) {
      // The server's message may quote the statement, hash included: never pass it on.
      why = "CREATE USER " + *account + " failed (MySQL error " + std::to_string(code) + ")";
      return code == ER_CANNOT_USER ? Result::Exists : Result::Failed;
    }
    // The markers first: a user whose later grants fail is still found by the janitor.
    bool ok = exec("GRANT " + *role + " TO " + *account, why) && grant_expiry(*account, expires, why);
    for (std::size_t i = 0; ok && i < grants.size(); ++i) {
      ok = exec(grants[i], why);
      if (!ok) why = "\"" + grants_[i] + "\": " + why;
    }
    if (!ok) {
      std::string ignored;
      exec("DROP USER IF EXISTS " + *account, ignored);
      return Result::Failed;
    }
    return Result::Ok;
  }

  bool marked_by_this_instance(const std::string& user, std::string& why) override {
    bool marked = false;
    return has_marker(user, marked, why) && marked;
  }

  Result renew_user(const std::string& user, TimePoint expires, std::string& why) override {
    bool marked = false;
    if (!has_marker(user, marked, why)) return Result::Failed;
    if (!marked) {
      why = "user \"" + user + "\" no longer exists";
      return Result::Gone;
    }
    const auto account = account_of(user);
    if (!account) {
      why = "cannot quote \"" + user + "\"";
      return Result::Failed;
    }
    return grant_expiry(*account, expires, why) ? Result::Ok : Result::Failed;
  }

  bool drop_user(const std::string& user, std::string& why) override {
    const auto account = account_of(user);
    if (!account) {
      why = "cannot quote \"" + user + "\"";
      return false;
    }
    std::vector<std::string> expiry_roles;
    if (!query(mariadb_ ? "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = '%' AND Admin_option = 'N'"
                          " AND Role LIKE 'segproxy!_x!_%' ESCAPE '!'"
                        : "SELECT FROM_USER FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = '%'"
                          " AND FROM_USER LIKE 'segproxy!_x!_%' ESCAPE '!'",
               {user}, expiry_roles, why)) {
      return false;
    }
    if (!kill_connections(user, why)) return false;
    if (!exec("DROP USER IF EXISTS " + *account, why)) {
      why = "dropping \"" + user + "\": " + why;
      return false;
    }
    if (!kill_connections(user, why)) return false;  // logged in between the KILLs and DROP USER
    for (const auto& r : expiry_roles) drop_role_if_unused(r);
    return true;
  }

  // Users with the prefix and a marker role of ANY segproxy instance; ours = this
  // instance's marker; expires_unix = the latest expiry role granted (so any instance's
  // janitor drops a dead instance's users once they expired).
  bool list_leftovers(const std::string& prefix, std::vector<LeftoverUser>& out, std::string& why) override {
    const char* sql =
        mariadb_ ? "SELECT User, MAX(Role = ?), MAX(IF(Role LIKE 'segproxy!_x!_%' ESCAPE '!',"
                   " CAST(SUBSTRING(Role, 12) AS UNSIGNED), NULL))"
                   " FROM mysql.roles_mapping WHERE Host = '%' AND Admin_option = 'N'"
                   " AND LEFT(User, CHAR_LENGTH(?)) = ? GROUP BY User"
                   " HAVING MAX(Role LIKE 'segproxy!_m!_%' ESCAPE '!') = 1 ORDER BY User"
                 : "SELECT TO_USER, MAX(FROM_USER = ?), MAX(IF(FROM_USER LIKE 'segproxy!_x!_%' ESCAPE '!',"
                   " CAST(SUBSTRING(FROM_USER, 12) AS UNSIGNED), NULL))"
                   " FROM mysql.role_edges WHERE TO_HOST = '%' AND FROM_HOST = '%'"
                   " AND LEFT(TO_USER, CHAR_LENGTH(?)) = ? GROUP BY TO_USER"
                   " HAVING MAX(FROM_USER LIKE 'segproxy!_m!_%' ESCAPE '!') = 1 ORDER BY TO_USER";
    std::vector<std::vector<std::optional<std::string>>> rows;
    if (!query_rows(sql, {role_, prefix, prefix}, 3, rows, why)) return false;
    out.clear();
    for (auto& r : rows) {
      if (!r[0]) continue;
      LeftoverUser u{*r[0], r[1] && *r[1] == "1", std::nullopt};
      if (r[2] && all_digits(*r[2]) && r[2]->size() <= 12) {
        u.expires_unix = std::stoll(*r[2]);
      }
      out.push_back(std::move(u));
    }
    return true;
  }

 private:
  // Does `user` hold this instance's marker role? False + why when the query fails.
  bool has_marker(const std::string& user, bool& marked, std::string& why) {
    std::vector<std::string> rows;
    const char* sql = mariadb_ ? "SELECT User FROM mysql.roles_mapping WHERE User = ? AND Host = '%' AND Role = ?"
                                 " AND Admin_option = 'N'"
                               : "SELECT TO_USER FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = '%'"
                                 " AND FROM_USER = ? AND FROM_HOST = '%'";
    if (!query(sql, {user, role_}, rows, why)) return false;
    marked = !rows.empty();
    return true;
  }

  // The server-side expiry marker: a privilege-less role named by the expiry (unix
  // seconds), granted to the user at create and at every renewal. MariaDB has no user
  // comment (MySQL 8's COMMENT/ATTRIBUTE would do); the role lets every instance's
  // janitor see when a user of a crashed, never restarted instance expired.
  bool grant_expiry(const std::string& account, TimePoint expires, std::string& why) {
    const auto role = config::quote_mysql_identifier(mysql_expiry_role(expires));
    if (!role) {
      why = "cannot quote the expiry role";
      return false;
    }
    if (!exec("CREATE ROLE IF NOT EXISTS " + *role, why) || !exec("GRANT " + *role + " TO " + account, why)) {
      why = "expiry marker: " + why;
      return false;
    }
    return true;
  }

  // Drops an expiry role that no user holds any more (best effort: a concurrent renewal
  // re-creates it).
  void drop_role_if_unused(const std::string& role) {
    std::vector<std::string> holders;
    std::string why;
    const char* sql = mariadb_ ? "SELECT User FROM mysql.roles_mapping WHERE Role = ? AND Admin_option = 'N' LIMIT 1"
                               : "SELECT TO_USER FROM mysql.role_edges WHERE FROM_USER = ? AND FROM_HOST = '%' LIMIT 1";
    if (!query(sql, {role}, holders, why) || !holders.empty()) return;
    if (const auto quoted = config::quote_mysql_identifier(role)) exec("DROP ROLE IF EXISTS " + *quoted, why);
  }

  static std::optional<std::string> account_of(const std::string& user) {
    auto u = mysql_string_literal(user);
    if (!u || user.empty()) return std::nullopt;
    return *u + "@'%'";
  }

  bool exec(const std::string& sql, std::string& why, int* code = nullptr) {
    try {
      std::unique_ptr<sql::Statement> st(conn_->createStatement());
      st->execute(sql);
      return true;
    } catch (const sql::SQLException& e) {
      if (code != nullptr) *code = e.getErrorCode();
      why = connector_error(e);
      return false;
    } catch (const std::exception& e) {  // a driver failure must not end a worker thread
      why = connector_one_line(e.what());
      return false;
    }
  }

  // First column of every row of a query with string parameters (NULL as "").
  bool query(const char* sql, const std::vector<std::string>& params, std::vector<std::string>& rows,
             std::string& why) {
    std::vector<std::vector<std::optional<std::string>>> full;
    rows.clear();
    if (!query_rows(sql, params, 1, full, why)) return false;
    for (auto& r : full) rows.push_back(r[0].value_or(std::string()));
    return true;
  }

  // `columns` nullable text columns of every row.
  bool query_rows(const char* sql, const std::vector<std::string>& params, unsigned columns,
                  std::vector<std::vector<std::optional<std::string>>>& rows, std::string& why) {
    rows.clear();
    try {
      std::unique_ptr<sql::PreparedStatement> ps(conn_->prepareStatement(sql));
      for (std::size_t i = 0; i < params.size(); ++i) ps->setString(static_cast<unsigned>(i + 1), params[i]);
      std::unique_ptr<sql::ResultSet> rs(ps->executeQuery());
      while (rs->next()) {
        std::vector<std::optional<std::string>> row;
        for (unsigned c = 1; c <= columns; ++c) {
          if (rs->isNull(c)) row.emplace_back(std::nullopt);
          else row.emplace_back(std::string(rs->getString(c)));
        }
        rows.push_back(std::move(row));
      }
      return true;
    } catch (const sql::SQLException& e) {
      why = connector_error(e);
      return false;
    } catch (const std::exception& e) {
      why = connector_one_line(e.what());
      return false;
    }
  }

  bool kill_connections(const std::string& user, std::string& why) {
    std::vector<std::string> ids;
    if (!query("SELECT ID FROM information_schema.PROCESSLIST WHERE BINARY USER = BINARY ?", {user}, ids, why)) {
      why = "listing the connections of \"" + user + "\": " + why;
      return false;
    }
    for (const auto& id : ids) {
      if (!all_digits(id)) continue;
      int code = 0;
      if (!exec("KILL CONNECTION " + id, why, &code) && code != ER_NO_SUCH_THREAD) {
        why = "KILL CONNECTION " + id + " of \"" + user + "\": " + why;
        return false;
      }
    }
    return true;
  }

  std::unique_ptr<sql::Connection> conn_;
  bool mariadb_;
  std::vector<std::string> grants_;
  std::string role_;
};

}  // namespace

std::string mysql_marker_role(std::string_view instance) { return "segproxy_m_" + identity_id8(instance); }

// The queries in list_leftovers / drop_user match this prefix (LIKE 'segproxy!_x!_%',
// SUBSTRING(..., 12) = the digits).
std::string mysql_expiry_role(std::chrono::system_clock::time_point expires) {
  const auto secs = std::chrono::ceil<std::chrono::seconds>(expires.time_since_epoch()).count();
  return "segproxy_x_" + std::to_string(std::max<long long>(0, secs));
}

std::string mysql_native_password_hash(std::string_view password) {
  unsigned char one[EVP_MAX_MD_SIZE];
  unsigned char two[EVP_MAX_MD_SIZE];
  unsigned int n1 = 0;
  unsigned int n2 = 0;
  const bool ok = EVP_Digest(password.data(), password.size(), one, &n1, EVP_sha1(), nullptr) == 1 &&
                  EVP_Digest(one, n1, two, &n2, EVP_sha1(), nullptr) == 1 && n2 == 20;
  OPENSSL_cleanse(one, sizeof one);
  if (!ok) return {};  // SHA-1 unavailable (e.g. a FIPS provider): callers refuse an empty hash
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "*";
  for (unsigned int i = 0; i < n2; ++i) {
    out.push_back(kHex[two[i] >> 4]);
    out.push_back(kHex[two[i] & 0xf]);
  }
  return out;
}

std::optional<std::string> mysql_string_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\\' || c == '\0') return std::nullopt;
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::unique_ptr<DynamicAdmin> connect_my_dynamic_admin(const DynamicTarget& t, const std::string& instance,
                                                       std::chrono::milliseconds timeout, std::string& why) {
  const auto& l = t.listener;
  const std::string where = "admin connection to " + l.backend.endpoint.host + ":" +
                            std::to_string(l.backend.endpoint.port) + " as \"" + t.settings.admin_user + "\" failed: ";
  const auto secs = std::max<long long>(1, std::chrono::ceil<std::chrono::seconds>(timeout).count());
  auto opts = connector_login_options(l, {t.settings.admin_user, std::chrono::seconds(secs), "admin login"},
                                      *t.admin_password, why);
  if (!opts) {
    why = where + why;
    return nullptr;
  }
  try {
    sql::mysql::MySQL_Driver* driver = mysql_driver();
    std::unique_ptr<sql::Connection> conn(driver->connect(*opts));
    const std::string version(conn->getMetaData()->getDatabaseProductVersion());
    const bool mariadb = version.find("MariaDB") != std::string::npos;
    {
      // Statements of the admin session must not wait for long (metadata locks).
      std::unique_ptr<sql::Statement> st(conn->createStatement());
      st->execute("SET SESSION lock_wait_timeout = 10");
    }
    return std::make_unique<MyDynamicAdmin>(std::move(conn), mariadb, t, instance);
  } catch (const sql::SQLException& e) {
    why = where + connector_error(e);
  } catch (const std::exception& e) {
    why = where + connector_one_line(e.what());
  }
  return nullptr;
}

}  // namespace segproxy::proxy
