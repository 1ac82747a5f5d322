// Emergency grants (issue 18 part 2, docs/admin.md "Break-glass grants") on PostgreSQL:
// segproxyctl grant / grants / ungrant against a real proxy and PostgreSQL. A grant
// allows a statement the policy refuses, only for the matching identity, and the
// statement's record carries grant_id; it expires by itself (admin.grant_expired) and the
// live session loses it at its next statement; it survives a restart; a revocation wins.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/admin_fixture.hpp"
#include "support/metrics_scrape.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;
constexpr const char* kBillingSpiffe = "spiffe://example.org/ns/billing/sa/api";
constexpr const char* kDenied = "SELECT count(*) FROM customers_pii";

// Both segments may read orders only.
ProxyConfigOptions restrictive() {
  ProxyConfigOptions o;
  const std::string policy =
      "    rules:\n"
      "      - {id: read-orders, tables: [public.orders], allow: [select]}\n"
      "    statements: [transaction, session_safe]\n";
  o.billing_policy = policy;
  o.reporting_policy = policy;
  return o;
}

// The first line of `segproxyctl grant`'s answer is the grant id.
std::string grant_id_of(const ProcResult& r) { return r.out.substr(0, r.out.find('\n')); }

class PgGrantTest : public AdminTest {
 protected:
  ProcResult grant(const std::string& ttl, const std::string& who = "--identity",
                   const std::string& value = kBillingSpiffe) {
    return ctl({"grant", who, value, "--tables", "customers_pii", "--ops", "select", "--ttl", ttl, "--reason",
                "INC-42 read pii to reconcile"});
  }
};

TEST_F(PgGrantTest, GrantAllowsADeniedStatementForTheMatchingIdentityOnlyAndItsRecordCarriesTheGrantId) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(restrictive()));
  auto billing = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(billing);
  auto reporting = Connect(ClientCert::Cn);
  ASSERT_PG_CONNECTED(reporting);
  ASSERT_FALSE(pg_exec(billing.get(), kDenied).ok);

  const ProcResult g = grant("1h");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = grant_id_of(g);
  ASSERT_EQ(id.size(), 12u) << g.describe();

  const QueryOutcome allowed = pg_exec(billing.get(), kDenied);
  EXPECT_TRUE(allowed.ok) << allowed.error;
  EXPECT_EQ(allowed.value, "3");
  EXPECT_FALSE(pg_exec(reporting.get(), kDenied).ok) << "a grant reached an identity it does not name";
  EXPECT_TRUE(pg_exec(billing.get(), "SELECT count(*) FROM orders").ok);

  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "statement.decision" && r.statement == kDenied && r.decision == "allow" && r.grant_id == id;
  }, 10s)) << "no allowed decision record carrying grant_id " << id;
  const AuditLog log = read_audit_log(audit_dir_);
  EXPECT_EQ(records_where(log, [&](const audit::AuditRecord& r) {
              return r.event == "admin.grant" && r.grant_id == id && r.reason == "INC-42 read pii to reconcile";
            }).size(), 1u);
  // Statements the rules allow carry no grant_id, nor do refusals.
  EXPECT_TRUE(records_where(log, [&](const audit::AuditRecord& r) {
                return r.event == "statement.decision" && !r.grant_id.empty() &&
                       (r.statement != kDenied || r.decision != "allow");
              }).empty());
  EXPECT_EQ(sample(body_of(http_get(metrics_port_, "/metrics")), "segproxy_grants_active"), 1.0);
  const ProcResult list = ctl({"grants"});
  EXPECT_NE(list.out.find(id), std::string::npos) << list.describe();
  EXPECT_NE(list.out.find("customers_pii"), std::string::npos) << list.describe();
}

