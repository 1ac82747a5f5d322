// pgjdbc (42.5, Debian's libpostgresql-jdbc-java) through a real segproxy in front of the
// real PostgreSQL (issue 12 item 2.2): connect with the client certificate, prepared
// statements (client and server side), batches, streaming through a portal, metadata,
// cancel, query timeout and a refusal the session survives. Each test runs one scenario
// of tests/integration/jdbc/PgJdbcProbe.java.
#include <gtest/gtest.h>

#include <string>

#include "support/fixture.hpp"
#include "support/jdbc.hpp"

namespace segproxy::it {
namespace {

// The suite's own test database, catalog: metadata, customers_pii refused.
const char* kJdbcPolicy =
    "    catalog: metadata\n"
    "    rules:\n"
    "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
    "      - {id: no-pii, tables: [public.customers_pii], deny: [all]}\n"
    "    statements: [transaction, session_safe, ddl, prepare, cursor]\n";

class Pgjdbc : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProxyTest::SetUp());
    if (IsSkipped()) return;  // no test environment
    SEGPROXY_IT_REQUIRE_JDBC();
    key_ = make_pk8_key(dir_);
    ASSERT_FALSE(key_.empty());
  }
  void Start(const char* policy = kJdbcPolicy) {
    ProxyConfigOptions opts;
    opts.billing_policy = policy;
    opts.log_level = "info";
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  ProcResult Run(const std::string& scenario, const std::string& extra = "") {
    const std::string url = pgjdbc_url(port_, key_, extra);
    return run_pgjdbc(scenario, url);
  }
  std::string key_;
};

TEST_F(Pgjdbc, ConnectsWithClientCertificateAndRunsAsSegmentRole) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("whoami");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "USER billing_rw")) << r.describe();
}

void expect_prepared_rows(const ProcResult& r) {
  expect_order_rows(r);
  // Past the threshold pgjdbc switched to a named server-side statement: a Parse of
  // S_n went through the proxy, then Bind/Execute of it.
  EXPECT_TRUE(probe_has(r, "SERVER_PREPARED true")) << r.describe();
  EXPECT_GE(probe_number(r, "NAMED_PARSES"), 1) << r.describe();
}

TEST_F(Pgjdbc, PreparedStatementsRunThroughSegproxyPastPrepareThreshold) {
  ASSERT_NO_FATAL_FAILURE(Start());
  expect_prepared_rows(Run("prepared"));
}

TEST_F(Pgjdbc, PreparedStatementsWithPrepareThresholdOneRunThroughSegproxy) {
  ASSERT_NO_FATAL_FAILURE(Start());
  expect_prepared_rows(Run("prepared", "&prepareThreshold=1"));
}

// preferQueryMode=simple: pgjdbc inlines the parameters into Query text, which the
// classifier judges like any other statement: the rows come back, the refusal holds.
TEST_F(Pgjdbc, SimpleQueryModeInlinesParametersAndPolicyStillHolds) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("prepared", "&preferQueryMode=simple");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "ROW acme 120.50")) << r.describe();
  EXPECT_TRUE(probe_has(r, "ROW initech 12.99")) << r.describe();
  EXPECT_TRUE(probe_has(r, "NAMED_PARSES 0")) << r.describe();
  expect_denied_twice_then_usable(Run("denied", "&preferQueryMode=simple"), "DENIED state=42501");
}

TEST_F(Pgjdbc, ExecuteBatchInsertsEveryRowThroughSegproxy) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("batch");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "BATCH_UPDATED 50")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COUNT 50")) << r.describe();
}

TEST_F(Pgjdbc, ReWrittenBatchedInsertsInsertEveryRowThroughSegproxy) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("batch", "&reWriteBatchedInserts=true");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "BATCH_UPDATED 50")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COUNT 50")) << r.describe();
}

