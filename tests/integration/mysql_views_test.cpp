// MySQL view learning (daemon/catalog/mysql_view_loader): with `backend.metadata` on the mysql
// listener, the proxy reads information_schema.VIEWS as segproxy_meta, analyses each
// VIEW_DEFINITION and makes a view count as the tables it reads. A view over
// customers_pii (SQL SECURITY DEFINER, so the backend itself would let billing_rw read
// it) is denied through the proxy although the policy's shop.* grant matches its name.
// DDL a session lets through refreshes the learned views (Runtime::on_ddl), with no timer.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

const char* kBillingPolicy =
    "    rules:\n"
    "      - {id: shop-read, tables: [\"shop.*\"], allow: [select]}\n"
    "      - {id: no-pii, tables: [shop.customers_pii], deny: [all]}\n"
    "    statements: [transaction, session_safe, prepare]\n";

class MysqlViews : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }

  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    MyError err;
    root_ = mysql_connect(my_superuser_target(), &err);
    ASSERT_TRUE(root_) << err.describe();
    for (const char* sql : {"CREATE OR REPLACE VIEW shop.v_pii AS SELECT ssn FROM shop.customers_pii",
                            "CREATE OR REPLACE VIEW shop.v_order_ids AS SELECT id FROM shop.orders",
                            "CREATE OR REPLACE FUNCTION shop.f_pii_count() RETURNS INT READS SQL DATA"
                            " RETURN (SELECT count(*) FROM shop.customers_pii)",
                            "CREATE OR REPLACE VIEW shop.v_fn AS SELECT shop.f_pii_count() AS n",
                            "GRANT SELECT ON shop.v_fn TO billing_rw@'%'",
                            "GRANT SELECT ON shop.v_pii TO billing_rw@'%'",
                            "GRANT SELECT ON shop.v_order_ids TO billing_rw@'%'"}) {
      const MyResult r = mysql_exec(root_.get(), sql);
      ASSERT_TRUE(r.ok) << sql << ": " << r.error.describe();
    }
  }

  void TearDown() override {
    if (root_) {
      for (const char* sql : {"REVOKE ALL PRIVILEGES ON shop.v_late FROM billing_rw@'%'",
                              "REVOKE ALL PRIVILEGES ON shop.v_touch FROM billing_rw@'%'",
                              "DROP VIEW IF EXISTS shop.v_late", "DROP VIEW IF EXISTS shop.v_touch",
                              "REVOKE SELECT ON shop.v_fn FROM billing_rw@'%'", "DROP VIEW IF EXISTS shop.v_fn",
                              "DROP FUNCTION IF EXISTS shop.f_pii_count",
                              "REVOKE SELECT ON shop.v_pii FROM billing_rw@'%'",
                              "REVOKE SELECT ON shop.v_order_ids FROM billing_rw@'%'",
                              "DROP VIEW IF EXISTS shop.v_pii", "DROP VIEW IF EXISTS shop.v_order_ids"}) {
        mysql_exec(root_.get(), sql);
      }
    }
    MysqlProxyTest::TearDown();
  }

  std::unique_ptr<sql::Connection> root_;
};

// Polls `done` every 100 ms for at most 30 s (a refresh is asynchronous; the cap only
// bounds a failing test, it is not a timing requirement).
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

TEST_F(MysqlViews, ViewOverDeniedTableIsDeniedThroughTheProxy) {
  // Without the proxy the view leaks: the backend user may read it (definer's rights).
  {
    MyError err;
    auto direct = mysql_connect(my_direct_target("billing_rw"), &err);
    ASSERT_TRUE(direct) << err.describe();
    const MyResult r = mysql_exec(direct.get(), "SELECT * FROM v_pii");
    ASSERT_TRUE(r.ok) << r.error.describe();
  }
  MysqlProxyOptions opts;
  opts.billing_policy = kBillingPolicy;
  opts.log_level = "info";
  opts.backend_extra = "      metadata: {user: segproxy_meta, password_file: \"" +
                       env().my_secret_file("segproxy_meta") + "\"}\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));

  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe() << "\n" << proxy_.log();

  const MyResult pii = mysql_exec(conn.get(), "SELECT * FROM v_pii");
  EXPECT_FALSE(pii.ok) << "view over customers_pii allowed\n" << proxy_.log();
  EXPECT_EQ(pii.error.code, 1142) << pii.error.describe();
  EXPECT_NE(pii.error.message.find("customers_pii"), std::string::npos) << pii.error.describe();
  const MyResult qualified = mysql_exec(conn.get(), "SELECT ssn FROM shop.v_pii");
  EXPECT_EQ(qualified.error.code, 1142) << qualified.error.describe();

  // A definition that calls a stored function cannot be reduced to tables: fail closed.
  const MyResult fn = mysql_exec(conn.get(), "SELECT * FROM v_fn");
  EXPECT_FALSE(fn.ok) << "view calling a stored function allowed";
  EXPECT_EQ(fn.error.code, 1142) << fn.error.describe();
  EXPECT_NE(fn.error.message.find("not understood"), std::string::npos) << fn.error.describe();

  const MyResult orders = mysql_exec(conn.get(), "SELECT * FROM orders");
  EXPECT_TRUE(orders.ok) << orders.error.describe();
  const MyResult ids = mysql_exec(conn.get(), "SELECT count(*) FROM v_order_ids");
  EXPECT_TRUE(ids.ok) << ids.error.describe();

  const std::string log = proxy_.log();
  EXPECT_NE(log.find("views.loaded"), std::string::npos) << log;
  EXPECT_EQ(log.find("views.load_failed"), std::string::npos) << log;
  EXPECT_NE(log.find("views.definition_not_understood"), std::string::npos) << log;
}