TEST_F(PgGrantTest, GrantExpiresByItselfAndTheLiveSessionLosesItAtItsNextStatement) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(restrictive()));
  auto billing = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(billing);
  const ProcResult g = grant("5s", "--segment", "billing");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = grant_id_of(g);
  ASSERT_TRUE(pg_exec(billing.get(), kDenied).ok);
  ASSERT_TRUE(pg_exec(billing.get(), kDenied).ok);  // a second time: from the decision cache, if anywhere
  // Extended protocol: a named statement Parse'd under the grant.
  PgResultPtr prepared(PQprepare(billing.get(), "granted", kDenied, 0, nullptr));
  ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK) << PQerrorMessage(billing.get());
  PgResultPtr ran(PQexecPrepared(billing.get(), "granted", 0, nullptr, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(ran.get()), PGRES_TUPLES_OK) << PQerrorMessage(billing.get());
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "admin.grant_expired" && r.grant_id == id;
  }, 30s)) << "no admin.grant_expired record";
  const QueryOutcome after = pg_exec(billing.get(), kDenied);
  EXPECT_FALSE(after.ok) << "the session kept an expired grant";
  PgResultPtr again(PQexecPrepared(billing.get(), "granted", 0, nullptr, nullptr, nullptr, 0));
  EXPECT_NE(PQresultStatus(again.get()), PGRES_TUPLES_OK) << "a statement prepared under the grant outlived it";
  EXPECT_TRUE(pg_exec(billing.get(), "SELECT 1").ok) << "the session stays usable";
  EXPECT_EQ(ctl({"grants", "--json"}).out.find(id), std::string::npos);
  EXPECT_EQ(sample(body_of(http_get(metrics_port_, "/metrics")), "segproxy_grants_active"), 0.0);
}

TEST_F(PgGrantTest, GrantSurvivesAProxyRestartAndUngrantEndsItAtTheNextStatement) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(restrictive()));
  const ProcResult g = grant("1h");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = grant_id_of(g);
  proxy_.stop();
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts_));
  auto billing = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(billing);
  EXPECT_TRUE(pg_exec(billing.get(), kDenied).ok) << "the grant was lost by the restart";
  EXPECT_NE(ctl({"grants"}).out.find(id), std::string::npos);

  const ProcResult un = ctl({"ungrant", id});
  ASSERT_EQ(un.exit_code, 0) << un.describe();
  EXPECT_FALSE(pg_exec(billing.get(), kDenied).ok) << "the session kept an ungranted grant";
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "admin.ungrant" && r.grant_id == id;
  }, 10s));
  EXPECT_NE(ctl({"ungrant", id}).exit_code, 0) << "a second ungrant of the same id must say it is gone";
}

TEST_F(PgGrantTest, RevocationWinsOverAGrant) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(restrictive()));
  auto billing = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(billing);
  ASSERT_EQ(grant("1h").exit_code, 0);
  ASSERT_TRUE(pg_exec(billing.get(), kDenied).ok);
  const ProcResult r = ctl({"revoke", "--identity", kBillingSpiffe, "--reason", "stolen key"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(pg_exec(billing.get(), kDenied).ok) << "the revoked session ran a granted statement";
  auto again = Connect(ClientCert::Spiffe);
  EXPECT_NE(PQstatus(again.get()), CONNECTION_OK) << "a grant let a revoked identity in";
  EXPECT_NE(std::string(PQerrorMessage(again.get())).find("revoked"), std::string::npos);
}

// Deliberate (docs/policy.md "Emergency grants"): a grant overrides an explicit rule deny
// of what it covers; it never allows what is never allowed (refused by the proxy itself,
// SQLSTATE 42501 and a segproxy message), nor text that does not parse.
TEST_F(PgGrantTest, GrantOverridesAnExplicitRuleDenyButNeverTheNeverAllowedStatements) {
  ProxyConfigOptions o = restrictive();
  o.billing_policy =
      "    rules:\n"
      "      - {id: read-orders, tables: [public.orders], allow: [select]}\n"
      "      - {id: no-pii, tables: [public.customers_pii], deny: [select]}\n"
      "    statements: [transaction, session_safe]\n";
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(o));
  auto billing = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(billing);
  const QueryOutcome before = pg_exec(billing.get(), kDenied);
  ASSERT_FALSE(before.ok);
  EXPECT_EQ(before.sqlstate, "42501") << before.error;
  const ProcResult g = grant("1h");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = grant_id_of(g);
  const QueryOutcome allowed = pg_exec(billing.get(), kDenied);
  ASSERT_TRUE(allowed.ok) << "the explicit deny won over the grant: " << allowed.error;
  EXPECT_EQ(allowed.value, "3");

  const ProcResult wide = ctl({"grant", "--identity", kBillingSpiffe, "--tables", "*.*", "--ops", "all", "--statements",
                               "transaction,session_safe,ddl,admin,procedural,prepare,explain,anonymous_code",
                               "--ttl", "1h", "--reason", "INC-45"});
  ASSERT_EQ(wide.exit_code, 0) << wide.describe();
  for (const char* sql : {"SET ROLE postgres", "SET SESSION AUTHORIZATION postgres", "COPY (SELECT 1) TO PROGRAM 'true'",
                          "SELECT pg_read_file('/etc/hostname')", "SELECT rolpassword FROM pg_catalog.pg_authid",
                          "ALTER SYSTEM SET work_mem = '1MB'", "CREATE EXTENSION dblink", "GRANT ALL ON orders TO PUBLIC"}) {
    const QueryOutcome r = pg_exec(billing.get(), sql);
    EXPECT_FALSE(r.ok) << "a grant allowed a never-allowed statement: " << sql;
    EXPECT_EQ(r.sqlstate, "42501") << sql << ": " << r.error;
    EXPECT_NE(r.error.find("segproxy"), std::string::npos) << sql << ": refused by the backend, not the proxy: " << r.error;
  }
  const QueryOutcome typo = pg_exec(billing.get(), "SELEC 1");
  EXPECT_FALSE(typo.ok);
  EXPECT_EQ(typo.sqlstate, "42601") << typo.error;
  EXPECT_TRUE(pg_exec(billing.get(), kDenied).ok) << "the session stays usable";
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "statement.decision" && r.statement == kDenied && r.decision == "allow" && r.grant_id == id;
  }, 60s)) << "no allowed decision record carrying grant_id " << id;
}

