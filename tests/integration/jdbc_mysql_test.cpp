// MariaDB Connector/J (2.7, Debian's libmariadb-java) through a real segproxy in front of
// the real MariaDB (issue 12 item 2.2), with the driver's DEFAULT connection options:
// connect with the client certificate (PKCS12 key store), prepared statements (client
// and server side), batches, streaming, metadata, cancel (KILL QUERY from a new
// connection of the same identity), query timeout and a refusal the session survives.
// Each test runs one scenario of tests/integration/jdbc/MariaJdbcProbe.java.
#include <gtest/gtest.h>

#include <string>

#include "support/jdbc.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

// The suite's own test database, catalog: metadata, customers_pii refused, SLEEP allowed
// (for the cancel tests).
const char* kJdbcPolicy =
    "    catalog: metadata\n"
    "    rules:\n"
    "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
    "      - {id: no-pii, tables: [shop.customers_pii], deny: [all]}\n"
    "    statements: [transaction, session_safe, prepare]\n"
    "    functions: {allow: [sleep]}\n";

class ConnectorJ : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(MysqlProxyTest::SetUp());
    if (IsSkipped()) return;  // no test environment
    SEGPROXY_IT_REQUIRE_JDBC();
    keystore_ = make_p12_keystore(dir_);
    ASSERT_FALSE(keystore_.empty());
    MysqlProxyOptions opts;
    opts.billing_policy = kJdbcPolicy;
    opts.log_level = "info";
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  ProcResult Run(const std::string& scenario, const std::string& extra = "") {
    const std::string url = connectorj_url(port_, keystore_, extra);
    return run_connectorj(scenario, url);
  }
  std::string keystore_;
};

// Connector/J sends SET sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES') at login
// (jdbcCompliantTruncation, on by default): the proxy must let it through.
TEST_F(ConnectorJ, ConnectsWithDefaultOptionsAndRunsAsSegmentUser) {
  const ProcResult r = Run("whoami");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "USER billing_rw@%")) << r.describe();
}

// The counters are the backend's SHOW SESSION STATUS of the same session.
TEST_F(ConnectorJ, ClientSidePreparedStatementsRunThroughSegproxy) {
  const ProcResult r = Run("prepared");
  expect_order_rows(r);
  EXPECT_TRUE(probe_has(r, "COM_STMT_PREPARE 0")) << r.describe();  // parameters inlined into COM_QUERY
}

// useServerPrepStmts: COM_STMT_PREPARE once, then COM_STMT_EXECUTE per execution.
TEST_F(ConnectorJ, ServerSidePreparedStatementsRunThroughSegproxy) {
  const ProcResult r = Run("prepared", "&useServerPrepStmts=true");
  expect_order_rows(r);
  EXPECT_TRUE(probe_has(r, "COM_STMT_PREPARE 1")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COM_STMT_EXECUTE 8")) << r.describe();
}

void expect_batch(const ProcResult& r) {
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "BATCH_UPDATED 50")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COUNT 50")) << r.describe();
  EXPECT_TRUE(probe_has(r, "SUM 1275")) << r.describe();
}

TEST_F(ConnectorJ, ExecuteBatchInsertsEveryRowThroughSegproxy) { expect_batch(Run("batch")); }

TEST_F(ConnectorJ, RewrittenBatchedStatementsInsertEveryRowThroughSegproxy) {
  expect_batch(Run("batch", "&rewriteBatchedStatements=true"));
}

// No COM_STMT_BULK_EXECUTE (not negotiated, docs/clients.md): one COM_STMT_EXECUTE per row.
TEST_F(ConnectorJ, ServerPreparedBatchInsertsEveryRowThroughSegproxy) {
  const ProcResult r = Run("batch", "&useServerPrepStmts=true");
  expect_batch(r);
  EXPECT_TRUE(probe_has(r, "COM_STMT_PREPARE 1")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COM_STMT_EXECUTE 50")) << r.describe();
}

TEST_F(ConnectorJ, StreamingResultSetReadsEveryRowAndSessionSurvives) {
  const ProcResult r = Run("stream");  // setFetchSize(Integer.MIN_VALUE)
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "ROWS 250")) << r.describe();
  EXPECT_TRUE(probe_has(r, "SUM 31375")) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

