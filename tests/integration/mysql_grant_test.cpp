// Emergency grants (issue 18 part 2, docs/admin.md "Break-glass grants") on MySQL /
// MariaDB: a grant allows a statement the policy refuses for the matching identity and
// the record carries grant_id; it expires by itself and the live session loses it at its
// next statement; it survives a restart; a revocation wins over it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "audit/statement_text.hpp"
#include "support/mysql.hpp"
#include "support/mysql_admin_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;
constexpr const char* kBillingSpiffe = "spiffe://example.org/ns/billing/sa/api";
// order_items: the backend user may read it (the proxy's rules do not grant it), so a
// grant is the only thing between the client and the row.
constexpr const char* kDenied = "SELECT sku FROM order_items WHERE order_id = 3 AND sku = 'SPROCKET-3'";

class MysqlGrantTest : public MysqlAdminTest {
 protected:
  void Start() {
    const std::string policy =
        "    rules:\n"
        "      - {id: read-orders, tables: [shop.orders], allow: [select]}\n"
        "    statements: [transaction, session_safe]\n";
    opts_.billing_policy = policy;
    opts_.reporting_policy = policy;
    ASSERT_NO_FATAL_FAILURE(StartAdminProxy(opts_));
  }
  ProcResult grant(const std::string& ttl, const std::string& who = "--identity",
                   const std::string& value = kBillingSpiffe) {
    return ctl({"grant", who, value, "--tables", "shop.order_items", "--ops", "select", "--ttl", ttl, "--reason",
                "INC-43"});
  }
  static std::string id_of(const ProcResult& r) { return r.out.substr(0, r.out.find('\n')); }
  MysqlProxyOptions opts_;
};

// The log keeps statement texts normalized (audit.statement_text default): literals are
// `?`. (This test was disabled while it compared the record with the literal text of
// kDenied, which has literals since it moved to order_items; the PostgreSQL twin's text
// has none, so it matched there.)
TEST_F(MysqlGrantTest, GrantAllowsADeniedStatementWithGrantIdThenExpiresAndTheSessionLosesIt) {
  ASSERT_NO_FATAL_FAILURE(Start());
  MyError err;
  auto billing = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(billing) << err.describe();
  auto reporting = Connect(ClientCert::Cn, &err);
  ASSERT_TRUE(reporting) << err.describe();
  ASSERT_FALSE(mysql_exec(billing.get(), kDenied).ok);

  const ProcResult g = grant("6s");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = id_of(g);
  const MyResult allowed = mysql_exec(billing.get(), kDenied);
  ASSERT_TRUE(allowed.ok) << allowed.error.describe();
  EXPECT_EQ(allowed.value(), "SPROCKET-3");
  EXPECT_TRUE(mysql_exec(billing.get(), kDenied).ok);
  // Binary protocol: COM_STMT_PREPARE under the grant.
  std::unique_ptr<sql::PreparedStatement> ps(billing->prepareStatement(kDenied));
  {
    std::unique_ptr<sql::ResultSet> rs(ps->executeQuery());
    ASSERT_TRUE(rs->next());
  }
  EXPECT_FALSE(mysql_exec(reporting.get(), kDenied).ok) << "a grant reached an identity it does not name";
  const std::string recorded = audit::normalize_statement(kDenied, "mysql");
  ASSERT_NE(recorded, kDenied) << "the recorded form must be the normalized one";
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "statement.decision" && r.statement == recorded && r.decision == "allow" && r.grant_id == id &&
           r.rule_id == "grant:" + id;
  }, 60s)) << "no allowed decision record carrying grant_id " << id << "\n" << read_audit_log(audit_dir_).describe();
  // Statements the rules allow carry no grant_id, nor do refusals.
  EXPECT_TRUE(records_where(read_audit_log(audit_dir_), [&](const audit::AuditRecord& r) {
                return r.event == "statement.decision" && !r.grant_id.empty() &&
                       (r.statement != recorded || r.decision != "allow");
              }).empty());

  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "admin.grant_expired" && r.grant_id == id;
  }, 60s)) << "no admin.grant_expired record";
  const MyResult after = mysql_exec(billing.get(), kDenied);
  EXPECT_FALSE(after.ok) << "the session kept an expired grant";
  EXPECT_EQ(after.error.code, 1142) << after.error.describe();
  try {
    std::unique_ptr<sql::ResultSet> rs(ps->executeQuery());
    ADD_FAILURE() << "a statement prepared under the grant outlived it";
  } catch (const sql::SQLException& e) {
    EXPECT_EQ(e.getErrorCode(), 1142) << e.what();
  }
  EXPECT_TRUE(mysql_exec(billing.get(), "SELECT count(*) FROM orders").ok) << "the session stays usable";
}

