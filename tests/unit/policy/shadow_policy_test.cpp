// Shadow evaluation (docs/policy.md "Shadow mode"): segments in `mode: shadow` forward
// what they would deny and say so; rules with `shadow: true` decide nothing but mark what
// they would deny; absolute refusals are never shadowed. Decisions on what the real
// classifiers report; the PgGate decision cache keeps the shadow outcome.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "authz/gate/mysql_gate.hpp"
#include "authz/gate/pg_gate.hpp"
#include "authz/policy_engine.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using config::TableOperation;
using Op = TableOperation;

config::PolicyRule rule(std::string id, std::vector<std::string> tables, config::OperationSet allow,
                        config::OperationSet deny = 0, bool shadow = false) {
  config::PolicyRule r;
  r.id = std::move(id);
  r.tables = std::move(tables);
  r.allow = allow;
  r.deny = deny;
  r.shadow = shadow;
  return r;
}

config::Segment segment(std::string name, config::PolicyMode mode, std::vector<config::PolicyRule> rules) {
  config::Segment s;
  s.name = name;
  s.databases = {"shop"};
  s.policy.mode = mode;
  s.policy.rules = std::move(rules);
  s.policy.statements = config::class_bit(config::StatementClassGrant::Transaction);
  return s;
}

class ShadowPolicy : public ::testing::Test {
 protected:
  ShadowPolicy() : engine_(make()) {}

  static config::Config make() {
    config::Config cfg;
    const auto all = config::kAllOperations;
    const auto select = config::op_bit(Op::Select);
    const auto del = config::op_bit(Op::Delete);
    // Everything on orders, nothing else: judged in shadow.
    cfg.segments.emplace("trial", segment("trial", config::PolicyMode::Shadow, {rule("orders", {"public.orders"}, all)}));
    cfg.segments.at("trial").policy.functions.deny = {"pg_read_file", "dblink*"};  // server files by the deny list
    // Enforced, with a candidate deny rule under test.
    cfg.segments.emplace("live", segment("live", config::PolicyMode::Enforce,
                                         {rule("orders", {"public.orders", "public.items"}, all),
                                          rule("no-delete-items", {"public.items"}, 0, del, true)}));
    // Enforced, with a shadow rule that would grant more: it grants nothing.
    cfg.segments.emplace("tight", segment("tight", config::PolicyMode::Enforce,
                                          {rule("orders", {"public.orders"}, select),
                                           rule("maybe-items", {"public.items"}, select, 0, true)}));
    return cfg;
  }

  Decision pg(const std::string& segment, const std::string& sql) const {
    sql::ClassifierOptions o;
    return engine_.evaluate(segment, sql::classify_pg(sql, o), test::utc(2026, 11, 23, 10));
  }

  PolicyEngine engine_;
};

TEST_F(ShadowPolicy, ShadowModeForwardsWhatItWouldDenyAndNamesTheRule) {
  const Decision d = pg("trial", "SELECT * FROM public.customers");
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_TRUE(d.shadow_deny);
  EXPECT_EQ(d.shadow_rule, "");  // the default deny: no rule matched
  EXPECT_NE(d.shadow_reason.find("may not select from public.customers"), std::string::npos) << d.shadow_reason;
  const Decision c = pg("trial", "BEGIN; DELETE FROM orders; CREATE TABLE t (a int); COMMIT");
  EXPECT_TRUE(c.allow);
  EXPECT_TRUE(c.shadow_deny);
  EXPECT_EQ(c.shadow_rule, "trial.statements");  // ddl is not granted
}

TEST_F(ShadowPolicy, ShadowModeWithNothingToDenyIsAPlainAllow) {
  const Decision d = pg("trial", "SELECT * FROM orders");
  EXPECT_TRUE(d.allow);
  EXPECT_FALSE(d.shadow_deny);
  EXPECT_EQ(d.rule_id, "orders");
}

TEST_F(ShadowPolicy, ShadowModeNeverForwardsForbiddenStatements) {
  for (const char* s : {"SET ROLE postgres", "COPY orders TO PROGRAM 'cat'", "SELECT pg_read_file('/etc/passwd')",
                        "ALTER SYSTEM SET work_mem = '1MB'", "SELECT * FROM pg_authid",
                        "SELECT set_config('role', 'x', false)", "SELECT pg_ls_dir('/')", "SELECT dblink('x', 'y')"}) {
    const Decision d = pg("trial", s);
    EXPECT_FALSE(d.allow) << s;
    EXPECT_FALSE(d.shadow_deny) << s;
  }
}

