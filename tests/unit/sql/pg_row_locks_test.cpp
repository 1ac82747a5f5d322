// SELECT ... FOR UPDATE/SHARE OF name: only the named FROM items are locked (each needs
// update); unnamed clauses and names PostgreSQL would refuse keep the over-strict
// "every table read" rule (row_locks_exact == false).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "authz/sql/pg_classifier.hpp"
#include "pg_test_support.hpp"

namespace segproxy::authz::sql {
namespace {

// "exact: a b" with the locked relations sorted, "all" when every read table counts,
// "none" when nothing is locked.
std::string locks(std::string_view sql) {
  const auto info = classify_pg(sql, ClassifierOptions{});
  if (!info.parse_ok || info.statements.size() != 1) return "error";
  const auto& p = info.statements[0];
  if (!p.locks_rows) return "none";
  if (!p.row_locks_exact) return p.row_locks.empty() ? "all" : "all-but-list";
  std::vector<std::string> names;
  for (const auto& t : p.row_locks) names.push_back(t.schema + "." + t.name);
  std::sort(names.begin(), names.end());
  std::string out = "exact:";
  for (const auto& n : names) out += " " + n;
  return out;
}

TEST(PgRowLocks, OfAliasLocksOnlyThatFromItem) {
  EXPECT_EQ(locks("select * from orders o join products p on p.id = o.product_id for update of o"),
            "exact: public.orders");
  EXPECT_EQ(locks("select * from orders o, products p for share of p"), "exact: public.products");
  EXPECT_EQ(locks("select * from orders o, products p for update of o, p"),
            "exact: public.orders public.products");
  EXPECT_EQ(locks("select * from orders o, products p for update of o for share of p nowait"),
            "exact: public.orders public.products");
}

TEST(PgRowLocks, OfUnaliasedRelationUsesItsUnqualifiedName) {
  EXPECT_EQ(locks("select * from public.orders join products on true for no key update of orders skip locked"),
            "exact: public.orders");
  // pg_ names are reported in both pg_catalog and the default schema: both are locked.
  EXPECT_EQ(locks("select * from pg_class for update of pg_class"), "exact: pg_catalog.pg_class public.pg_class");
}

TEST(PgRowLocks, AliasHidesTheRelationName) {
  // PostgreSQL: relation "orders" in FOR UPDATE clause not found in FROM clause.
  EXPECT_EQ(locks("select * from orders o, products p for update of orders"), "all");
}

TEST(PgRowLocks, UnnamedClauseLocksEverythingRead) {
  EXPECT_EQ(locks("select * from orders o join products p on true for update"), "all");
  EXPECT_EQ(locks("select * from orders o, products p for update of o for key share"), "all");
  EXPECT_EQ(locks("select * from orders"), "none");
}

TEST(PgRowLocks, SubqueryInFromLocksWhatItReads) {
  EXPECT_EQ(locks("select * from (select * from orders join customers on true) s, products p for update of s"),
            "exact: public.customers public.orders");
  // A WHERE subquery of the locked level is not a FROM item: not locked.
  EXPECT_EQ(locks("select * from orders o where o.id in (select order_id from order_items) for update of o"),
            "exact: public.orders");
}

TEST(PgRowLocks, LockingInsideSubqueriesIsPerLevel) {
  EXPECT_EQ(locks("select * from products p where p.id in (select product_id from orders o for update of o)"),
            "exact: public.orders");
  EXPECT_EQ(locks("select * from products p, lateral (select * from orders o for update of o) x"),
            "exact: public.orders");
  EXPECT_EQ(locks("select * from products p where p.id in (select product_id from orders for update)"), "all");
  EXPECT_EQ(locks("with x as (select * from orders o for update of o) select * from x, products"),
            "exact: public.orders");
}

TEST(PgRowLocks, NamesPostgresRefusesFallBackToEverything) {
  EXPECT_EQ(locks("select * from orders o join products p using (id) for update of o, x"), "all");  // not in FROM
  EXPECT_EQ(locks("select * from (orders o join products p using (id)) j for update of j"), "all");  // a join
  EXPECT_EQ(locks("with c as (select * from orders) select * from c, products p for update of c"), "all");
  EXPECT_EQ(locks("select * from generate_series(1, 3) g, orders o for update of g"), "all");
  EXPECT_EQ(locks("select * from orders o for update of public.o"), "all");  // must be unqualified
}

TEST(PgRowLocks, ViewsAndJoinsInsideFromAreNamedByTheirItems) {
  EXPECT_EQ(locks("select * from v_orders v join products p on true join orders o on true for update of v"),
            "exact: public.v_orders");
  EXPECT_EQ(locks("select * from (products p join orders o on true) left join customers c on true for update of c, o"),
            "exact: public.customers public.orders");
  // The locked level's own table list is unchanged.
  EXPECT_EQ(test::describe("select * from orders o join products p on true for update of o"),
            "Dml Select:~public.orders Select:~public.products");
}

TEST(PgRowLocks, DeclareAndExplainCarryTheInnerLocks) {
  EXPECT_EQ(locks("declare c cursor for select * from orders o, products p for update of o"), "exact: public.orders");
  EXPECT_EQ(locks("explain select * from orders o, products p for share of p"), "exact: public.products");
}

}  // namespace
}  // namespace segproxy::authz::sql
