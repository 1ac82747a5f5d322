// PolicyEngine + views: a view counts as every relation it reads (learned per database
// via set_views, or pinned per segment in config), recursively, fail-closed on cycles.
#include <gtest/gtest.h>

#include <thread>

#include "authz/policy_engine.hpp"
#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using config::TableOperation;
using sql::StatementClass;
using sql::TableOp;
using Op = TableOperation;

config::OperationSet ops(std::initializer_list<Op> list) {
  config::OperationSet s = 0;
  for (Op op : list) s |= config::op_bit(op);
  return s;
}

config::PolicyRule rule(std::string id, std::vector<std::string> tables,
                        config::OperationSet allow, config::OperationSet deny = 0) {
  config::PolicyRule r;
  r.id = std::move(id);
  r.tables = std::move(tables);
  r.allow = allow;
  r.deny = deny;
  return r;
}

// billing: public.* select, orders/order_items also written, customers_pii denied.
config::Config make_config() {
  config::Config cfg;
  config::Segment billing;
  billing.name = "billing";
  billing.databases = {"shop", "archive"};
  billing.policy.rules = {
      rule("reads", {"public.*"}, ops({Op::Select})),
      rule("orders-rw", {"public.orders", "public.order_items"},
           ops({Op::Select, Op::Insert, Op::Update, Op::Delete, Op::CopyTo, Op::Lock})),
      rule("v-rw", {"public.v_orders_rw"}, ops({Op::Select, Op::Insert, Op::Update})),
      rule("pii", {"public.customers_pii"}, 0, config::kAllOperations),
      rule("exports", {"public.v_pii", "public.v_orders"}, ops({Op::Select, Op::CopyTo})),
  };
  cfg.segments.emplace("billing", billing);

  config::Segment pinned = billing;  // same rules, with pins
  pinned.name = "pinned";
  pinned.policy.views = {
      {"public.v_orders", {"public.orders", "public.customers_pii"}},  // stricter than learned
      {"public.v_pii", {"public.orders"}},                             // laxer: the pin wins
      {"v_bare", {"orders"}},                                          // bare: default_schema
      {"public.loop_a", {"public.loop_b"}},
      {"public.loop_b", {"public.loop_a"}},
  };
  cfg.segments.emplace("pinned", pinned);
  return cfg;
}

std::shared_ptr<const ViewCatalog> shop_catalog() {
  return std::make_shared<const ViewCatalog>(ViewCatalog::from_rows({
      {"public", "v_pii", "public", "customers_pii"},
      {"public", "v_orders", "public", "orders"},
      {"public", "v_orders_rw", "public", "orders"},
      {"public", "v_nested", "public", "v_mid"},
      {"public", "v_mid", "public", "v_pii"},
      {"public", "v_mixed", "public", "orders"},
      {"public", "v_mixed", "public", "order_items"},
  }));
}

sql::StatementInfo select_from(std::string schema, std::string name, TableOp op = TableOp::Select,
                               bool locks = false) {
  sql::StatementPart p;
  p.klass = StatementClass::Dml;
  p.command = "SELECT";
  p.tables = {sql::TableRef{std::move(schema), std::move(name), true, op}};
  p.locks_rows = locks;
  sql::StatementInfo i;
  i.parse_ok = true;
  i.statements = {std::move(p)};
  return i;
}

const auto kNow = test::utc(2026, 6, 1, 12, 0);

class ViewPolicy : public ::testing::Test {
 protected:
  void SetUp() override { engine_.set_views("shop", shop_catalog()); }
  Decision eval(const char* segment, const sql::StatementInfo& i, const std::string& db = "shop") {
    return engine_.evaluate(segment, i, kNow, db);
  }
  const PolicyEngine engine_{make_config()};
};

TEST_F(ViewPolicy, ViewOverDeniedTableIsDeniedEvenThoughThePublicGlobAllowsTheView) {
  const Decision d = eval("billing", select_from("public", "v_pii"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_id, "pii");
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_EQ(d.reason,
            "segproxy: segment \"billing\" may not select from public.customers_pii "
            "(read by view public.v_pii)");
}

TEST_F(ViewPolicy, ViewOverGrantedTablesIsAllowedAndNamesEveryGrantingRule) {
  const Decision d = eval("billing", select_from("public", "v_orders"));
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.rule_id, "exports,orders-rw");  // the view's grant, then orders'
  EXPECT_TRUE(eval("billing", select_from("public", "v_mixed")).allow);
}

TEST_F(ViewPolicy, NestedViewsAreExpandedRecursively) {
  const Decision d = eval("billing", select_from("public", "v_nested"));
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.reason.find("public.customers_pii (read by view public.v_nested)"), std::string::npos)
      << d.reason;
}

TEST_F(ViewPolicy, TheViewItselfMustStillBeGranted) {
  // copy_to v_pii is granted on the view, but the view reads customers_pii.
  EXPECT_FALSE(eval("billing", select_from("public", "v_pii", TableOp::CopyTo)).allow);
  // copy_to through a view needs select (not copy_to) on what it reads.
  EXPECT_TRUE(eval("billing", select_from("public", "v_orders", TableOp::CopyTo)).allow);
  // The view is not granted copy_to: denied before looking inside.
  const Decision d = eval("billing", select_from("public", "v_mixed", TableOp::CopyTo));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, "segproxy: segment \"billing\" may not copy data out of public.v_mixed");
}