TEST_F(MysqlViews, DdlThroughTheProxyRefreshesLearnedViewsWithoutATimer) {
  // Two views billing_rw may replace (CREATE VIEW + DROP on them), both over orders.
  for (const char* sql : {"CREATE OR REPLACE VIEW shop.v_late AS SELECT id FROM shop.orders",
                          "CREATE OR REPLACE VIEW shop.v_touch AS SELECT id FROM shop.orders",
                          "GRANT SELECT, CREATE VIEW, DROP ON shop.v_late TO billing_rw@'%'",
                          "GRANT SELECT, CREATE VIEW, DROP ON shop.v_touch TO billing_rw@'%'"}) {
    const MyResult r = mysql_exec(root_.get(), sql);
    ASSERT_TRUE(r.ok) << sql << ": " << r.error.describe();
  }
  MysqlProxyOptions opts;
  opts.billing_policy =
      "    rules:\n"
      "      - {id: shop-read, tables: [\"shop.*\"], allow: [select]}\n"
      "      - {id: own-views, tables: [shop.v_late, shop.v_touch], allow: [select, alter]}\n"
      "      - {id: no-pii, tables: [shop.customers_pii], deny: [all]}\n"
      "    statements: [transaction, session_safe, prepare, ddl]\n";
  opts.log_level = "info";
  // refresh: 0 = learned at start, at reload and after DDL only: no timer can explain a
  // change below.
  opts.backend_extra = "      metadata: {user: segproxy_meta, password_file: \"" +
                       env().my_secret_file("segproxy_meta") + "\", refresh: 0}\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));

  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe() << "\n" << proxy_.log();
  const auto read_late = [&] { return mysql_exec(conn.get(), "SELECT count(*) FROM v_late"); };
  {
    const MyResult r = read_late();
    ASSERT_TRUE(r.ok) << "v_late reads orders: " << r.error.describe() << "\n" << proxy_.log();
  }

  // Redefined outside the proxy to read customers_pii: the proxy cannot know yet (no
  // timer, no DDL through it), so it still judges v_late by its old definition.
  {
    const MyResult r =
        mysql_exec(root_.get(), "CREATE OR REPLACE VIEW shop.v_late AS SELECT ssn AS id FROM shop.customers_pii");
    ASSERT_TRUE(r.ok) << r.error.describe();
    const MyResult stale = read_late();
    ASSERT_TRUE(stale.ok) << "refreshed without DDL through the proxy (refresh: 0)? " << stale.error.describe();
  }

  // Any DDL let through by a session makes the loader read the catalog again.
  {
    const MyResult ddl = mysql_exec(conn.get(), "CREATE OR REPLACE VIEW v_touch AS SELECT id FROM orders");
    ASSERT_TRUE(ddl.ok) << ddl.error.describe() << "\n" << proxy_.log();
  }
  MyResult denied;
  EXPECT_TRUE(eventually([&] {
    denied = read_late();
    return !denied.ok;
  })) << "v_late (now over customers_pii) still allowed after DDL through the proxy\n"
      << proxy_.log();
  EXPECT_EQ(denied.error.code, 1142) << denied.error.describe();
  EXPECT_NE(denied.error.message.find("customers_pii"), std::string::npos) << denied.error.describe();

  // The segment replaces the view to read an allowed table again, through the proxy.
  {
    const MyResult ddl = mysql_exec(conn.get(), "CREATE OR REPLACE VIEW v_late AS SELECT id FROM orders");
    ASSERT_TRUE(ddl.ok) << ddl.error.describe() << "\n" << proxy_.log();
  }
  MyResult allowed;
  EXPECT_TRUE(eventually([&] {
    allowed = read_late();
    return allowed.ok;
  })) << "v_late (over orders again) still denied: " << allowed.error.describe() << "\n"
      << proxy_.log();
  EXPECT_EQ(proxy_.log().find("views.load_failed"), std::string::npos) << proxy_.log();
}

}  // namespace
}  // namespace segproxy::it