// Deliberate: a grant never opens a closed access window (the window is checked at login
// and at every statement before any grant is looked at).
TEST_F(PgGrantTest, GrantNeverOpensAClosedAccessWindow) {
  ProxyConfigOptions o = restrictive();
  o.billing_policy += "    windows: [{from: 2020-01-01T00:00:00Z, until: 2020-01-02T00:00:00Z}]\n";
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(o));
  const ProcResult g = ctl({"grant", "--segment", "billing", "--tables", "*.*", "--ops", "all", "--ttl", "1h",
                            "--reason", "INC-46"});
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  auto billing = Connect(ClientCert::Spiffe);
  EXPECT_NE(PQstatus(billing.get()), CONNECTION_OK) << "a grant let a session in outside its access window";
  EXPECT_NE(std::string(PQerrorMessage(billing.get())).find("window"), std::string::npos) << PQerrorMessage(billing.get());
  auto reporting = Connect(ClientCert::Cn);  // the other segment has no window: the proxy answers
  ASSERT_PG_CONNECTED(reporting);
}

TEST_F(PgGrantTest, GrantWithoutTtlOrReasonOrBeyondTheMaximumIsRefusedAndNothingIsGranted) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(restrictive(), ", max_grant_ttl: 1h"));
  const ProcResult no_ttl = ctl({"grant", "--segment", "billing", "--tables", "customers_pii", "--ops", "select",
                                 "--reason", "x"});
  EXPECT_EQ(no_ttl.exit_code, 64) << no_ttl.describe();
  const ProcResult no_reason = ctl({"grant", "--segment", "billing", "--tables", "customers_pii", "--ops", "select",
                                    "--ttl", "10m"});
  EXPECT_EQ(no_reason.exit_code, 64) << no_reason.describe();
  const ProcResult too_long = grant("2h", "--segment", "billing");
  EXPECT_EQ(too_long.exit_code, 1) << too_long.describe();
  EXPECT_NE(too_long.err.find("max_grant_ttl"), std::string::npos) << too_long.describe();
  const ProcResult bad_op = ctl({"grant", "--segment", "billing", "--tables", "customers_pii", "--ops", "selct",
                                 "--ttl", "10m", "--reason", "x"});
  EXPECT_EQ(bad_op.exit_code, 64) << bad_op.describe();
  const ProcResult no_segment = grant("10m", "--segment", "nosuch");
  EXPECT_EQ(no_segment.exit_code, 1) << no_segment.describe();
  EXPECT_NE(ctl({"grants"}).out.find("no grants"), std::string::npos);
  auto billing = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(billing);
  EXPECT_FALSE(pg_exec(billing.get(), kDenied).ok);
}

}  // namespace
}  // namespace segproxy::it
