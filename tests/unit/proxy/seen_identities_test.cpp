// daemon/session/seen_identities: the bounded memory of identities admitted since start, which a
// revoke selector is checked against (issue 12 items 3 and 4.9b).
#include "daemon/session/seen_identities.hpp"

#include <gtest/gtest.h>

namespace segproxy::proxy {
namespace {

authz::ClientIdentity cn(const std::string& name) {
  authz::ClientIdentity id;
  id.cn = name;
  id.sha256_hex = std::string(64, name.empty() ? '0' : name[0]) + name;  // distinct per name
  return id;
}

auto by_cn(const std::string& name) {
  return [name](const authz::ClientIdentity& id, const std::string&) { return id.cn == name; };
}

TEST(SeenIdentities, RemembersEachIdentityWithTheSegmentsItWasAdmittedTo) {
  SeenIdentities seen;
  seen.record(cn("a"), "billing");
  seen.record(cn("a"), "reporting");
  seen.record(cn("a"), "billing");  // no duplicate
  seen.record(cn("b"), "billing");
  const auto a = seen.matching(by_cn("a"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].segments, (std::vector<std::string>{"reporting", "billing"}));
  const auto only_billing =
      seen.matching([](const authz::ClientIdentity&, const std::string& segment) { return segment == "billing"; });
  EXPECT_EQ(only_billing.size(), 2u);
  EXPECT_TRUE(seen.matching(by_cn("nobody")).empty());
}

TEST(SeenIdentities, ForgetsTheLeastRecentlyAdmittedBeyondItsCapacity) {
  SeenIdentities seen(2);
  seen.record(cn("a"), "s");
  seen.record(cn("b"), "s");
  seen.record(cn("a"), "s");  // a is now the most recent
  seen.record(cn("c"), "s");  // evicts b
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.matching(by_cn("a")).size(), 1u);
  EXPECT_TRUE(seen.matching(by_cn("b")).empty());
  EXPECT_EQ(seen.matching(by_cn("c")).size(), 1u);
}

TEST(SeenIdentities, SegmentsPerIdentityAreBounded) {
  SeenIdentities seen;
  for (std::size_t i = 0; i < SeenIdentities::kMaxSegmentsPerIdentity + 5; ++i) {
    seen.record(cn("a"), "seg" + std::to_string(i));
  }
  const auto a = seen.matching(by_cn("a"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].segments.size(), SeenIdentities::kMaxSegmentsPerIdentity);
  EXPECT_EQ(a[0].segments.back(), "seg" + std::to_string(SeenIdentities::kMaxSegmentsPerIdentity + 4));
}

}  // namespace
}  // namespace segproxy::proxy
