// System schemas on the MySQL path with the real clients (issue 12 item 1.1): the
// mariadb CLI's SHOW TABLES / information_schema reads work with `catalog: metadata`
// and no wildcard, are refused (1142) with only a `*.*` rule, mysql.user is refused
// even to an exact rule, and mariadb-dump of a readable table keeps working.
#include <gtest/gtest.h>

#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

class MysqlCatalogClients : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void Start(const std::string& policy) {
    MysqlProxyOptions opts;
    opts.billing_policy = policy;
    opts.log_level = "info";
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
};

const char* kMetadataPolicy =
    "    catalog: metadata\n"
    "    rules:\n"
    "      - {id: orders-read, tables: [shop.orders], allow: [select]}\n"
    "      - {id: named, tables: [mysql.user, mysql.db], allow: [select]}\n"
    "    statements: [transaction, session_safe]\n";

const char* kWildcardPolicy =
    "    rules:\n"
    "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
    "    statements: [transaction, session_safe]\n";

TEST_F(MysqlCatalogClients, MariadbCliReadsMetadataWithCatalogMetadataAndNoWildcard) {
  ASSERT_NO_FATAL_FAILURE(Start(kMetadataPolicy));
  const ProcResult show = run_mariadb_cli(Target(), {"--batch", "--skip-column-names"}, "SHOW TABLES");
  EXPECT_EQ(show.exit_code, 0) << show.describe();
  EXPECT_NE(show.out.find("orders\n"), std::string::npos) << show.describe();
  const ProcResult cols = run_mariadb_cli(Target(), {"--batch", "--skip-column-names"},
                                          "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop' "
                                          "AND TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION LIMIT 1");
  EXPECT_EQ(cols.exit_code, 0) << cols.describe();
  EXPECT_FALSE(cols.out.empty()) << cols.describe();
  // Credentials: refused although a rule names mysql.user exactly; mysql.db (exact) passes.
  const ProcResult user = run_mariadb_cli(Target(), {"--batch"}, "SELECT COUNT(*) FROM mysql.user");
  EXPECT_NE(user.exit_code, 0) << user.describe();
  EXPECT_NE(user.err.find("ERROR 1142"), std::string::npos) << user.describe();
  EXPECT_NE(user.err.find("never granted"), std::string::npos) << user.describe();
}

TEST_F(MysqlCatalogClients, WildcardRuleGrantsNoSystemSchema) {
  ASSERT_NO_FATAL_FAILURE(Start(kWildcardPolicy));
  for (const std::string sql : {"SHOW TABLES", "SELECT COUNT(*) FROM information_schema.TABLES",
                                "SELECT COUNT(*) FROM mysql.db", "SELECT COUNT(*) FROM performance_schema.threads",
                                "SELECT COUNT(*) FROM MYSQL.user"}) {
    const ProcResult r = run_mariadb_cli(Target(), {"--batch"}, sql);
    EXPECT_NE(r.exit_code, 0) << sql << "\n" << r.describe();
    EXPECT_NE(r.err.find("ERROR 1142"), std::string::npos) << sql << "\n" << r.describe();
  }
  const ProcResult ok = run_mariadb_cli(Target(), {"--batch", "--skip-column-names"}, "SELECT COUNT(*) > 0 FROM shop.orders");
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
}

// Every table and view MariaDB has in its system schemas, read through the proxy with
// only `*.*` allow all: each is refused (1142) and the session goes on.
TEST_F(MysqlCatalogClients, WildcardRuleGrantsNoTableOfTheServersSystemSchemas) {
  ASSERT_NO_FATAL_FAILURE(Start(kWildcardPolicy));
  MyError err;
  auto root = mysql_connect(my_superuser_target(), &err);
  ASSERT_TRUE(root) << err.describe();
  const MyResult tables = mysql_exec(root.get(),
                                     "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN "
                                     "('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2");
  ASSERT_TRUE(tables.ok) << tables.error.describe();
  EXPECT_GT(tables.rows.size(), 100u);
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  std::size_t refused = 0;
  for (const auto& row : tables.rows) {
    const std::string sql = "SELECT 1 FROM `" + row.at(0) + "`.`" + row.at(1) + "` LIMIT 0";
    const MyResult r = mysql_exec(conn.get(), sql);
    const bool ok = !r.ok && r.error.code == 1142;
    EXPECT_TRUE(ok) << sql << ": " << (r.ok ? "allowed" : r.error.describe());
    refused += ok ? 1 : 0;
  }
  EXPECT_EQ(refused, tables.rows.size());
  EXPECT_TRUE(mysql_exec(conn.get(), "SELECT COUNT(*) FROM shop.orders").ok);
}

TEST_F(MysqlCatalogClients, MariadbDumpOfAReadableTableWorksWithCatalogMetadata) {
  ASSERT_NO_FATAL_FAILURE(Start(ProxyConfigOptions::kPermissivePolicy));
  const MyTarget t = Target();
  std::vector<std::string> argv{"mariadb-dump", "--no-defaults", "--protocol=tcp", "--host=" + t.host,
                                "--port=" + std::to_string(t.port), "--ssl"};
  if (!t.tls.ca.empty()) argv.push_back("--ssl-ca=" + t.tls.ca);
  if (!t.tls.cert.empty()) argv.push_back("--ssl-cert=" + t.tls.cert);
  if (!t.tls.key.empty()) argv.push_back("--ssl-key=" + t.tls.key);
  if (t.tls.verify_server) argv.push_back("--ssl-verify-server-cert");
  argv.push_back("--user=" + t.user);
  // The backend user billing_rw has no LOCK TABLES privilege (MariaDB refuses, 1044).
  argv.push_back("--skip-lock-tables");
  argv.push_back(t.database.empty() ? "shop" : t.database);
  argv.push_back("orders");
  const ProcResult r = run_process(argv, 120s, {{"MYSQL_PWD", t.password}});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("CREATE TABLE `orders`"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("INSERT INTO `orders` VALUES"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace segproxy::it
