#pragma once
// MySQL-protocol clients for the integration tests: MySQL Connector/C++ 1.1 (in
// process), the `mariadb` CLI, Python pymysql and sysbench (child processes), all
// pointed at a MyTarget: MariaDB directly (setup, observation) or the proxy.
//
// How each client presents the client certificate (the proxy requires one):
//   Connector/C++  options sslCA / sslCert / sslKey (+ sslVerify, sslEnforce)
//   mariadb CLI    --ssl --ssl-ca=CA --ssl-cert=CRT --ssl-key=KEY [--ssl-verify-server-cert]
//   pymysql 1.0.2  connect(ssl_ca=CA, ssl_cert=CRT, ssl_key=KEY, ssl_verify_cert=...,
//                  ssl_verify_identity=...)  (never also ssl={...}: the ssl_* keywords
//                  replace the dict, dropping its CA)
//   sysbench 1.0.20  --mysql-ssl=on and NO file options: libmariadb's mysql_ssl_set()
//                  reads client-key.pem, client-cert.pem and cacert.pem from the current
//                  directory (all three must exist); run_sysbench runs it in a temp dir
//                  holding symlinks to the target's files. libmariadb verifies the
//                  server's chain against cacert.pem; the host name is not checked.
// The user a client names through the proxy is informational (identity comes from the
// certificate); the password is whatever MyTarget holds (empty = none sent).
#include <cppconn/connection.h>  // sql::Connection (Connector/C++ 1.1)

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/pg.hpp"  // ClientCert
#include "support/process.hpp"

namespace segproxy::it {

// TLS files a client presents; empty = not set.
struct MyTls {
  std::string ca;    // CA that signed the server's certificate
  std::string cert;  // client certificate
  std::string key;   // client key
  // Check the server's host name too (Connector/C++ sslVerify, CLI
  // --ssl-verify-server-cert, pymysql ssl_verify_cert + ssl_verify_identity). With
  // libmariadb (Connector/C++, CLI, sysbench) a given `ca` always verifies the chain;
  // pymysql verifies nothing unless this is set.
  bool verify_server = false;
  bool enabled() const { return !ca.empty() || !cert.empty(); }
};

// Where and as whom a client connects.
struct MyTarget {
  std::string host = "127.0.0.1";  // never "localhost": MySQL clients take that as the socket
  std::uint16_t port = 0;
  std::string socket;  // set: the unix socket instead of host/port (no TLS)
  std::string user;
  std::string password;  // empty: no password
  std::string database;  // empty: none
  MyTls tls;
};

// TLS as the proxy tests use it: ca.crt + the certificate `cert` from SEGPROXY_TEST_PKI
// (ClientCert::None: CA only, no client certificate), server verified.
MyTls my_client_tls(ClientCert cert, bool verify_server = true);

// Straight to MariaDB over TCP as `user` with its password (<secrets>/<user>.my.pw),
// database SEGPROXY_TEST_MYDB, TLS with the given client certificate (default: CA only,
// server verified: MariaDB's certificate is pki/pg-server.crt, SAN 127.0.0.1).
MyTarget my_direct_target(const std::string& user, ClientCert cert = ClientCert::None);
// root over the unix socket (superuser; setup and observation), database shop.
MyTarget my_superuser_target();
// Through a proxy listening on 127.0.0.1:port with certificate `cert`; user "whatever",
// no password, database shop.
MyTarget my_proxy_target(std::uint16_t port, ClientCert cert = ClientCert::Spiffe);

// The password in <secrets>/<user>.my.pw ("" if unreadable).
std::string my_password(const std::string& user);

// ---- Connector/C++ ------------------------------------------------------------------

struct MyError {
  int code = 0;          // MySQL error number (e.g. 1045, 1142); 0 = no error
  std::string sqlstate;  // e.g. "28000", "42000"
  std::string message;
  std::string describe() const;
};

// Connects (connect/read/write timeouts 15/60/60 s). nullptr on failure, with *error.
// The first call initialises the driver; a thread that connects other than the main
// thread should bracket its work with my_thread_init()/my_thread_end().
std::unique_ptr<sql::Connection> mysql_connect(const MyTarget& target, MyError* error);
// Convenience form of the above with explicit parameters.
std::unique_ptr<sql::Connection> mysql_connect(const std::string& host, std::uint16_t port,
                                               const std::string& user,
                                               const std::string& password,
                                               const std::string& database,
                                               const MyTls& tls, MyError* error);
void my_thread_init();
void my_thread_end();

struct MyResult {
  bool ok = false;
  MyError error;                               // when !ok
  std::vector<std::string> columns;            // of the first result set
  std::vector<std::vector<std::string>> rows;  // of the first result set; NULL -> "NULL"
  std::uint64_t update_count = 0;              // when the statement returned no rows
  std::string value() const {                  // first column of the first row, or ""
    return rows.empty() || rows.front().empty() ? std::string() : rows.front().front();
  }
};

// Runs one statement (Statement::execute); extra result sets are drained.
MyResult mysql_exec(sql::Connection* conn, const std::string& sql);

// ---- child-process clients ----------------------------------------------------------

// `mariadb --no-defaults <connection and TLS options> <args> -e SQL` (sql empty: no -e).
// The password travels in MYSQL_PWD, never in argv. Typical args: {"--batch",
// "--skip-column-names"}. Exit 1 + "ERROR 1142 (42000) ..." on stderr for SQL errors.
ProcResult run_mariadb_cli(const MyTarget& target, const std::vector<std::string>& args,
                           const std::string& sql,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

// /usr/bin/python3 (Debian's, with python3-pymysql) runs `body` after
//   conn = pymysql.connect(<target>)  and  cur = conn.cursor()
// A pymysql error in connect or body prints "PYMYSQL-ERROR <code> <message>" on stderr
// and exits 3. Exit 0 otherwise; print() what the test checks.
ProcResult run_pymysql(const MyTarget& target, const std::string& body,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

struct SysbenchOptions {
  std::string test = "oltp_point_select";  // or oltp_read_write, oltp_read_only, ...
  std::string command = "run";              // prepare | run | cleanup
  int tables = 1;
  int table_size = 1000;
  int threads = 1;
  int time_s = 2;                  // run only
  std::string ps_mode = "auto";    // --db-ps-mode: auto | disable
  std::vector<std::string> extra;  // appended as given
};

// sysbench with --db-driver=mysql against `target` (TCP or socket), in a fresh temp
// directory under SEGPROXY_TEST_DIR holding cacert.pem/client-cert.pem/client-key.pem
// when target.tls has files (then --mysql-ssl=on; needs ca, cert and key). The
// password goes through --config-file, never argv.
ProcResult run_sysbench(const MyTarget& target, const SysbenchOptions& opts,
                        std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Figures from sysbench's "run" report; -1 when absent.
struct SysbenchCounts {
  long long transactions = -1;
  long long queries = -1;
  long long ignored_errors = -1;
  long long reconnects = -1;
};
SysbenchCounts parse_sysbench(const std::string& out);

}  // namespace segproxy::it
