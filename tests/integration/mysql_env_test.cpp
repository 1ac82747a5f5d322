// The MariaDB test environment itself (scripts/lib/testenv-mariadb.sh), no proxy: the
// users, grants and TLS set-up the MySQL proxy tests rely on, and every client those
// tests use (Connector/C++, the mariadb CLI, pymysql, sysbench) reaching MariaDB over TLS
// with a client certificate. billing_x509 is REQUIRE X509, so a tool that logs in as it
// has demonstrably presented its certificate.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>

#include "support/env.hpp"
#include "support/mysql.hpp"
#include "support/process.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

class MysqlEnv : public ::testing::Test {
 protected:
  void SetUp() override { SEGPROXY_IT_REQUIRE_MYSQL_ENV(); }

  // root over the unix socket (fatal failure if that does not work).
  std::unique_ptr<sql::Connection> Root() {
    MyError err;
    auto conn = mysql_connect(my_superuser_target(), &err);
    EXPECT_NE(conn, nullptr) << "root over " << env().mysock << ": " << err.describe();
    return conn;
  }

  static std::string Ident(const std::string& prefix) {
    std::string s = unique_name(prefix);
    for (char& c : s) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return s;
  }
};

TEST_F(MysqlEnv, ConnectorCppBillingReadsOrdersOverTlsAndIsDeniedPii) {
  MyError err;
  auto conn = mysql_connect(my_direct_target("billing_rw", ClientCert::Spiffe), &err);
  ASSERT_NE(conn, nullptr) << err.describe();

  const MyResult tls = mysql_exec(conn.get(), "SHOW STATUS LIKE 'Ssl_version'");
  ASSERT_TRUE(tls.ok) << tls.error.describe();
  ASSERT_EQ(tls.rows.size(), 1u);
  EXPECT_EQ(tls.rows[0][1].rfind("TLSv1.", 0), 0u) << "not TLS: '" << tls.rows[0][1] << "'";

  const MyResult user = mysql_exec(conn.get(), "SELECT CURRENT_USER(), DATABASE()");
  ASSERT_TRUE(user.ok) << user.error.describe();
  EXPECT_EQ(user.rows.at(0).at(0), "billing_rw@%");
  EXPECT_EQ(user.rows.at(0).at(1), env().mydb);

  const MyResult orders = mysql_exec(conn.get(), "SELECT id, customer, amount FROM orders ORDER BY id");
  ASSERT_TRUE(orders.ok) << orders.error.describe();
  ASSERT_GE(orders.rows.size(), 3u);
  EXPECT_EQ(orders.rows[0][1], "acme");
  EXPECT_EQ(orders.rows[0][2], "120.50");
  EXPECT_EQ(orders.columns, (std::vector<std::string>{"id", "customer", "amount"}));

  const MyResult pii = mysql_exec(conn.get(), "SELECT ssn FROM customers_pii");
  ASSERT_FALSE(pii.ok) << "MariaDB let billing_rw read customers_pii";
  EXPECT_EQ(pii.error.code, 1142) << pii.error.describe();
  EXPECT_EQ(pii.error.sqlstate, "42000");

  // The session stays usable after the error; writes are allowed on orders, not deletes.
  const MyResult upd = mysql_exec(conn.get(), "UPDATE orders SET amount = amount WHERE id = 1");
  EXPECT_TRUE(upd.ok) << upd.error.describe();
  const MyResult del = mysql_exec(conn.get(), "DELETE FROM orders WHERE id = -1");
  EXPECT_FALSE(del.ok);
  EXPECT_EQ(del.error.code, 1142) << del.error.describe();
}

