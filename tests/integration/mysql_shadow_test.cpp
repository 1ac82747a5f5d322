// Shadow mode on the MySQL path (docs/policy.md "Shadow mode"), the twin of
// pg_shadow_test.cpp: a segment in `mode: shadow` forwards what its policy would refuse
// (the backend answers), records it as allowed with shadow_decision: deny (shadow_rule
// empty for the default deny) and counts it in segproxy_shadow_denials_total; the
// never-allowed statements and text that does not parse are refused in shadow mode too.
// (The shadow *rule* on sysbench traffic is in mysql_shadow_replay_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/audit_support.hpp"
#include "support/metrics_scrape.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

class MysqlShadowSegment : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void Start(const std::string& policy) {
    metrics_port_ = free_port();
    audit_dir_ = dir_ + "/audit";
    MysqlProxyOptions opts;
    opts.billing_policy = policy;
    opts.log_level = "info";
    opts.extra_yaml = audit_yaml(audit_dir_, "statement_text: full") + "metrics: {listen: \"127.0.0.1:" +
                      std::to_string(metrics_port_) + "\"}\n";
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  std::vector<audit::AuditRecord> DecisionsFor(const std::string& text) {
    proxy_.stop();  // everything durable and the log closed
    const AuditLog log = read_audit_log(audit_dir_);
    EXPECT_TRUE(log.result.intact()) << log.describe();
    return records_where(log, [&](const audit::AuditRecord& r) {
      return r.event == "statement.decision" && r.statement == text;
    });
  }
  std::string audit_dir_;
  std::uint16_t metrics_port_ = 0;
};

TEST_F(MysqlShadowSegment, ShadowSegmentForwardsUngrantedStatementsButNeverTheForbiddenOnes) {
  ASSERT_NO_FATAL_FAILURE(Start("    mode: shadow\n"
                                "    rules:\n"
                                "      - {id: read-orders, tables: [shop.orders], allow: [select]}\n"));
  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  const std::string ungranted = "SELECT sku FROM order_items WHERE order_id = 3 AND sku = 'SPROCKET-3'";
  const MyResult sel = mysql_exec(conn.get(), ungranted);
  ASSERT_TRUE(sel.ok) << "shadow mode refused: " << sel.error.describe();
  EXPECT_EQ(sel.value(), "SPROCKET-3") << "the backend ran it";
  EXPECT_TRUE(mysql_exec(conn.get(), "SELECT count(*) FROM orders").ok);
  for (const char* forbidden : {"SELECT user, password FROM mysql.user", "SET GLOBAL general_log = 1",
                                "GRANT ALL ON *.* TO billing_rw", "SELECT * FROM orders INTO OUTFILE '/tmp/segproxy-shadow-it'",
                                "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE orders"}) {
    const MyResult r = mysql_exec(conn.get(), forbidden);
    EXPECT_FALSE(r.ok) << "shadowed: " << forbidden;
    EXPECT_NE(r.error.message.find("segproxy"), std::string::npos) << forbidden << ": " << r.error.describe();
  }
  const MyResult typo = mysql_exec(conn.get(), "xyzzy");
  EXPECT_FALSE(typo.ok);
  EXPECT_EQ(typo.error.code, 1064) << typo.error.describe();

  const std::string metrics = body_of(http_get(metrics_port_, "/metrics"));
  EXPECT_EQ(sample(metrics, "segproxy_shadow_denials_total{segment=\"billing\",rule=\"\"}"), 1) << metrics;
  const auto recs = DecisionsFor(ungranted);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].decision, "allow");
  EXPECT_EQ(recs[0].shadow_decision, "deny");
  EXPECT_EQ(recs[0].shadow_rule, "");
  const AuditLog log = read_audit_log(audit_dir_);
  EXPECT_TRUE(records_where(log, [](const audit::AuditRecord& r) {
                return r.event == "statement.decision" && r.decision == "deny" && !r.shadow_decision.empty();
              }).empty())
      << "a refusal carries a shadow outcome";
  EXPECT_EQ(records_where(log, [](const audit::AuditRecord& r) {
              return r.event == "statement.decision" && r.statement == "SELECT count(*) FROM orders" &&
                     r.decision == "allow" && r.shadow_decision.empty();
            }).size(),
            1u)
      << "a statement the policy allows carries no shadow fields";
}

}  // namespace
}  // namespace segproxy::it