TEST_F(MysqlGrantTest, GrantSurvivesARestartAndLosesToARevoke) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult g = grant("1h");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  proxy_.stop();
  MysqlProxyOptions again = opts_;
  again.log_level = "info";
  again.extra_yaml += admin_yaml();
  ASSERT_NO_FATAL_FAILURE(StartProxy(again));
  MyError err;
  auto billing = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(billing) << err.describe();
  const MyResult allowed = mysql_exec(billing.get(), kDenied);
  EXPECT_TRUE(allowed.ok) << "the grant was lost by the restart: " << allowed.error.describe();

  const ProcResult r = ctl({"revoke", "--identity", kBillingSpiffe, "--reason", "stolen key"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  // The revoke returns once the revocation is in force (the session is closed with ERR
  // 1927 or refuses); no wait needed.
  EXPECT_FALSE(mysql_exec(billing.get(), kDenied).ok) << "the revoked session ran a granted statement";
  EXPECT_FALSE(Connect(ClientCert::Spiffe, &err)) << "a grant let a revoked identity in";
  EXPECT_EQ(err.code, 1045) << err.describe();
}

// Deliberate (docs/policy.md "Emergency grants"): a grant overrides an explicit rule deny
// of what it covers; it never allows what is never allowed (the proxy itself refuses:
// its message names segproxy), nor text that cannot be parsed.
TEST_F(MysqlGrantTest, GrantOverridesAnExplicitRuleDenyButNeverTheNeverAllowedStatements) {
  opts_.billing_policy =
      "    rules:\n"
      "      - {id: read-orders, tables: [shop.orders], allow: [select]}\n"
      "      - {id: no-items, tables: [shop.order_items], deny: [select]}\n"
      "    statements: [transaction, session_safe]\n";
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(opts_));
  MyError err;
  auto billing = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(billing) << err.describe();
  const MyResult before = mysql_exec(billing.get(), kDenied);
  ASSERT_FALSE(before.ok);
  EXPECT_EQ(before.error.code, 1142) << before.error.describe();
  const ProcResult g = grant("1h");
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = id_of(g);
  const MyResult allowed = mysql_exec(billing.get(), kDenied);
  ASSERT_TRUE(allowed.ok) << "the explicit deny won over the grant: " << allowed.error.describe();
  EXPECT_EQ(allowed.value(), "SPROCKET-3");

  const ProcResult wide = ctl({"grant", "--identity", kBillingSpiffe, "--tables", "*.*", "--ops", "all", "--statements",
                               "transaction,session_safe,ddl,admin,procedural,prepare,explain,anonymous_code",
                               "--ttl", "1h", "--reason", "INC-45"});
  ASSERT_EQ(wide.exit_code, 0) << wide.describe();
  for (const char* sql : {"SELECT user, password FROM mysql.user", "SET GLOBAL general_log = 1",
                          "GRANT ALL ON *.* TO billing_rw", "SELECT * FROM orders INTO OUTFILE '/tmp/segproxy-grant-it'",
                          "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE orders", "INSTALL SONAME 'x'"}) {
    const MyResult r = mysql_exec(billing.get(), sql);
    EXPECT_FALSE(r.ok) << "a grant allowed a never-allowed statement: " << sql;
    EXPECT_NE(r.error.message.find("segproxy"), std::string::npos) << sql << ": refused by the backend, not the proxy: "
                                                                   << r.error.describe();
  }
  const MyResult typo = mysql_exec(billing.get(), "xyzzy");
  EXPECT_FALSE(typo.ok);
  EXPECT_EQ(typo.error.code, 1064) << typo.error.describe();
  EXPECT_TRUE(mysql_exec(billing.get(), kDenied).ok) << "the session stays usable";
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& r) {
    return r.event == "statement.decision" && r.decision == "allow" && r.grant_id == id;
  }, 60s)) << "no allowed decision record carrying grant_id " << id;
}

// Deliberate: a grant never opens a closed access window (the window is checked at login
// and at every statement before any grant is looked at).
TEST_F(MysqlGrantTest, GrantNeverOpensAClosedAccessWindow) {
  opts_.billing_policy =
      "    rules:\n"
      "      - {id: read-orders, tables: [shop.orders], allow: [select]}\n"
      "    windows: [{from: 2020-01-01T00:00:00Z, until: 2020-01-02T00:00:00Z}]\n";
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(opts_));
  const ProcResult g = ctl({"grant", "--segment", "billing", "--tables", "*.*", "--ops", "all", "--ttl", "1h",
                            "--reason", "INC-46"});
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  MyError err;
  EXPECT_FALSE(Connect(ClientCert::Spiffe, &err)) << "a grant let a session in outside its access window";
  EXPECT_EQ(err.code, 1045) << err.describe();
  EXPECT_NE(err.message.find("window"), std::string::npos) << err.describe();
  // The other segment (no window) is unaffected: the proxy is up and answering.
  auto reporting = Connect(ClientCert::Cn, &err);
  EXPECT_TRUE(reporting) << err.describe();
}

}  // namespace
}  // namespace segproxy::it