TEST_F(MysqlEnv, UsersHaveTheirAuthPluginsAndTls) {
  auto root = Root();
  ASSERT_NE(root, nullptr);
  const MyResult users = mysql_exec(
      root.get(),
      "SELECT user, host, plugin, ssl_type FROM mysql.user WHERE user IN ('billing_rw',"
      " 'legacy_native', 'billing_ed25519', 'billing_x509', 'reporting_ro', 'segproxy_meta',"
      " 'segproxy_admin', '') ORDER BY user");
  ASSERT_TRUE(users.ok) << users.error.describe();
  std::map<std::string, std::pair<std::string, std::string>> by_user;
  for (const auto& row : users.rows) {
    EXPECT_EQ(row[1], "%") << row[0];
    by_user[row[0]] = {row[2], row[3]};
  }
  EXPECT_EQ(by_user.count(""), 0u) << "anonymous account present";
  EXPECT_EQ(by_user["billing_rw"].first, "mysql_native_password");
  EXPECT_EQ(by_user["legacy_native"].first, "mysql_native_password");
  EXPECT_EQ(by_user["billing_ed25519"].first, "ed25519");
  EXPECT_EQ(by_user["billing_x509"].second, "X509");
  EXPECT_EQ(by_user["reporting_ro"].first, "mysql_native_password");

  // No root over TCP; the server is sized for the revoke test.
  const MyResult roots = mysql_exec(root.get(), "SELECT GROUP_CONCAT(host) FROM mysql.user WHERE user = 'root'");
  ASSERT_TRUE(roots.ok) << roots.error.describe();
  EXPECT_EQ(roots.value(), "localhost");
  const MyResult maxc = mysql_exec(root.get(), "SELECT @@max_connections, @@have_ssl, @@max_allowed_packet");
  ASSERT_TRUE(maxc.ok) << maxc.error.describe();
  EXPECT_GE(std::stoi(maxc.rows[0][0]), 1200);
  EXPECT_EQ(maxc.rows[0][1], "YES");
  EXPECT_GE(std::stoll(maxc.rows[0][2]), 32LL << 20);

  // The ed25519 account logs in (libmariadb's client_ed25519 plugin).
  MyError err;
  auto ed = mysql_connect(my_direct_target("billing_ed25519"), &err);
  ASSERT_NE(ed, nullptr) << err.describe();
  EXPECT_EQ(mysql_exec(ed.get(), "SELECT CURRENT_USER()").value(), "billing_ed25519@%");

  auto legacy = mysql_connect(my_direct_target("legacy_native"), &err);
  ASSERT_NE(legacy, nullptr) << err.describe();
  EXPECT_EQ(mysql_exec(legacy.get(), "SELECT COUNT(*) >= 3 FROM order_items").value(), "1");

  auto reporting = mysql_connect(my_direct_target("reporting_ro"), &err);
  ASSERT_NE(reporting, nullptr) << err.describe();
  EXPECT_EQ(mysql_exec(reporting.get(), "SELECT COUNT(*) >= 3 FROM customers_pii").value(), "1");
  EXPECT_EQ(mysql_exec(reporting.get(), "UPDATE orders SET amount = amount").error.code, 1142);
}

TEST_F(MysqlEnv, X509UserNeedsAClientCertificate) {
  MyError err;
  auto none = mysql_connect(my_direct_target("billing_x509", ClientCert::None), &err);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(err.code, 1045) << err.describe();

  auto spiffe = mysql_connect(my_direct_target("billing_x509", ClientCert::Spiffe), &err);
  ASSERT_NE(spiffe, nullptr) << err.describe();
  EXPECT_EQ(mysql_exec(spiffe.get(), "SELECT CURRENT_USER()").value(), "billing_x509@%");

  // A certificate from another CA is refused in the handshake.
  auto other = mysql_connect(my_direct_target("billing_x509", ClientCert::OtherCa), &err);
  EXPECT_EQ(other, nullptr);
  EXPECT_NE(err.code, 0);
}

TEST_F(MysqlEnv, ServerCertificateIsVerified) {
  // sslVerify (Connector/C++), --ssl-verify-server-cert (CLI) and ssl_verify_cert
  // (pymysql) really check the server: a CA that did not sign it fails the handshake.
  MyTarget t = my_direct_target("billing_rw", ClientCert::Spiffe);
  t.tls.ca = env().pki_file("other-ca.crt");
  MyError err;
  EXPECT_EQ(mysql_connect(t, &err), nullptr);
  EXPECT_NE(err.code, 0);
  const ProcResult cli = run_mariadb_cli(t, {}, "SELECT 1");
  EXPECT_NE(cli.exit_code, 0) << cli.describe();
  const ProcResult py = run_pymysql(t, "pass\n");
  EXPECT_EQ(py.exit_code, 3) << py.describe();
  EXPECT_NE(py.err.find("CERTIFICATE_VERIFY_FAILED"), std::string::npos) << py.describe();
}

