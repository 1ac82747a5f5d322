// authz::PreparedNames: which SQL-level prepared names a session knows (issue 12 item 1.5).
#include "authz/prepared_names.hpp"

#include <gtest/gtest.h>

namespace segproxy::authz {
namespace {

using E = sql::PreparedEffect;

TEST(PreparedNames, ExecuteOfAnUnknownNameIsRefusedWith42501) {
  const PreparedNames names;
  const auto d = names.refuse_unknown({{E::Execute, "s"}});
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->allow);
  EXPECT_EQ(d->sqlstate, "42501");
}

TEST(PreparedNames, ApplyFollowsPrepareDeallocateAndDeallocateAllInOrder) {
  PreparedNames names;
  names.apply({{E::Prepare, "a"}, {E::Prepare, "b"}, {E::Deallocate, "a"}});
  EXPECT_FALSE(names.contains("a"));
  EXPECT_TRUE(names.contains("b"));
  EXPECT_FALSE(names.refuse_unknown({{E::Execute, "b"}}).has_value());
  EXPECT_TRUE(names.refuse_unknown({{E::Execute, "a"}}).has_value());
  names.apply({{E::DeallocateAll, ""}, {E::Prepare, "c"}});
  EXPECT_FALSE(names.contains("b"));
  EXPECT_TRUE(names.contains("c"));
}

TEST(PreparedNames, EarlierStatementsOfTheSameTextCount) {
  PreparedNames names;
  names.apply({{E::Prepare, "known"}});
  EXPECT_FALSE(names.refuse_unknown({{E::Prepare, "s"}, {E::Execute, "s"}}).has_value());
  EXPECT_TRUE(names.refuse_unknown({{E::Deallocate, "known"}, {E::Execute, "known"}}).has_value());
  EXPECT_TRUE(names.refuse_unknown({{E::DeallocateAll, ""}, {E::Execute, "known"}}).has_value());
  EXPECT_TRUE(names.refuse_unknown({{E::Prepare, "s"}, {E::Deallocate, "s"}, {E::Execute, "s"}}).has_value());
}

TEST(PreparedNames, OverflowForgetsEveryNameSoExecutesFailClosed) {
  PreparedNames names;
  for (std::size_t i = 0; i < PreparedNames::kMaxNames; ++i) names.apply({{E::Prepare, "n" + std::to_string(i)}});
  EXPECT_EQ(names.size(), PreparedNames::kMaxNames);
  names.apply({{E::Prepare, "one_more"}});
  EXPECT_EQ(names.size(), 1u);
  EXPECT_TRUE(names.refuse_unknown({{E::Execute, "n0"}}).has_value());
}

}  // namespace
}  // namespace segproxy::authz
