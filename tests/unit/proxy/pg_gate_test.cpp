// PgGate follows the engine's learned catalog: the attribute-notation function
// names it passes to the classifier, and cached decisions voided when they change.
#include "authz/gate/pg_gate.hpp"

#include <gtest/gtest.h>

#include <chrono>

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
  cfg.segments.emplace("billing", billing);
  return cfg;
}

std::shared_ptr<const authz::ViewCatalog> catalog_with(std::initializer_list<const char*> functions) {
  authz::ViewCatalog c;
  for (const char* f : functions) c.add_attribute_function(f);
  return std::make_shared<const authz::ViewCatalog>(std::move(c));
}

const auto kNow = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56);

TEST(PgGate, AttributeNotationFollowsTheLearnedFunctionNamesAndVoidsTheCache) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  const std::string leak = "select o.leak_pii from orders o where o.id = 1";
  EXPECT_TRUE(gate.check(leak, kNow).decision.allow);  // nothing learned: a column (the gap)
  engine.set_views("shop", catalog_with({"leak_pii"}));
  const auto denied = gate.check(leak, kNow).decision;  // the cached allow is void
  EXPECT_FALSE(denied.allow);
  EXPECT_EQ(denied.rule_id, "billing.functions");
  // Same normalised text (another literal) is served from the cache: still denied.
  EXPECT_FALSE(gate.check("select o.leak_pii from orders o where o.id = 2", kNow).decision.allow);
  EXPECT_TRUE(gate.check("select o.id from orders o", kNow).decision.allow);
  // Another database's catalog does not apply to this session.
  engine.set_views("other", catalog_with({"id"}));
  EXPECT_TRUE(gate.check("select o.id from orders o", kNow).decision.allow);
  engine.set_views("shop", catalog_with({}));
  EXPECT_TRUE(gate.check(leak, kNow).decision.allow);
}

// check_into (issue 15: one verdict reused for a thread's statements) gives what check
// gives, on a miss and on a hit, whatever the reused verdict held: an allow after a
// deny, a deny after an allow, with tables and without.
TEST(PgGate, CheckIntoAReusedVerdictEqualsCheckOnMissAndHit) {
  const authz::PolicyEngine engine(make_config());
  PgGate reference(engine, "billing", "shop");
  PgGate gate(engine, "billing", "shop");
  GateVerdict reused;
  const char* texts[] = {"select * from public.orders where id = 1", "delete from public.orders where id = 1",
                         "select * from public.orders where id = 2", "begin", "delete from public.orders where id = 3",
                         "select * from public.orders join public.customers using (id) where id = 4", "begin"};
  for (int round = 0; round < 2; ++round) {  // round 0: misses (then hits for repeats), round 1: all hits
    for (const char* text : texts) {
      SCOPED_TRACE(text);
      const GateVerdict want = reference.check(text, kNow);
      const GateVerdict& got = gate.check_into(reused, text, kNow);
      EXPECT_EQ(&got, &reused);
      EXPECT_EQ(got.decision.allow, want.decision.allow);
      EXPECT_EQ(got.decision.rule_id, want.decision.rule_id);
      EXPECT_EQ(got.decision.reason, want.decision.reason);
      EXPECT_EQ(got.decision.sqlstate, want.decision.sqlstate);
      EXPECT_EQ(got.command, want.command);
      EXPECT_EQ(got.tables, want.tables);
      EXPECT_EQ(got.transaction_control, want.transaction_control);
      EXPECT_EQ(got.fingerprint, want.fingerprint);
    }
  }
}

TEST(PgGate, RebindPicksUpTheNewEnginesCatalog) {
  const authz::PolicyEngine first(make_config());
  const authz::PolicyEngine second(make_config());
  second.set_views("shop", catalog_with({"leak_pii"}));
  PgGate gate(first, "billing", "shop");
  EXPECT_TRUE(gate.check("select o.leak_pii from orders o", kNow).decision.allow);
  gate.rebind(second);
  EXPECT_FALSE(gate.check("select o.leak_pii from orders o", kNow).decision.allow);
}

TEST(PgGate, ForUpdateOfLocksOnlyTheNamedItem) {
  config::Config cfg = make_config();
  config::PolicyRule rw;
  rw.id = "orders-rw";
  rw.tables = {"public.orders"};
  rw.allow = config::op_bit(config::TableOperation::Select) | config::op_bit(config::TableOperation::Update);
  cfg.segments.at("billing").policy.rules.push_back(rw);
  const authz::PolicyEngine engine(cfg);
  PgGate gate(engine, "billing", "shop");
  EXPECT_TRUE(gate.check("select * from orders o join products p on p.id = o.product_id for update of o", kNow)
                  .decision.allow);
  EXPECT_FALSE(gate.check("select * from orders o join products p on p.id = o.product_id for update of p", kNow)
                   .decision.allow);
}

TEST(PgGate, DuringTheWindowGraceOnlyCommitOrRollbackPass) {
  config::Config cfg = make_config();
  cfg.segments.at("billing").policy.statements = config::class_bit(config::StatementClassGrant::Transaction);
  const authz::PolicyEngine engine(cfg);
  PgGate gate(engine, "billing", "shop");
  EXPECT_TRUE(gate.check("select * from orders", kNow).decision.allow);  // cached now
  gate.set_window_grace(true);
  // What the policy allows is refused as outside the window...
  for (const char* sql : {"select * from orders", "SELECT * FROM orders", "savepoint a", "rollback to savepoint a",
                          "commit; select * from orders", "begin"}) {
    const auto d = gate.check(sql, kNow).decision;
    EXPECT_FALSE(d.allow) << sql;
    EXPECT_EQ(d.rule_id, "billing.windows") << sql;
    EXPECT_EQ(d.sqlstate, "42501") << sql;
  }
  // ...and what it does not stays refused by it.
  for (const char* sql : {"prepare transaction 'x'", "execute s"}) EXPECT_FALSE(gate.check(sql, kNow).decision.allow);
  for (const char* sql : {"commit", "COMMIT", "rollback", "end", "abort", "rollback; "}) {
    EXPECT_TRUE(gate.check(sql, kNow).decision.allow) << sql;
  }
  // The policy still applies to them: a segment without the transaction class may not.
  const authz::PolicyEngine strict(make_config());
  PgGate strict_gate(strict, "billing", "shop");
  strict_gate.set_window_grace(true);
  EXPECT_FALSE(strict_gate.check("commit", kNow).decision.allow);
}

}  // namespace
}  // namespace segproxy::proxy
