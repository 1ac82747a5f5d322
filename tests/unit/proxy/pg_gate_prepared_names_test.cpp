// PgGate and SQL-level prepared statement names (issue 12 item 1.5): EXECUTE of a
// name this session has not PREPAREd through segproxy is refused (42501), whatever was
// decided for the same text before.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "authz/gate/pg_gate.hpp"

namespace segproxy::proxy {
namespace {

config::Config make_config() {
  config::Config cfg;
  config::Segment billing;
  billing.name = "billing";
  billing.databases = {"shop"};
  config::PolicyRule read;
  read.id = "public-read";
  read.tables = {"public.*"};
  read.allow = config::op_bit(config::TableOperation::Select);
  billing.policy.rules = {read};
  billing.policy.statements = config::class_bit(config::StatementClassGrant::Prepare) |
                              config::class_bit(config::StatementClassGrant::SessionSafe);
  cfg.segments.emplace("billing", billing);
  return cfg;
}

const auto kNow = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56);

TEST(StatementGatePreparedNames, ExecuteOfANameNeverPreparedIsRefused) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  const auto d = gate.check("execute nope", kNow).decision;
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_NE(d.reason.find("\"nope\""), std::string::npos) << d.reason;
  EXPECT_FALSE(gate.check("execute nope(1)", kNow).decision.allow);
  EXPECT_FALSE(gate.check("explain execute nope", kNow).decision.allow);
}

TEST(StatementGatePreparedNames, ExecuteOfAPreparedNameIsAllowedAndRefusedAgainAfterDeallocate) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  EXPECT_FALSE(gate.check("execute p", kNow).decision.allow);  // a refusal is never cached
  EXPECT_TRUE(gate.check("prepare p as select * from orders", kNow).decision.allow);
  EXPECT_TRUE(gate.check("execute p", kNow).decision.allow);
  EXPECT_TRUE(gate.check("EXECUTE P", kNow).decision.allow);  // names are folded like PostgreSQL's
  EXPECT_TRUE(gate.check("deallocate p", kNow).decision.allow);
  EXPECT_FALSE(gate.check("execute p", kNow).decision.allow);
}

TEST(StatementGatePreparedNames, DeallocateAllAndDiscardAllForgetEveryName) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  ASSERT_TRUE(gate.check("prepare a as select 1", kNow).decision.allow);
  ASSERT_TRUE(gate.check("prepare b as select 2", kNow).decision.allow);
  EXPECT_TRUE(gate.check("deallocate all", kNow).decision.allow);
  EXPECT_FALSE(gate.check("execute a", kNow).decision.allow);
  ASSERT_TRUE(gate.check("prepare c as select 3", kNow).decision.allow);
  EXPECT_TRUE(gate.check("discard all", kNow).decision.allow);
  EXPECT_FALSE(gate.check("execute c", kNow).decision.allow);
}

TEST(StatementGatePreparedNames, APrepareEarlierInTheSameTextCounts) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  EXPECT_TRUE(gate.check("prepare p as select * from orders; execute p", kNow).decision.allow);
  EXPECT_TRUE(gate.check("execute p", kNow).decision.allow);  // remembered after the text
  EXPECT_FALSE(gate.check("deallocate p; execute p", kNow).decision.allow);
  EXPECT_FALSE(gate.check("prepare q as select 1; execute r", kNow).decision.allow);
}

TEST(StatementGatePreparedNames, ARefusedPrepareLeavesTheNameUnknown) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  EXPECT_FALSE(gate.check("prepare p as delete from orders", kNow).decision.allow);
  EXPECT_FALSE(gate.check("execute p", kNow).decision.allow);
}

// Judged with a write-ahead class context (the session's, when the audit rule is gated):
// a PREPARE is remembered all the same (its verdict is session-dependent and was returned
// before the bookkeeping), and a DEALLOCATE tells the session which names its
// write-ahead tables forget (review finding, issue 14).
TEST(StatementGatePreparedNames, WithAWalContextAPrepareIsRememberedAndDeallocateNamesWhatToForget) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  const authz::wal::ClassContext ctx;
  const GateVerdict prep = gate.check("prepare p as select * from orders", kNow, &ctx);
  ASSERT_TRUE(prep.decision.allow) << prep.decision.reason;
  ASSERT_EQ(prep.wal_prepares.size(), 1u);
  EXPECT_EQ(prep.wal_prepares.front().first, "p");
  EXPECT_TRUE(gate.check("execute p", kNow, &ctx).decision.allow);
  const GateVerdict dealloc = gate.check("deallocate p", kNow, &ctx);
  ASSERT_TRUE(dealloc.decision.allow);
  EXPECT_EQ(dealloc.wal_deallocates, std::vector<std::string>{"p"});
  EXPECT_FALSE(dealloc.wal_deallocates_all);
  EXPECT_FALSE(gate.check("execute p", kNow, &ctx).decision.allow);
  EXPECT_TRUE(gate.check("deallocate all", kNow, &ctx).wal_deallocates_all);
  EXPECT_TRUE(gate.check("discard all", kNow, &ctx).wal_deallocates_all);
  EXPECT_TRUE(gate.check("select 1", kNow, &ctx).wal_deallocates.empty());
}

}  // namespace
}  // namespace segproxy::proxy
