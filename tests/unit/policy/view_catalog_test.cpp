// ViewCatalog: rows -> direct reads, recursive expansion (nested views, diamonds),
// cycle and depth guards, merge and set_reads.
#include "authz/view_catalog.hpp"

#include <gtest/gtest.h>

namespace segproxy::authz {
namespace {

RelationName rel(const std::string& s, const std::string& n) { return RelationName{s, n}; }

std::vector<std::string> names(const std::vector<RelationName>& rels) {
  std::vector<std::string> out;
  for (const auto& r : rels) out.push_back(r.display());
  return out;
}

using Strings = std::vector<std::string>;

TEST(ViewCatalog, RowsGiveDirectReadsWithoutSelfReferencesOrDuplicates) {
  const auto c = ViewCatalog::from_rows({{"public", "v", "public", "orders"},
                                         {"public", "v", "public", "v"},
                                         {"public", "v", "public", "orders"},
                                         {"public", "v", "public", "customers_pii"}});
  ASSERT_TRUE(c.contains(rel("public", "v")));
  EXPECT_EQ(names(*c.reads(rel("public", "v"))), (Strings{"public.orders", "public.customers_pii"}));
  EXPECT_FALSE(c.contains(rel("public", "orders")));
  EXPECT_EQ(c.reads(rel("other", "v")), nullptr);
  EXPECT_EQ(c.size(), 1u);
}

TEST(ViewCatalog, NestedViewsExpandRecursivelyIncludingIntermediateViews) {
  const auto c = ViewCatalog::from_rows({{"public", "top", "public", "mid"},
                                         {"public", "top", "public", "orders"},
                                         {"public", "mid", "app", "low"},
                                         {"app", "low", "public", "customers_pii"}});
  const auto ex = c.expand(rel("public", "top"));
  ASSERT_TRUE(ex.ok) << ex.error;
  EXPECT_EQ(names(ex.relations),
            (Strings{"public.mid", "app.low", "public.customers_pii", "public.orders"}));
}

TEST(ViewCatalog, DiamondIsNotACycleAndListsEachRelationOnce) {
  const auto c = ViewCatalog::from_rows({{"s", "a", "s", "b"},
                                         {"s", "a", "s", "c"},
                                         {"s", "b", "s", "d"},
                                         {"s", "c", "s", "d"},
                                         {"s", "d", "s", "t"}});
  const auto ex = c.expand(rel("s", "a"));
  ASSERT_TRUE(ex.ok) << ex.error;
  EXPECT_EQ(names(ex.relations), (Strings{"s.b", "s.d", "s.t", "s.c"}));
}

TEST(ViewCatalog, CycleIsRejectedAndNamesThePath) {
  const auto c = ViewCatalog::from_rows({{"s", "a", "s", "b"}, {"s", "b", "s", "c"},
                                         {"s", "c", "s", "a"}});
  const auto ex = c.expand(rel("s", "a"));
  EXPECT_FALSE(ex.ok);
  EXPECT_TRUE(ex.relations.empty());
  EXPECT_NE(ex.error.find("cyclic"), std::string::npos) << ex.error;
  EXPECT_NE(ex.error.find("s.a -> s.b -> s.c -> s.a"), std::string::npos) << ex.error;
}

TEST(ViewCatalog, DepthGuardAllowsExactlyMaxDepthLevels) {
  // v0 -> v1 -> ... -> vN -> base: N+1 views in a chain.
  const auto chain = [](std::size_t views) {
    ViewCatalog c;
    for (std::size_t i = 0; i + 1 < views; ++i) {
      c.add(rel("s", "v" + std::to_string(i)), rel("s", "v" + std::to_string(i + 1)));
    }
    c.add(rel("s", "v" + std::to_string(views - 1)), rel("s", "base"));
    return c;
  };
  const auto ok = chain(ViewCatalog::kMaxDepth).expand(rel("s", "v0"));
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.relations.size(), ViewCatalog::kMaxDepth);  // v1..v31 + base
  const auto deep = chain(ViewCatalog::kMaxDepth + 1).expand(rel("s", "v0"));
  EXPECT_FALSE(deep.ok);
  EXPECT_NE(deep.error.find("nested deeper than 32 levels"), std::string::npos) << deep.error;
}

TEST(ViewCatalog, ANonViewExpandsToNothing) {
  const ViewCatalog c;
  const auto ex = c.expand(rel("public", "orders"));
  EXPECT_TRUE(ex.ok);
  EXPECT_TRUE(ex.relations.empty());
}

TEST(ViewCatalog, SetReadsReplacesAndEmptyMeansReadsNothing) {
  auto c = ViewCatalog::from_rows({{"public", "v", "public", "orders"}});
  c.set_reads(rel("public", "v"), {rel("public", "a"), rel("public", "a"), rel("public", "v")});
  EXPECT_EQ(names(*c.reads(rel("public", "v"))), (Strings{"public.a"}));
  c.set_reads(rel("public", "v"), {});
  ASSERT_TRUE(c.contains(rel("public", "v")));
  EXPECT_TRUE(c.expand(rel("public", "v")).relations.empty());
}

TEST(ViewCatalog, MergeIsAUnionPerView) {
  auto a = ViewCatalog::from_rows({{"public", "v", "public", "orders"}});
  const auto b = ViewCatalog::from_rows({{"public", "v", "public", "customers_pii"},
                                         {"public", "w", "public", "orders"}});
  a.merge(b);
  EXPECT_EQ(names(*a.reads(rel("public", "v"))), (Strings{"public.orders", "public.customers_pii"}));
  EXPECT_TRUE(a.contains(rel("public", "w")));
}

TEST(ViewCatalog, LayeredLookupLetsAPinOverrideTheCatalog) {
  const auto catalog = ViewCatalog::from_rows({{"public", "v", "public", "customers_pii"},
                                               {"public", "w", "public", "v"}});
  ViewCatalog pins;
  pins.set_reads(rel("public", "v"), {rel("public", "orders")});
  const auto ex = ViewCatalog::expand(rel("public", "w"), [&](const RelationName& v, auto& out) {
    const auto* r = pins.reads(v);
    if (r == nullptr) r = catalog.reads(v);
    if (r == nullptr) return false;
    out.insert(out.end(), r->begin(), r->end());
    return true;
  });
  ASSERT_TRUE(ex.ok);
  EXPECT_EQ(names(ex.relations), (Strings{"public.v", "public.orders"}));
}

}  // namespace
}  // namespace segproxy::authz
