// A MariaDB restart (issue 20, backend failures): a live session gets an error and ends
// instead of hanging, new sessions succeed once the server is back, and the proxy keeps
// no descriptor of the dead connections.
#include <gtest/gtest.h>

#include "support/backend_restart.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

class MysqlBackendRestart : public MysqlProxyTest {};

TEST_F(MysqlBackendRestart, LiveSessionEndsWithAnErrorNewSessionsWorkAfterRestartAndNoDescriptorLeaks) {
  MyError err;
  auto idle = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(idle) << err.describe();
  auto in_txn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(in_txn) << err.describe();
  ASSERT_TRUE(mysql_exec(idle.get(), "SELECT 1").ok);
  ASSERT_TRUE(mysql_exec(in_txn.get(), "START TRANSACTION").ok);
  ASSERT_TRUE(mysql_exec(in_txn.get(), "SELECT count(*) FROM orders").ok);
  const int fds_before = open_fd_count(proxy_.pid());
  ASSERT_GT(fds_before, 0);

  const ProcResult r = restart_backend("testenv_my_restart", env().myport);
  ASSERT_EQ(r.exit_code, 0) << r.describe();

  for (sql::Connection* c : {idle.get(), in_txn.get()}) {
    const MyResult q = mysql_exec(c, "SELECT 1");
    EXPECT_FALSE(q.ok) << "a session whose backend died answered as if nothing happened";
    EXPECT_NE(q.error.code, 0);
    // Connector/C++ does not reconnect: the session stays ended.
    EXPECT_FALSE(mysql_exec(c, "SELECT 1").ok);
  }
  idle.reset();
  in_txn.reset();

  auto fresh = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(fresh) << err.describe();
  const MyResult rows = mysql_exec(fresh.get(), "SELECT count(*) FROM orders");
  EXPECT_TRUE(rows.ok) << rows.error.describe();
  fresh.reset();

  // Each of the two ended sessions held a client and a backend socket.
  const int fds_after = wait_fd_count_at_most(proxy_.pid(), fds_before - 4);
  EXPECT_LE(fds_after, fds_before - 4) << "descriptors of dead sessions are still open";
  EXPECT_TRUE(proxy_.running());
}

}  // namespace
}  // namespace segproxy::it
