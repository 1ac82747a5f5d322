// Shadow mode on the PostgreSQL path (docs/policy.md "Shadow mode"): what a shadow rule or
// a segment in `mode: shadow` would deny is forwarded (the backend runs it), recorded as
// allowed with shadow_decision: deny and shadow_rule, and counted in
// segproxy_shadow_denials_total{segment,rule}, whose exposition promtool accepts; the
// never-allowed statements are refused in shadow mode too.
#include <gtest/gtest.h>

#include "support/audit_support.hpp"
#include "support/metrics_scrape.hpp"
#include "support/policy_lifecycle.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

class PgShadow : public PolicyTest {
 protected:
  void Start(const std::string& policy) {
    metrics_port_ = free_port();
    audit_dir_ = dir_ + "/audit";
    ProxyConfigOptions opts;
    opts.billing_policy = policy;
    opts.extra_yaml = audit_yaml(audit_dir_, "statement_text: full") + "metrics: {listen: \"127.0.0.1:" +
                      std::to_string(metrics_port_) + "\"}\n";
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  std::vector<audit::AuditRecord> DecisionsFor(const std::string& needle) {
    proxy_.stop();  // everything durable and the log closed
    const AuditLog log = read_audit_log(audit_dir_);
    EXPECT_TRUE(log.result.intact()) << log.describe();
    return records_where(log, [&](const audit::AuditRecord& r) {
      return r.event == "statement.decision" && r.statement.find(needle) != std::string::npos;
    });
  }
  std::string audit_dir_;
  std::uint16_t metrics_port_ = 0;
};

TEST_F(PgShadow, ShadowRuleForwardsWhatItWouldDenyAndRecordsShadowDecision) {
  const std::string t = unique_name("it_shadow");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 3));
  ASSERT_NO_FATAL_FAILURE(Start("    rules:\n"
                                "      - {id: rw, tables: [public." + t + "], allow: [select, insert, update, delete]}\n"
                                "      - {id: no-delete, tables: [public." + t + "], deny: [delete], shadow: true}\n"
                                "    statements: [transaction, session_safe]\n"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  const QueryOutcome del = pg_exec(c.get(), "DELETE FROM public." + t + " WHERE id = 1");
  ASSERT_TRUE(del.ok) << del.error;
  EXPECT_EQ(RowCount(t), 2) << "the shadow-denied DELETE ran on the backend";
  const QueryOutcome sel = pg_exec(c.get(), "SELECT count(*) FROM public." + t);
  ASSERT_TRUE(sel.ok) << sel.error;
  const QueryOutcome role = pg_exec(c.get(), "SET ROLE postgres");
  EXPECT_FALSE(role.ok);
  EXPECT_EQ(role.sqlstate, "42501");

  const std::string metrics = body_of(http_get(metrics_port_, "/metrics"));
  EXPECT_EQ(sample(metrics, "segproxy_shadow_denials_total{segment=\"billing\",rule=\"no-delete\"}"), 1) << metrics;
  const std::string file = dir_ + "/metrics.txt";
  write_text(file, metrics);
  const ProcResult check = run_process({"sh", "-c", "promtool check metrics < \"" + file + "\""}, 30s);
  EXPECT_EQ(check.out + check.err, "") << check.describe();

  const auto dels = DecisionsFor("DELETE FROM public." + t);
  ASSERT_EQ(dels.size(), 1u);
  EXPECT_EQ(dels[0].decision, "allow");
  EXPECT_EQ(dels[0].shadow_decision, "deny");
  EXPECT_EQ(dels[0].shadow_rule, "no-delete");
  const auto sels = DecisionsFor("SELECT count(*) FROM public." + t);
  ASSERT_EQ(sels.size(), 1u);
  EXPECT_EQ(sels[0].shadow_decision, "") << "a statement the shadow rule allows carries no shadow fields";
}

TEST_F(PgShadow, ShadowSegmentForwardsUngrantedStatementsButNeverTheForbiddenOnes) {
  const std::string granted = unique_name("it_shadow_ok");
  const std::string other = unique_name("it_shadow_other");
  ASSERT_NO_FATAL_FAILURE(CreateTable(granted, 1));
  ASSERT_NO_FATAL_FAILURE(CreateTable(other, 4));
  ASSERT_NO_FATAL_FAILURE(Start("    mode: shadow\n"
                                "    rules:\n"
                                "      - {id: rw, tables: [public." + granted + "], allow: [select]}\n"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  const QueryOutcome sel = pg_exec(c.get(), "SELECT count(*) FROM public." + other);
  ASSERT_TRUE(sel.ok) << sel.error;
  EXPECT_EQ(sel.value, "4");
  for (const char* forbidden : {"SET ROLE postgres", "COPY (SELECT 1) TO PROGRAM 'true'",
                                "SELECT pg_read_file('/etc/hostname')", "ALTER SYSTEM SET work_mem = '1MB'"}) {
    const QueryOutcome q = pg_exec(c.get(), forbidden);
    EXPECT_FALSE(q.ok) << forbidden;
  }
  const std::string metrics = body_of(http_get(metrics_port_, "/metrics"));
  EXPECT_EQ(sample(metrics, "segproxy_shadow_denials_total{segment=\"billing\",rule=\"\"}"), 1) << metrics;
  const auto recs = DecisionsFor("SELECT count(*) FROM public." + other);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].decision, "allow");
  EXPECT_EQ(recs[0].shadow_decision, "deny");
  EXPECT_EQ(recs[0].shadow_rule, "");
}

}  // namespace
}  // namespace segproxy::it
