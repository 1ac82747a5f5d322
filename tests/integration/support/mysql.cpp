#include "support/mysql.hpp"

#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <unistd.h>

#include <limits>
#include <mutex>
#include <regex>

#include "daemon/credentials/mysql_driver.hpp"
#include "support/env.hpp"

namespace segproxy::it {
namespace {

// The daemon's one accessor (daemon/credentials/mysql_driver: its first use is serialised there).
sql::mysql::MySQL_Driver* driver() { return proxy::mysql_driver(); }

void fill_error(const sql::SQLException& e, MyError* error) {
  if (error == nullptr) return;
  error->code = e.getErrorCode();
  error->sqlstate = e.getSQLState();
  error->message = e.what();
}

// The password reaches the client through MYSQL_PWD (empty: no password).
std::vector<std::pair<std::string, std::string>> cli_env(const MyTarget& t) {
  return {{"MYSQL_PWD", t.password}};
}

}  // namespace

std::string MyError::describe() const {
  return "error " + std::to_string(code) + " (" + sqlstate + "): " + message;
}

MyTls my_client_tls(ClientCert cert, bool verify_server) {
  const Env& e = env();
  MyTls tls;
  tls.ca = e.pki_file("ca.crt");
  tls.verify_server = verify_server;
  std::string base;
  switch (cert) {
    case ClientCert::Spiffe: base = "client-spiffe"; break;
    case ClientCert::Cn: base = "client-cn"; break;
    case ClientCert::Unknown: base = "client-unknown"; break;
    case ClientCert::OtherCa: base = "client-otherca"; break;
    case ClientCert::None: break;
  }
  if (!base.empty()) {
    tls.cert = e.pki_file(base + ".crt");
    tls.key = e.pki_file(base + ".key");
  }
  return tls;
}

std::string my_password(const std::string& user) {
  const std::string path = env().my_secret_file(user);
  if (::access(path.c_str(), R_OK) != 0) return {};
  std::string pw = read_file(path);
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

MyTarget my_direct_target(const std::string& user, ClientCert cert) {
  const Env& e = env();
  MyTarget t;
  t.host = e.myhost;
  t.port = static_cast<std::uint16_t>(std::stoi(e.myport.empty() ? "0" : e.myport));
  t.user = user;
  t.password = my_password(user);
  t.database = e.mydb;
  t.tls = my_client_tls(cert, true);
  return t;
}

MyTarget my_superuser_target() {
  const Env& e = env();
  MyTarget t;
  t.host = "localhost";
  t.socket = e.mysock;
  t.user = e.mysuperuser;
  t.database = e.mydb;
  return t;
}

MyTarget my_proxy_target(std::uint16_t port, ClientCert cert) {
  MyTarget t;
  t.host = "127.0.0.1";
  t.port = port;
  t.user = "whatever";
  t.database = env().mydb;
  t.tls = my_client_tls(cert, true);
  return t;
}

// ---- Connector/C++ ------------------------------------------------------------------

std::unique_ptr<sql::Connection> mysql_connect(const MyTarget& t, MyError* error) {
  sql::ConnectOptionsMap opts;
  if (!t.socket.empty()) {
    opts["hostName"] = sql::SQLString("unix://" + t.socket);
  } else {
    opts["hostName"] = sql::SQLString("tcp://" + t.host + ":" + std::to_string(t.port));
  }
  opts["userName"] = sql::SQLString(t.user);
  opts["password"] = sql::SQLString(t.password);
  if (!t.database.empty()) opts["schema"] = sql::SQLString(t.database);
  opts["OPT_CONNECT_TIMEOUT"] = 15;
  opts["OPT_READ_TIMEOUT"] = 60;
  opts["OPT_WRITE_TIMEOUT"] = 60;
  if (t.tls.enabled() && t.socket.empty()) {
    if (!t.tls.ca.empty()) opts["sslCA"] = sql::SQLString(t.tls.ca);
    if (!t.tls.cert.empty()) opts["sslCert"] = sql::SQLString(t.tls.cert);
    if (!t.tls.key.empty()) opts["sslKey"] = sql::SQLString(t.tls.key);
    opts["sslEnforce"] = true;
    opts["sslVerify"] = t.tls.verify_server;
  }
  try {
    std::unique_ptr<sql::Connection> conn(driver()->connect(opts));
    if (error != nullptr) *error = {};
    return conn;
  } catch (const sql::SQLException& e) {
    fill_error(e, error);
  } catch (const std::exception& e) {
    if (error != nullptr) *error = MyError{-1, "", e.what()};
  }
  return nullptr;
}

std::unique_ptr<sql::Connection> mysql_connect(const std::string& host, std::uint16_t port,
                                               const std::string& user,
                                               const std::string& password,
                                               const std::string& database,
                                               const MyTls& tls, MyError* error) {
  MyTarget t;
  t.host = host;
  t.port = port;
  t.user = user;
  t.password = password;
  t.database = database;
  t.tls = tls;
  return mysql_connect(t, error);
}

void my_thread_init() { driver()->threadInit(); }
void my_thread_end() { driver()->threadEnd(); }

MyResult mysql_exec(sql::Connection* conn, const std::string& sql_text) {
  MyResult r;
  if (conn == nullptr) {
    r.error = MyError{-1, "", "no connection"};
    return r;
  }
  try {
    std::unique_ptr<sql::Statement> st(conn->createStatement());
    bool has_rs = st->execute(sql_text);
    bool first = true;
    while (true) {
      if (has_rs) {
        std::unique_ptr<sql::ResultSet> rs(st->getResultSet());
        if (first && rs) {
          sql::ResultSetMetaData* md = rs->getMetaData();
          const unsigned n = md->getColumnCount();
          for (unsigned i = 1; i <= n; ++i) r.columns.emplace_back(md->getColumnLabel(i));
          while (rs->next()) {
            std::vector<std::string> row;
            row.reserve(n);
            for (unsigned i = 1; i <= n; ++i) {
              row.emplace_back(rs->isNull(i) ? std::string("NULL") : std::string(rs->getString(i)));
            }
            r.rows.push_back(std::move(row));
          }
        }
      } else {
        const std::uint64_t count = st->getUpdateCount();
        if (count == std::numeric_limits<std::uint64_t>::max()) break;  // no more results
        if (first) r.update_count = static_cast<std::uint64_t>(count);
      }
      first = false;
      has_rs = st->getMoreResults();
    }
    r.ok = true;
  } catch (const sql::SQLException& e) {
    fill_error(e, &r.error);
  } catch (const std::exception& e) {
    r.error = MyError{-1, "", e.what()};
  }
  return r;
}

// ---- child-process clients ----------------------------------------------------------

ProcResult run_mariadb_cli(const MyTarget& t, const std::vector<std::string>& args,
                           const std::string& sql_text, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{"mariadb", "--no-defaults", "--connect-timeout=15"};
  if (!t.socket.empty()) {
    argv.push_back("--protocol=socket");
    argv.push_back("--socket=" + t.socket);
  } else {
    argv.push_back("--protocol=tcp");
    argv.push_back("--host=" + t.host);
    argv.push_back("--port=" + std::to_string(t.port));
    if (t.tls.enabled()) {
      argv.push_back("--ssl");
      if (!t.tls.ca.empty()) argv.push_back("--ssl-ca=" + t.tls.ca);
      if (!t.tls.cert.empty()) argv.push_back("--ssl-cert=" + t.tls.cert);
      if (!t.tls.key.empty()) argv.push_back("--ssl-key=" + t.tls.key);
      if (t.tls.verify_server) argv.push_back("--ssl-verify-server-cert");
    } else {
      argv.push_back("--skip-ssl");
    }
  }
  argv.push_back("--user=" + t.user);
  if (!t.database.empty()) argv.push_back("--database=" + t.database);
  argv.insert(argv.end(), args.begin(), args.end());
  if (!sql_text.empty()) {
    argv.push_back("-e");
    argv.push_back(sql_text);
  }
  return run_process(argv, timeout, cli_env(t));
}

namespace {

constexpr const char* kPymysqlPrelude = R"PY(
import os, sys
import pymysql
E = os.environ
def _fail(e):
    code = e.args[0] if e.args and isinstance(e.args[0], int) else -1
    msg = e.args[1] if len(e.args) > 1 else str(e)
    sys.stderr.write("PYMYSQL-ERROR %s %s\n" % (code, msg))
    sys.stderr.flush()
    os._exit(3)
_p = dict(user=E["SPMY_USER"], password=E["SPMY_PASSWORD"], connect_timeout=15,
          read_timeout=60, write_timeout=60)
if E.get("SPMY_DATABASE"):
    _p["database"] = E["SPMY_DATABASE"]
if E.get("SPMY_SOCKET"):
    _p["unix_socket"] = E["SPMY_SOCKET"]
else:
    _p["host"] = E["SPMY_HOST"]
    _p["port"] = int(E["SPMY_PORT"])
    if E.get("SPMY_SSL_CA") or E.get("SPMY_SSL_CERT"):
        # ssl_* keywords only: pymysql 1.0.2 replaces an ssl={...} dict with them.
        if E.get("SPMY_SSL_CA"):
            _p["ssl_ca"] = E["SPMY_SSL_CA"]
        if E.get("SPMY_SSL_CERT"):
            _p["ssl_cert"] = E["SPMY_SSL_CERT"]
            _p["ssl_key"] = E["SPMY_SSL_KEY"]
        _v = E.get("SPMY_SSL_VERIFY") == "1"
        _p["ssl_verify_cert"] = _v
        _p["ssl_verify_identity"] = _v
try:
    conn = pymysql.connect(**_p)
except pymysql.err.MySQLError as e:
    _fail(e)
cur = conn.cursor()
try:
    exec(compile(E["SPMY_BODY"], "<test body>", "exec"))
except pymysql.err.MySQLError as e:
    _fail(e)
)PY";

}  // namespace

ProcResult run_pymysql(const MyTarget& t, const std::string& body,
                       std::chrono::milliseconds timeout) {
  std::vector<std::pair<std::string, std::string>> env{
      {"SPMY_HOST", t.host},
      {"SPMY_PORT", std::to_string(t.port)},
      {"SPMY_SOCKET", t.socket},
      {"SPMY_USER", t.user},
      {"SPMY_PASSWORD", t.password},
      {"SPMY_DATABASE", t.database},
      {"SPMY_SSL_CA", t.tls.ca},
      {"SPMY_SSL_CERT", t.tls.cert},
      {"SPMY_SSL_KEY", t.tls.key},
      {"SPMY_SSL_VERIFY", t.tls.verify_server ? "1" : "0"},
      {"SPMY_BODY", body},
      {"PYTHONDONTWRITEBYTECODE", "1"},
  };
  // Debian's interpreter (python3-pymysql), not whatever python3 comes first in PATH.
  return run_process({"/usr/bin/python3", "-c", kPymysqlPrelude}, timeout, env);
}

ProcResult run_sysbench(const MyTarget& t, const SysbenchOptions& o,
                        std::chrono::milliseconds timeout) {
  const std::string dir = make_temp_dir(env().test_dir, "sysbench");
  if (dir.empty()) {
    ProcResult r;
    r.err = "cannot create a temp dir under " + env().test_dir;
    return r;
  }
  // Options that must not show in argv go in the config file (sysbench --config-file).
  write_file(dir + "/sysbench.cfg", "mysql-password=" + t.password + "\n", 0600);
  std::vector<std::string> argv{"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh",
                                dir,       "sysbench", o.test,
                                "--config-file=" + dir + "/sysbench.cfg",
                                "--db-driver=mysql"};
  if (!t.socket.empty()) {
    argv.push_back("--mysql-socket=" + t.socket);
  } else {
    argv.push_back("--mysql-host=" + t.host);
    argv.push_back("--mysql-port=" + std::to_string(t.port));
  }
  if (t.tls.enabled() && t.socket.empty()) {
    // libmariadb's mysql_ssl_set(con, "client-key.pem", "client-cert.pem", "cacert.pem")
    // with paths relative to the working directory.
    const std::pair<const std::string*, const char*> links[] = {
        {&t.tls.ca, "cacert.pem"}, {&t.tls.cert, "client-cert.pem"}, {&t.tls.key, "client-key.pem"}};
    for (const auto& [src, name] : links) {
      if (src->empty() || ::symlink(src->c_str(), (dir + "/" + name).c_str()) != 0) {
        ProcResult r;
        r.err = std::string("sysbench TLS needs ca, cert and key; could not provide ") + name;
        remove_tree(dir);
        return r;
      }
    }
    argv.push_back("--mysql-ssl=on");
  }
  argv.push_back("--mysql-user=" + t.user);
  if (!t.database.empty()) argv.push_back("--mysql-db=" + t.database);
  argv.push_back("--tables=" + std::to_string(o.tables));
  argv.push_back("--table-size=" + std::to_string(o.table_size));
  argv.push_back("--threads=" + std::to_string(o.threads));
  argv.push_back("--db-ps-mode=" + o.ps_mode);
  if (o.command == "run") {
    argv.push_back("--time=" + std::to_string(o.time_s));
    argv.push_back("--report-interval=0");
  }
  argv.insert(argv.end(), o.extra.begin(), o.extra.end());
  argv.push_back(o.command);
  ProcResult r = run_process(argv, timeout);
  remove_tree(dir);
  return r;
}

SysbenchCounts parse_sysbench(const std::string& out) {
  SysbenchCounts c;
  auto grab = [&out](const char* label, long long* v) {
    const std::regex re(std::string("\\b") + label + R"(:\s+([0-9]+))");
    std::smatch m;
    if (std::regex_search(out, m, re)) *v = std::stoll(m[1].str());
  };
  grab("transactions", &c.transactions);
  grab("queries", &c.queries);
  grab("ignored errors", &c.ignored_errors);
  grab("reconnects", &c.reconnects);
  return c;
}

}  // namespace segproxy::it