TEST_F(MysqlEnv, WrongPasswordIsRefused) {
  MyTarget t = my_direct_target("billing_rw");
  t.password = "not-the-password";
  MyError err;
  EXPECT_EQ(mysql_connect(t, &err), nullptr);
  EXPECT_EQ(err.code, 1045) << err.describe();
  EXPECT_EQ(err.sqlstate, "28000");
}

TEST_F(MysqlEnv, MariadbCliPresentsItsCertificate) {
  const MyTarget t = my_direct_target("billing_x509", ClientCert::Spiffe);
  const ProcResult ok = run_mariadb_cli(
      t, {"--batch", "--skip-column-names"},
      "SELECT CURRENT_USER(); SELECT COUNT(*) >= 3 FROM orders; SHOW STATUS LIKE 'Ssl_version'");
  ASSERT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_NE(ok.out.find("billing_x509@%\n1\nSsl_version\tTLSv1."), std::string::npos) << ok.out;

  const ProcResult denied = run_mariadb_cli(t, {"--batch"}, "SELECT ssn FROM customers_pii");
  EXPECT_EQ(denied.exit_code, 1) << denied.describe();
  EXPECT_NE(denied.err.find("ERROR 1142 (42000)"), std::string::npos) << denied.describe();

  const ProcResult nocert =
      run_mariadb_cli(my_direct_target("billing_x509", ClientCert::None), {}, "SELECT 1");
  EXPECT_EQ(nocert.exit_code, 1) << nocert.describe();
  EXPECT_NE(nocert.err.find("ERROR 1045"), std::string::npos) << nocert.describe();

  const ProcResult su =
      run_mariadb_cli(my_superuser_target(), {"--batch", "--skip-column-names"}, "SELECT CURRENT_USER()");
  ASSERT_EQ(su.exit_code, 0) << su.describe();
  EXPECT_EQ(su.out, "root@localhost\n");
}

TEST_F(MysqlEnv, PymysqlPresentsItsCertificate) {
  const MyTarget t = my_direct_target("billing_x509", ClientCert::Spiffe);
  const ProcResult ok = run_pymysql(t,
                                    "cur.execute('SELECT CURRENT_USER()')\n"
                                    "print(cur.fetchone()[0])\n"
                                    "cur.execute(\"SHOW STATUS LIKE 'Ssl_version'\")\n"
                                    "print(cur.fetchone()[1])\n"
                                    "cur.execute('SELECT customer FROM orders WHERE id = %s', (2,))\n"
                                    "print(cur.fetchone()[0])\n");
  ASSERT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_EQ(ok.out.rfind("billing_x509@%\nTLSv1.", 0), 0u) << ok.out;
  EXPECT_NE(ok.out.find("\nglobex\n"), std::string::npos) << ok.out;

  const ProcResult denied = run_pymysql(t, "cur.execute('SELECT ssn FROM customers_pii')\n");
  EXPECT_EQ(denied.exit_code, 3) << denied.describe();
  EXPECT_NE(denied.err.find("PYMYSQL-ERROR 1142 "), std::string::npos) << denied.describe();

  const ProcResult nocert = run_pymysql(my_direct_target("billing_x509", ClientCert::None), "pass\n");
  EXPECT_EQ(nocert.exit_code, 3) << nocert.describe();
  EXPECT_NE(nocert.err.find("PYMYSQL-ERROR 1045 "), std::string::npos) << nocert.describe();
}