TEST_F(ViewPolicy, WritesThroughAViewNeedTheSameOperationOnWhatItReads) {
  EXPECT_TRUE(eval("billing", select_from("public", "v_orders_rw", TableOp::Insert)).allow);
  EXPECT_TRUE(eval("billing", select_from("public", "v_orders_rw", TableOp::Update)).allow);
  // delete is granted on orders but not on the view.
  EXPECT_FALSE(eval("billing", select_from("public", "v_orders_rw", TableOp::Delete)).allow);
}

TEST_F(ViewPolicy, RowLocksThroughAViewNeedUpdateOnWhatItReads) {
  const Decision d = eval("billing", select_from("public", "v_orders_rw", TableOp::Select, true));
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_FALSE(eval("billing", select_from("public", "v_mixed", TableOp::Select, true)).allow);
}

TEST_F(ViewPolicy, UnknownNamesAndOtherDatabasesAreJudgedByNameOnly) {
  EXPECT_TRUE(eval("billing", select_from("public", "not_a_view")).allow);
  // "archive" has no learned views: v_pii there is just a public.* name.
  EXPECT_TRUE(eval("billing", select_from("public", "v_pii"), "archive").allow);
}

TEST_F(ViewPolicy, WithoutADatabaseTheViewsOfEverySegmentDatabaseApply) {
  EXPECT_FALSE(engine_.evaluate("billing", select_from("public", "v_pii"), kNow).allow);
  EXPECT_TRUE(engine_.evaluate("billing", select_from("public", "v_orders"), kNow).allow);
}

TEST_F(ViewPolicy, SetViewsReplacesForgetsAndBumpsTheVersion) {
  const auto v0 = engine_.views_version();
  engine_.set_views("shop", std::make_shared<const ViewCatalog>(
                                ViewCatalog::from_rows({{"public", "v_pii", "public", "orders"}})));
  EXPECT_GT(engine_.views_version(), v0);
  EXPECT_TRUE(eval("billing", select_from("public", "v_pii")).allow);
  engine_.set_views("shop", nullptr);
  EXPECT_EQ(engine_.views("shop"), nullptr);
  EXPECT_TRUE(eval("billing", select_from("public", "v_nested")).allow);  // now just a name
}

TEST_F(ViewPolicy, PinsOverrideTheCatalogForTheirSegmentOnly) {
  // Stricter pin: v_orders also reads customers_pii in segment "pinned".
  EXPECT_FALSE(eval("pinned", select_from("public", "v_orders")).allow);
  EXPECT_TRUE(eval("billing", select_from("public", "v_orders")).allow);
  // Laxer pin: the config's word replaces the catalog's for that view.
  EXPECT_TRUE(eval("pinned", select_from("public", "v_pii")).allow);
  // Pins apply without any learned catalog and to bare names (default_schema).
  EXPECT_TRUE(eval("pinned", select_from("public", "v_bare"), "archive").allow);
  // Learned views expand through pinned ones: v_nested -> v_mid -> v_pii (pinned: orders).
  EXPECT_TRUE(eval("pinned", select_from("public", "v_nested")).allow);
  EXPECT_FALSE(eval("billing", select_from("public", "v_nested")).allow);
}

TEST_F(ViewPolicy, CyclicViewsAreDenied) {
  const Decision d = eval("pinned", select_from("public", "loop_a"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_id, "pinned.views");
  EXPECT_NE(d.reason.find("is cyclic"), std::string::npos) << d.reason;
}

TEST_F(ViewPolicy, TooDeeplyNestedViewsAreDenied) {
  std::vector<ViewCatalog::Row> rows;
  for (int i = 0; i < 40; ++i) {
    rows.push_back({"public", "d" + std::to_string(i), "public", "d" + std::to_string(i + 1)});
  }
  engine_.set_views("shop", std::make_shared<const ViewCatalog>(ViewCatalog::from_rows(rows)));
  const Decision d = eval("billing", select_from("public", "d0"));
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.reason.find("nested deeper than 32 levels"), std::string::npos) << d.reason;
  EXPECT_TRUE(eval("billing", select_from("public", "d20")).allow);  // 20 levels: fine
}

TEST_F(ViewPolicy, ConcurrentSetViewsAndEvaluateAreSafe) {
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) engine_.set_views(i % 2 ? "shop" : "archive", shop_catalog());
    done = true;
  });
  int evaluations = 0, denied = 0;
  for (; evaluations < 500 || !done; ++evaluations) {
    denied += eval("billing", select_from("public", "v_pii")).allow ? 0 : 1;
  }
  writer.join();
  EXPECT_EQ(denied, evaluations);  // "shop" always has a catalog where v_pii reads pii
  EXPECT_FALSE(eval("billing", select_from("public", "v_pii")).allow);
}

}  // namespace
}  // namespace segproxy::authz