TEST_F(ShadowPolicy, ShadowModeStillRefusesAForbiddenStatementAfterAShadowedOne) {
  // The first statement would only be shadow-denied; the second is never allowed.
  const Decision d = pg("trial", "SELECT * FROM customers; COPY orders TO PROGRAM 'cat'");
  EXPECT_FALSE(d.allow);
  const Decision e = pg("trial", "SELECT * FROM customers, pg_authid");
  EXPECT_FALSE(e.allow) << e.reason;
}

TEST_F(ShadowPolicy, ShadowModeRefusesParseErrors) {
  const Decision d = pg("trial", "SELEC nonsense");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.sqlstate, "42601");
}

TEST_F(ShadowPolicy, ShadowRuleDecidesNothingButMarksWhatItWouldDeny) {
  const Decision d = pg("live", "DELETE FROM items WHERE id = 1");
  EXPECT_TRUE(d.allow);
  EXPECT_TRUE(d.shadow_deny);
  EXPECT_EQ(d.shadow_rule, "no-delete-items");
  EXPECT_EQ(d.rule_id, "orders");
  const Decision s = pg("live", "SELECT * FROM items");
  EXPECT_TRUE(s.allow);
  EXPECT_FALSE(s.shadow_deny);
}

TEST_F(ShadowPolicy, ShadowRuleNeverGrants) {
  const Decision d = pg("tight", "SELECT * FROM items");
  EXPECT_FALSE(d.allow);
  EXPECT_FALSE(d.shadow_deny);
}

TEST_F(ShadowPolicy, EnforcedRefusalsInAnEnforceSegmentStayRefusals) {
  const Decision d = pg("live", "SELECT * FROM customers");
  EXPECT_FALSE(d.allow);
  EXPECT_FALSE(d.shadow_deny);
}

TEST_F(ShadowPolicy, MysqlShadowModeForwardsAndMarks) {
  sql::MysqlClassifierOptions o;
  o.current_database = "public";
  const Decision d = engine_.evaluate("trial", sql::classify_mysql("SELECT * FROM customers", o),
                                      test::utc(2026, 11, 23, 10), "public");
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_TRUE(d.shadow_deny);
  const Decision f = engine_.evaluate("trial", sql::classify_mysql("SELECT * FROM mysql.user", o),
                                      test::utc(2026, 11, 23, 10), "public");
  EXPECT_FALSE(f.allow) << "credential catalogs are never shadowed";
}

TEST_F(ShadowPolicy, PgGateCachedVerdictKeepsTheShadowOutcome) {
  proxy::PgGate gate(engine_, "live", "shop");
  const auto at = test::utc(2026, 11, 23, 10);
  const auto first = gate.check("DELETE FROM items WHERE id = 1", at);
  const auto again = gate.check("DELETE FROM items WHERE id = 2", at);  // same literal-stripped key
  for (const auto* v : {&first, &again}) {
    EXPECT_TRUE(v->decision.allow);
    EXPECT_TRUE(v->decision.shadow_deny);
    EXPECT_EQ(v->decision.shadow_rule, "no-delete-items");
  }
  const auto plain = gate.check("DELETE FROM orders WHERE id = 2", at);
  EXPECT_FALSE(plain.decision.shadow_deny);
}

TEST_F(ShadowPolicy, MysqlGateVerdictCarriesTheShadowOutcome) {
  sql::MysqlClassifierOptions o;
  const std::vector<std::string> dbs{"public"};
  proxy::MysqlGate gate(engine_, "live", dbs, o);
  const auto at = test::utc(2026, 11, 23, 10);
  for (int i = 0; i < 2; ++i) {  // second: a cache hit
    const auto v = gate.check("DELETE FROM items WHERE id = " + std::to_string(i), false, "public", at);
    EXPECT_TRUE(v.allow) << v.message;
    EXPECT_TRUE(v.shadow_deny);
    EXPECT_EQ(v.shadow_rule, "no-delete-items");
  }
}

}  // namespace
}  // namespace segproxy::authz
