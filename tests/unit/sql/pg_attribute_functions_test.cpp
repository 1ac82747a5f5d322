// Attribute notation: `x.f` / `(expr).f` is f(x) in PostgreSQL when x's row type has no
// column f. With the database's set of such functions (learned by daemon/catalog/view_loader)
// the classifier reports those references as calls, so the function policy applies.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "authz/sql/pg_classifier.hpp"
#include "pg_test_support.hpp"

namespace segproxy::authz::sql {
namespace {

using test::describe;

const std::set<std::string, std::less<>> kFunctions = {"leak_pii", "full_name", "Mixed"};

std::string with_set(std::string_view sql) {
  ClassifierOptions o;
  o.attribute_functions = &kFunctions;
  return describe(classify_pg(sql, o));
}

TEST(PgAttributeFunctions, QualifiedColumnNamedLikeAFunctionIsACall) {
  EXPECT_EQ(with_set("select o.leak_pii from orders o"), "Dml Select:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select orders.leak_pii from orders"), "Dml Select:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select public.orders.leak_pii from public.orders"), "Dml Select:public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select O.LEAK_PII from orders o"), "Dml Select:~public.orders fn:leak_pii");
}

TEST(PgAttributeFunctions, AnywhereInTheStatement) {
  EXPECT_EQ(with_set("select 1 from orders o where o.leak_pii is not null"), "Dml Select:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select id from orders o order by o.leak_pii"), "Dml Select:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("update orders o set note = 'x' returning o.leak_pii"),
            "Dml Select:~public.orders Update:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select (select c.full_name from customers c limit 1)"), "Dml Select:~public.customers fn:full_name");
}

TEST(PgAttributeFunctions, FieldSelectionOnARowIsACallToo) {
  EXPECT_EQ(with_set("select (o).leak_pii from orders o"), "Dml Select:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select (o.*).leak_pii from orders o"), "Dml Select:~public.orders fn:leak_pii");
  EXPECT_EQ(with_set("select (row(1)::orders).leak_pii"), "Dml fn:leak_pii");
}

TEST(PgAttributeFunctions, NamesAreCaseSensitiveAsStored) {
  EXPECT_EQ(with_set("select o.\"Mixed\" from orders o"), "Dml Select:~public.orders fn:Mixed");
  EXPECT_EQ(with_set("select o.mixed from orders o"), "Dml Select:~public.orders");
}

TEST(PgAttributeFunctions, OnePartNamesStarsAndOtherNamesStayColumns) {
  EXPECT_EQ(with_set("select leak_pii from orders"), "Dml Select:~public.orders");  // never a call
  EXPECT_EQ(with_set("select o.id, o.* from orders o"), "Dml Select:~public.orders");
  EXPECT_EQ(with_set("select (o).id from orders o"), "Dml Select:~public.orders");
  // Assignment targets are columns/fields, never calls.
  EXPECT_EQ(with_set("update orders set leak_pii = 1"), "Dml Update:~public.orders");
}

TEST(PgAttributeFunctions, WithoutTheSetNothingChanges) {
  EXPECT_EQ(describe("select o.leak_pii from orders o"), "Dml Select:~public.orders");
  const std::set<std::string, std::less<>> empty;
  ClassifierOptions o;
  o.attribute_functions = &empty;
  EXPECT_EQ(describe(classify_pg("select o.leak_pii from orders o", o)), "Dml Select:~public.orders");
}

}  // namespace
}  // namespace segproxy::authz::sql
