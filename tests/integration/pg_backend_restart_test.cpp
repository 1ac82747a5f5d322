// A PostgreSQL restart (issue 20, backend failures): a live session gets a clean error
// and ends instead of hanging, new sessions succeed once the server is back, and the
// proxy keeps no descriptor of the dead connections.
#include <gtest/gtest.h>

#include "support/backend_restart.hpp"
#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

class PgBackendRestart : public ProxyTest {};

TEST_F(PgBackendRestart, LiveSessionEndsWithAnErrorNewSessionsWorkAfterRestartAndNoDescriptorLeaks) {
  PgConnPtr idle = Connect();
  ASSERT_PG_CONNECTED(idle);
  PgConnPtr in_txn = Connect();
  ASSERT_PG_CONNECTED(in_txn);
  ASSERT_TRUE(pg_exec(idle.get(), "select 1").ok);
  ASSERT_TRUE(pg_exec(in_txn.get(), "begin").ok);
  ASSERT_TRUE(pg_exec(in_txn.get(), "select count(*) from orders").ok);
  const int fds_before = open_fd_count(proxy_.pid());
  ASSERT_GT(fds_before, 0);

  const ProcResult r = restart_backend("testenv_pg_restart");
  ASSERT_EQ(r.exit_code, 0) << r.describe();

  for (PGconn* c : {idle.get(), in_txn.get()}) {
    const QueryOutcome q = pg_exec(c, "select 1");
    EXPECT_FALSE(q.ok) << "a session whose backend died answered as if nothing happened";
    EXPECT_FALSE(q.error.empty());
    EXPECT_EQ(PQstatus(c), CONNECTION_BAD) << "the proxy kept a session whose backend is gone: " << q.error;
  }
  idle.reset();
  in_txn.reset();

  PgConnPtr fresh = Connect();
  ASSERT_PG_CONNECTED(fresh);
  EXPECT_TRUE(pg_exec(fresh.get(), "select count(*) from orders").ok);
  fresh.reset();

  // Two sessions ended and one came and went: back to fewer descriptors than with two
  // live sessions (each holds a client and a backend socket).
  const int fds_after = wait_fd_count_at_most(proxy_.pid(), fds_before - 4);
  EXPECT_LE(fds_after, fds_before - 4) << "descriptors of dead sessions are still open";
  EXPECT_TRUE(proxy_.running());
}

}  // namespace
}  // namespace segproxy::it