TEST_F(ConnectorJ, FetchSizeTenReadsEveryRowAndSessionSurvives) {
  const ProcResult r = Run("stream10");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "ROWS 250")) << r.describe();
  EXPECT_TRUE(probe_has(r, "SUM 31375")) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

TEST_F(ConnectorJ, DatabaseMetaDataTablesColumnsKeysIndexesWorkWithCatalogMetadata) {
  const ProcResult r = Run("metadata");
  EXPECT_PROBE_OK(r);
  // information_schema shows only what the backend user may see (no grant on customers_pii).
  EXPECT_TRUE(probe_has(r, "TABLE orders")) << r.describe();
  EXPECT_TRUE(probe_has(r, "TABLE order_items")) << r.describe();
  EXPECT_FALSE(probe_has(r, "TABLE customers_pii")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COLUMNS id:INT,customer:VARCHAR,amount:DECIMAL")) << r.describe();
  EXPECT_TRUE(probe_has(r, "PRIMARY_KEYS id:PRIMARY")) << r.describe();
  EXPECT_TRUE(probe_has(r, "INDEXES PRIMARY:id,order_items_order_fk:order_id")) << r.describe();
  EXPECT_TRUE(probe_has(r, "IMPORTED_KEYS order_id->orders")) << r.describe();
}

// Connector/J cancels with KILL QUERY <thread id> on a new connection: a new mTLS session
// with the same certificate, which the proxy honours for a session of the same identity.
TEST_F(ConnectorJ, StatementCancelKillsOwnQueryWith1317AndSessionSurvives) {
  const ProcResult r = Run("cancel");
  EXPECT_PROBE_OK(r);
  EXPECT_NE(r.out.find("CANCELLED state=70100 code=1317"), std::string::npos) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

// Deliberate refusal (docs/mysql.md, Drivers): Connector/J implements setQueryTimeout on
// MariaDB as SET STATEMENT max_statement_time=N FOR <query>, which the analyzer refuses
// (ERROR 1227); the statement does not run and the session stays usable.
// Connector/J's setQueryTimeout sends `SET STATEMENT max_statement_time=N FOR <query>`;
// segproxy judges it as its inner statement, so the server's timeout interrupts the query
// (ERROR 1969) and the connection stays usable.
TEST_F(ConnectorJ, SetQueryTimeoutInterruptsTheQueryWith1969AndSessionSurvives) {
  const ProcResult r = Run("timeout");
  EXPECT_PROBE_OK(r);
  EXPECT_NE(r.out.find("CANCELLED state=70100 code=1969"), std::string::npos) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

// The segment-wide alternative: the segment's limits.statement_timeout kills the query
// (ERROR 3024) and the connection stays usable.
TEST_F(ConnectorJ, SegmentStatementTimeoutGives3024AndSessionSurvives) {
  proxy_.stop();
  MysqlProxyOptions opts;
  opts.billing_policy = std::string(kJdbcPolicy) + "    limits: {statement_timeout: 1s}\n";
  opts.log_level = "info";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  const ProcResult r = Run("sleep");
  EXPECT_PROBE_OK(r);
  EXPECT_NE(r.out.find("CANCELLED state=HY000 code=3024"), std::string::npos) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

TEST_F(ConnectorJ, DeniedTableGives1142AndConnectionStaysUsable) {
  // Once as a PreparedStatement, once as a plain Statement.
  expect_denied_twice_then_usable(Run("denied"), "DENIED state=42000 code=1142");
}

}  // namespace
}  // namespace segproxy::it
