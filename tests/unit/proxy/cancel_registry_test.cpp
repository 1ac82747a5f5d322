#include <gtest/gtest.h>

#include <set>

#include "daemon/net/cancel_registry.hpp"

namespace segproxy::proxy {
namespace {

TEST(CancelRegistry, ProxySecretMapsToBackendTargetAndRealSecretStaysPrivate) {
  CancelRegistry reg;
  std::int32_t secret = reg.add({"127.0.0.1", 5432, 777, 123456, "owner"});
  auto t = reg.find(777, secret);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->backend_secret, 123456);
  EXPECT_EQ(t->port, 5432);
}

TEST(CancelRegistry, WrongSecretOrWrongPidFindsNothing) {
  CancelRegistry reg;
  std::int32_t secret = reg.add({"127.0.0.1", 5432, 777, 123456, "owner"});
  EXPECT_FALSE(reg.find(777, secret ^ 1));
  EXPECT_FALSE(reg.find(778, secret));
  // The backend's own secret is not a valid proxy key (unless equal by chance).
  if (secret != 123456) {
    EXPECT_FALSE(reg.find(777, 123456));
  }
}

TEST(CancelRegistry, RemovedSessionCannotBeCancelled) {
  CancelRegistry reg;
  std::int32_t secret = reg.add({"127.0.0.1", 5432, 1, 2, "owner"});
  reg.remove(1, secret);
  EXPECT_FALSE(reg.find(1, secret));
  EXPECT_EQ(reg.size(), 0u);
}

TEST(CancelRegistry, SecretsForTheSamePidAreDistinct) {
  CancelRegistry reg;
  std::set<std::int32_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(reg.add({"h", 1, 99, i, "owner"}));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(reg.size(), 1000u);
}

}  // namespace
}  // namespace segproxy::proxy
