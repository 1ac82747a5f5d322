// Prepared statements across a policy reload (SIGHUP / admin reload) on the MySQL path:
// whatever was judged under the old policy is judged again, or refused, under the new one.
#include <gtest/gtest.h>

#include <chrono>

#include "support/audit_support.hpp"
#include "support/mysql_admin_fixture.hpp"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

// Orders and order items readable; SQL-level PREPARE allowed.
const char* kBeforeReloadPolicy =
    "    rules:\n"
    "      - {id: orders-rw, tables: [shop.orders, shop.order_items], allow: [select, insert, update]}\n"
    "    statements: [transaction, session_safe, prepare]\n";

// Orders denied, order items readable: what the tests reload to.
const char* kAfterReloadPolicy =
    "    rules:\n"
    "      - {id: no-orders, tables: [shop.orders], deny: [all]}\n"
    "      - {id: items, tables: [shop.order_items], allow: [select]}\n"
    "    statements: [transaction, session_safe, prepare]\n";

class MysqlReloadPrepared : public MysqlAdminTest {
 protected:
  void Start() {
    MysqlProxyOptions opts;
    opts.billing_policy = kBeforeReloadPolicy;
    ASSERT_NO_FATAL_FAILURE(StartAdminProxy(opts));
  }
  // Rewrites the config with kAfterReloadPolicy and reloads through the admin socket.
  void ReloadToAfterPolicy() {
    MysqlProxyOptions next;
    next.billing_policy = kAfterReloadPolicy;
    RewriteConfig(next);
    const ProcResult reload = ctl({"reload"});
    ASSERT_EQ(reload.exit_code, 0) << reload.describe();
  }
};

TEST_F(MysqlReloadPrepared, StatementPreparedBeforeAReloadIsJudgedUnderTheNewPolicyAtExecute) {
  ASSERT_NO_FATAL_FAILURE(Start());
  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  std::unique_ptr<sql::PreparedStatement> ps(conn->prepareStatement("SELECT count(*) FROM orders WHERE id > ?"));
  ps->setInt(1, 0);
  {
    std::unique_ptr<sql::ResultSet> rs(ps->executeQuery());
    ASSERT_TRUE(rs->next());
  }
  ASSERT_NO_FATAL_FAILURE(ReloadToAfterPolicy());
  try {
    std::unique_ptr<sql::ResultSet> rs(ps->executeQuery());
    ADD_FAILURE() << "a statement on orders prepared before the reload still ran after it";
  } catch (const sql::SQLException& e) {
    EXPECT_EQ(e.getErrorCode(), 1142) << e.what();
  }
  EXPECT_TRUE(mysql_exec(conn.get(), "SELECT 1").ok);
  std::unique_ptr<sql::PreparedStatement> items(conn->prepareStatement("SELECT count(*) FROM order_items WHERE 1 = ?"));
  items->setInt(1, 1);
  std::unique_ptr<sql::ResultSet> rs(items->executeQuery());
  EXPECT_TRUE(rs->next());
}

// SQL-level PREPARE / EXECUTE: a name PREPAREd under the old policy is not EXECUTEd under
// the new one; it must be PREPAREd again, which the new policy judges.
TEST_F(MysqlReloadPrepared, SqlPrepareMadeBeforeAReloadCannotBeExecutedAfterIt) {
  ASSERT_NO_FATAL_FAILURE(Start());
  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  const MyResult prep = mysql_exec(conn.get(), "PREPARE s FROM 'SELECT count(*) FROM orders'");
  ASSERT_TRUE(prep.ok) << prep.error.describe();
  const MyResult before = mysql_exec(conn.get(), "EXECUTE s");
  ASSERT_TRUE(before.ok) << before.error.describe();
  ASSERT_NO_FATAL_FAILURE(ReloadToAfterPolicy());
  const MyResult after = mysql_exec(conn.get(), "EXECUTE s");
  EXPECT_FALSE(after.ok) << "EXECUTE of a statement on orders prepared before the reload ran after it";
  const MyResult again = mysql_exec(conn.get(), "PREPARE s FROM 'SELECT count(*) FROM orders'");
  EXPECT_FALSE(again.ok) << "the new policy denies orders, so PREPARE must be refused";
  EXPECT_EQ(again.error.code, 1142) << again.error.describe();
  const MyResult items = mysql_exec(conn.get(), "PREPARE t FROM 'SELECT count(*) FROM order_items'");
  ASSERT_TRUE(items.ok) << items.error.describe();
  EXPECT_TRUE(mysql_exec(conn.get(), "EXECUTE t").ok);
}

}  // namespace
}  // namespace segproxy::it