TEST_F(Pgjdbc, FetchSizeStreamsEveryRowThroughPortalWithRowLimit) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("stream");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "ROWS 250")) << r.describe();
  EXPECT_TRUE(probe_has(r, "SUM 31375")) << r.describe();
  // 250 rows, 10 per Execute: at least 25 row-limited Executes of the portal.
  EXPECT_GE(probe_number(r, "ROW_LIMITED_EXECUTES"), 25) << r.describe();
}

TEST_F(Pgjdbc, DatabaseMetaDataTablesColumnsPrimaryKeysIndexesWorkWithCatalogMetadata) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("metadata");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "TABLE customers_pii")) << r.describe();
  EXPECT_TRUE(probe_has(r, "TABLE order_items")) << r.describe();
  EXPECT_TRUE(probe_has(r, "TABLE orders")) << r.describe();
  EXPECT_TRUE(probe_has(r, "COLUMNS id:serial,customer:text,amount:numeric")) << r.describe();
  // getPrimaryKeys calls information_schema._pg_expandarray.
  EXPECT_TRUE(probe_has(r, "PRIMARY_KEYS id:orders_pkey")) << r.describe();
  EXPECT_TRUE(probe_has(r, "INDEXES order_items_pkey:id")) << r.describe();
}

// Deliberate: pg_settings is not in the metadata list (it shows server configuration), so
// pgjdbc's getImportedKeys, which reads max_index_keys from it, needs a rule naming it.
TEST_F(Pgjdbc, GetImportedKeysNeedsARuleNamingPgSettings) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult refused = Run("imported_keys");
  EXPECT_EQ(refused.exit_code, 2) << refused.describe();
  EXPECT_NE(refused.out.find("SQLEXCEPTION state=42501"), std::string::npos) << refused.describe();
  EXPECT_NE(refused.out.find("pg_catalog.pg_settings"), std::string::npos) << refused.describe();

  proxy_.stop();
  ASSERT_NO_FATAL_FAILURE(Start(
      "    catalog: metadata\n"
      "    rules:\n"
      "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
      "      - {id: settings, tables: [pg_catalog.pg_settings], allow: [select]}\n"
      "    statements: [transaction, session_safe, prepare]\n"));
  const ProcResult r = Run("imported_keys");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "IMPORTED_KEYS order_id->orders")) << r.describe();
}

// pgjdbc's cancel is a plaintext CancelRequest on a new socket; the proxy maps its key to
// the backend's. The driver reports 57014 and the connection stays usable.
TEST_F(Pgjdbc, StatementCancelFromAnotherThreadGives57014AndSessionSurvives) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("cancel");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "CANCELLED state=57014")) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

TEST_F(Pgjdbc, SetQueryTimeoutGives57014AndSessionSurvives) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("timeout");
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "CANCELLED state=57014")) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER 1")) << r.describe();
}

// Deliberate (docs/policy.md): search_path may only be ''. Connection.setSchema is
// refused with 42501 and the connection stays usable; the currentSchema connection
// property (a search_path startup parameter) is refused at connect.
TEST_F(Pgjdbc, SetSchemaIsRefusedWith42501AndConnectionStaysUsable) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("set_schema");
  EXPECT_PROBE_OK(r);
  EXPECT_NE(r.out.find("REFUSED state=42501"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("search_path"), std::string::npos) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER acme")) << r.describe();
}

TEST_F(Pgjdbc, CurrentSchemaPropertyIsRefusedAtConnect) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult r = Run("whoami", "&currentSchema=public");
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.out.find("startup parameter \"search_path\" is not allowed"), std::string::npos) << r.describe();
}

TEST_F(Pgjdbc, DeniedTableGives42501AndConnectionStaysUsable) {
  ASSERT_NO_FATAL_FAILURE(Start());
  // Once as a PreparedStatement (extended protocol), once as a plain Statement.
  expect_denied_twice_then_usable(Run("denied"), "DENIED state=42501");
}

}  // namespace
}  // namespace segproxy::it
