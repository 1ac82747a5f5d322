// PolicyEngine invariants of issue 12 items 1.2 and 1.4: schema/database-level DDL needs
// the operation on every relation of its scope, and anonymous code is its own class.
#include <gtest/gtest.h>

#include "authz/policy_engine.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using config::StatementClassGrant;
using config::TableOperation;

config::PolicyRule rule(std::string id, std::vector<std::string> tables, config::OperationSet allow,
                        config::OperationSet deny = 0) {
  config::PolicyRule r;
  r.id = std::move(id);
  r.tables = std::move(tables);
  r.allow = allow;
  r.deny = deny;
  return r;
}

class CodeDdlPolicy : public ::testing::Test {
 protected:
  Decision judge(const std::vector<config::PolicyRule>& rules, config::StatementClassSet classes,
                 const std::string& sql) {
    config::Config cfg;
    config::Segment s;
    s.name = "seg";
    s.databases = {"shop"};
    s.policy.rules = rules;
    s.policy.statements = classes;
    cfg.segments.emplace("seg", s);
    const PolicyEngine engine(cfg);
    return engine.evaluate("seg", sql::classify_pg(sql, sql::ClassifierOptions{}), test::utc(2026, 11, 23, 10));
  }
  const config::OperationSet all = config::kAllOperations;
  const config::StatementClassSet ddl = config::class_bit(StatementClassGrant::Ddl);
};

TEST_F(CodeDdlPolicy, ADenyOnOneRelationOfTheSchemaDeniesDropSchema) {
  const auto rules = {rule("app-all", {"app.*"}, all), rule("pii", {"app.customers_pii"}, 0, all)};
  EXPECT_TRUE(judge({rule("app-all", {"app.*"}, all)}, ddl, "DROP SCHEMA app CASCADE").allow);
  const Decision d = judge(rules, ddl, "DROP SCHEMA app CASCADE");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_id, "pii");
  EXPECT_FALSE(judge(rules, ddl, "ALTER SCHEMA app RENAME TO old_app").allow);
  EXPECT_FALSE(judge(rules, ddl, "ALTER SCHEMA app OWNER TO mallory").allow);
}

TEST_F(CodeDdlPolicy, AMoreSpecificRuleWithoutAlterDeniesDropSchema) {
  EXPECT_FALSE(judge({rule("app-all", {"app.*"}, all),
                      rule("ro", {"app.ledger"}, config::op_bit(TableOperation::Select))},
                     ddl, "DROP SCHEMA app")
                   .allow);
}

TEST_F(CodeDdlPolicy, DropSchemaNeedsARuleCoveringTheWholeSchema) {
  EXPECT_FALSE(judge({rule("one", {"app.orders"}, all)}, ddl, "DROP SCHEMA app").allow);
  EXPECT_TRUE(judge({rule("glob", {"a*.*"}, all)}, ddl, "DROP SCHEMA app").allow);
}

TEST_F(CodeDdlPolicy, DatabaseLevelDdlNeedsAlterOnEveryRelationOfEverySchema) {
  EXPECT_FALSE(judge({rule("app-all", {"app.*"}, all)}, ddl, "DROP DATABASE other").allow);
  EXPECT_FALSE(judge({rule("app-all", {"app.*"}, all)}, ddl, "ALTER DATABASE shop RENAME TO x").allow);
  EXPECT_TRUE(judge({rule("every", {"*.*"}, all)}, ddl, "ALTER DATABASE other OWNER TO me").allow);
  EXPECT_FALSE(judge({rule("every", {"*.*"}, all), rule("pii", {"x.pii"}, 0, config::op_bit(TableOperation::Alter))},
                     ddl, "DROP DATABASE other")
                   .allow);
}

TEST_F(CodeDdlPolicy, ServerReachingDdlIsNeverAllowedByTheDdlClass) {
  const config::StatementClassSet every = (config::StatementClassSet{1} << config::kStatementClassCount) - 1;
  for (const char* sql : {"CREATE EXTENSION dblink", "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw",
                          "CREATE USER MAPPING FOR CURRENT_USER SERVER s", "IMPORT FOREIGN SCHEMA p FROM SERVER s INTO public",
                          "CREATE LANGUAGE plperlu", "LOAD 'x'"}) {
    EXPECT_FALSE(judge({rule("every", {"*.*"}, all)}, every, sql).allow) << sql;
  }
}

TEST_F(CodeDdlPolicy, ProceduralNeverGrantsAnonymousCode) {
  const auto rules = {rule("every", {"*.*"}, all)};
  const config::StatementClassSet procedural = config::class_bit(StatementClassGrant::Procedural);
  const Decision d = judge(rules, procedural, "DO $$ BEGIN EXECUTE 'drop table t'; END $$");
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.reason.find("anonymous_code"), std::string::npos) << d.reason;
  EXPECT_TRUE(judge(rules, config::class_bit(StatementClassGrant::AnonymousCode), "DO $$ BEGIN NULL; END $$").allow);
  // CREATE FUNCTION with a string body needs both ddl and anonymous_code.
  const std::string create = "CREATE FUNCTION public.f() RETURNS int AS $$ select 1 $$ LANGUAGE sql";
  EXPECT_FALSE(judge(rules, ddl, create).allow);
}

TEST_F(CodeDdlPolicy, CallIsJudgedAgainstFunctionsAllow) {
  config::Config cfg;
  config::Segment s;
  s.name = "seg";
  s.databases = {"shop"};
  s.policy.rules = {rule("every", {"*.*"}, all)};
  s.policy.statements = config::class_bit(StatementClassGrant::Procedural);
  s.policy.functions.allow = {"archive_orders"};
  cfg.segments.emplace("seg", s);
  const PolicyEngine engine(cfg);
  const auto at = test::utc(2026, 11, 23, 10);
  EXPECT_TRUE(engine.evaluate("seg", sql::classify_pg("CALL archive_orders()", {}), at).allow);
  EXPECT_FALSE(engine.evaluate("seg", sql::classify_pg("CALL purge_everything()", {}), at).allow);
}

}  // namespace
}  // namespace segproxy::authz
