// PolicyEngine over real classifications for two former known gaps:
//  - FOR UPDATE/SHARE OF name: only the named FROM items need update (row_locks_exact);
//  - attribute notation `o.f` = f(o): with the database's attribute-function names (from
//    the learned catalog, as PgGate passes them) it is a function call.
#include <gtest/gtest.h>

#include "authz/policy_engine.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using Op = config::TableOperation;

config::OperationSet ops(std::initializer_list<Op> list) {
  config::OperationSet s = 0;
  for (Op op : list) s |= config::op_bit(op);
  return s;
}

config::PolicyRule rule(std::string id, std::vector<std::string> tables, config::OperationSet allow,
                        config::OperationSet deny = 0) {
  config::PolicyRule r;
  r.id = std::move(id);
  r.tables = std::move(tables);
  r.allow = allow;
  r.deny = deny;
  return r;
}

config::Config make_config() {
  config::Config cfg;
  config::Segment billing;
  billing.name = "billing";
  billing.databases = {"shop"};
  billing.policy.rules = {
      rule("public-read", {"public.*"}, ops({Op::Select})),
      rule("orders-rw", {"public.orders", "public.order_items", "public.v_orders_rw"},
           ops({Op::Select, Op::Insert, Op::Update, Op::Delete})),
      rule("pii", {"public.customers_pii"}, 0, config::kAllOperations),
  };
  cfg.segments.emplace("billing", billing);
  config::Segment trusted = billing;
  trusted.name = "trusted";
  trusted.policy.functions.allow = {"leak_pii"};
  cfg.segments.emplace("trusted", trusted);
  return cfg;
}

const auto kNow = test::utc(2026, 6, 1, 12, 0);

class PgGapsPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    ViewCatalog c = ViewCatalog::from_rows({{"public", "v_orders", "public", "orders"},
                                            {"public", "v_orders_rw", "public", "orders"}});
    c.add_attribute_function("leak_pii");
    engine_.set_views("shop", std::make_shared<const ViewCatalog>(std::move(c)));
  }
  // As PgGate does: the options point at the database's learned function names.
  Decision eval(const char* segment, std::string_view sql, bool with_catalog = true) {
    sql::ClassifierOptions o;
    o.current_database = "shop";
    const auto catalog = engine_.views("shop");
    if (with_catalog && catalog) o.attribute_functions = &catalog->attribute_functions();
    return engine_.evaluate(segment, sql::classify_pg(sql, o), kNow, "shop");
  }
  const PolicyEngine engine_{make_config()};
};

TEST_F(PgGapsPolicy, ForUpdateOfNeedsUpdateOnlyOnTheNamedItems) {
  EXPECT_TRUE(eval("billing", "select * from orders o join products p on p.id = o.product_id for update of o").allow);
  EXPECT_TRUE(eval("billing", "select * from orders, products for no key update of orders nowait").allow);
  const Decision d = eval("billing", "select * from orders o join products p on true for share of p");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_id, "public-read");
  EXPECT_EQ(d.reason, "segproxy: segment \"billing\" may not lock rows of public.products "
                      "(SELECT ... FOR UPDATE/SHARE needs update)");
  // Unnamed: every table read (products included).
  EXPECT_FALSE(eval("billing", "select * from orders o join products p on true for update").allow);
  // A name PostgreSQL refuses (here: an alias hides the table name) keeps the strict rule.
  EXPECT_FALSE(eval("billing", "select * from orders o join products p on true for update of orders").allow);
}

TEST_F(PgGapsPolicy, ForUpdateOfAViewNeedsUpdateOnTheViewAndWhatItReads) {
  EXPECT_TRUE(eval("billing", "select * from v_orders_rw v, products p for update of v").allow);
  const Decision d = eval("billing", "select * from v_orders v, products p for update of v");
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.reason.find("lock rows of public.v_orders"), std::string::npos) << d.reason;
  // Locking another item: the view is only read.
  EXPECT_TRUE(eval("billing", "select * from v_orders v, orders o for update of o").allow);
}

TEST_F(PgGapsPolicy, ForUpdateOfASubqueryLocksWhatItReads) {
  EXPECT_TRUE(eval("billing", "select * from (select * from orders) s, products for update of s").allow);
  EXPECT_FALSE(eval("billing", "select * from (select * from products) s, orders for update of s").allow);
}

TEST_F(PgGapsPolicy, AttributeNotationIsCheckedAsAFunctionCall) {
  const Decision d = eval("billing", "select o.leak_pii from orders o");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_id, "billing.functions");
  EXPECT_EQ(d.reason, "segproxy: function leak_pii is not allowed for segment \"billing\"");
  EXPECT_FALSE(eval("billing", "select (o).leak_pii from orders o").allow);
  EXPECT_TRUE(eval("billing", "select o.id from orders o").allow);
  EXPECT_TRUE(eval("trusted", "select o.leak_pii from orders o").allow);  // listed in functions.allow
  // Without the learned names (no backend.metadata) it is judged as a column: the gap.
  EXPECT_TRUE(eval("billing", "select o.leak_pii from orders o", false).allow);
}

}  // namespace
}  // namespace segproxy::authz