TEST_F(MysqlEnv, SysbenchPointSelectPresentsItsCertificate) {
  const MyTarget t = my_direct_target("billing_x509", ClientCert::Spiffe);
  SysbenchOptions o;
  o.command = "cleanup";  // a table left by an interrupted run
  (void)run_sysbench(t, o);
  o.command = "prepare";
  const ProcResult prep = run_sysbench(t, o);
  ASSERT_EQ(prep.exit_code, 0) << prep.describe();

  o.command = "run";
  o.threads = 2;
  o.time_s = 2;
  for (const char* mode : {"auto", "disable"}) {
    o.ps_mode = mode;
    const ProcResult run = run_sysbench(t, o);
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    const SysbenchCounts c = parse_sysbench(run.out);
    EXPECT_GT(c.transactions, 0) << mode << "\n" << run.out;
    EXPECT_EQ(c.ignored_errors, 0) << mode << "\n" << run.out;
    EXPECT_EQ(c.reconnects, 0) << mode << "\n" << run.out;
  }

  // Without the client certificate the X509 account is refused.
  SysbenchOptions probe = o;
  probe.time_s = 1;
  MyTarget nocert = t;
  nocert.tls = {};
  const ProcResult refused = run_sysbench(nocert, probe);
  EXPECT_NE(refused.exit_code, 0) << refused.describe();
  EXPECT_NE(refused.out.find("error 1045"), std::string::npos) << refused.describe();

  o.command = "cleanup";
  const ProcResult clean = run_sysbench(t, o);
  EXPECT_EQ(clean.exit_code, 0) << clean.describe();
}

TEST_F(MysqlEnv, MetadataUserSeesViewDefinitions) {
  auto root = Root();
  ASSERT_NE(root, nullptr);
  const std::string view = Ident("v_pii");
  ASSERT_TRUE(mysql_exec(root.get(), "CREATE VIEW shop." + view +
                                         " AS SELECT customer, email FROM shop.customers_pii")
                  .ok);
  MyError err;
  auto meta = mysql_connect(my_direct_target("segproxy_meta"), &err);
  ASSERT_NE(meta, nullptr) << err.describe();
  const MyResult def = mysql_exec(meta.get(),
                                  "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE "
                                  "TABLE_SCHEMA = 'shop' AND TABLE_NAME = '" + view + "'");
  EXPECT_TRUE(def.ok) << def.error.describe();
  EXPECT_NE(def.value().find("`shop`.`customers_pii`"), std::string::npos) << def.value();
  EXPECT_TRUE(mysql_exec(root.get(), "DROP VIEW shop." + view).ok);
}

TEST_F(MysqlEnv, AdminUserCreatesScopedUsers) {
  MyError err;
  auto admin = mysql_connect(my_direct_target("segproxy_admin"), &err);
  ASSERT_NE(admin, nullptr) << err.describe();
  const std::string user = Ident("dyn");
  const std::string pw = "dyn-" + user;
  ASSERT_TRUE(mysql_exec(admin.get(), "CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + pw + "'").ok);
  const MyResult grant = mysql_exec(admin.get(), "GRANT SELECT ON shop.orders TO '" + user + "'@'%'");
  EXPECT_TRUE(grant.ok) << grant.error.describe();
  // It may not hand out more than it holds.
  EXPECT_FALSE(mysql_exec(admin.get(), "GRANT DROP ON shop.* TO '" + user + "'@'%'").ok);

  MyTarget t = my_direct_target("billing_rw");
  t.user = user;
  t.password = pw;
  auto dyn = mysql_connect(t, &err);
  ASSERT_NE(dyn, nullptr) << err.describe();
  EXPECT_EQ(mysql_exec(dyn.get(), "SELECT COUNT(*) >= 3 FROM orders").value(), "1");
  EXPECT_EQ(mysql_exec(dyn.get(), "SELECT 1 FROM order_items").error.code, 1142);

  const MyResult kill = mysql_exec(
      admin.get(), "KILL CONNECTION " + mysql_exec(dyn.get(), "SELECT CONNECTION_ID()").value());
  EXPECT_TRUE(kill.ok) << kill.error.describe();
  dyn.reset();
  const MyResult drop = mysql_exec(admin.get(), "DROP USER '" + user + "'@'%'");
  EXPECT_TRUE(drop.ok) << drop.error.describe();
}

}  // namespace
}  // namespace segproxy::it
