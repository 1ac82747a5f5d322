// Per source address caps: half-open connections, all connections, cancel rate.
#include "daemon/net/address_limits.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace segproxy::proxy {
namespace {

using Clock = AddressLimits::Clock;

TEST(AddressLimits, HandshakeCapRefusesOnlyTheFullAddress) {
  auto limits = std::make_shared<AddressLimits>();
  const AddressCaps caps{2, 0, 0};
  auto a1 = limits->admit("10.0.0.1", caps);
  auto a2 = limits->admit("10.0.0.1", caps);
  ASSERT_TRUE(a1.lease && a2.lease);
  auto a3 = limits->admit("10.0.0.1", caps);
  EXPECT_FALSE(a3.lease);
  EXPECT_EQ(a3.refusal, AddressLimits::Refusal::Handshakes);
  EXPECT_TRUE(limits->admit("10.0.0.2", caps).lease) << "another address is not affected";
  a1.lease.reset();  // the connection went away: its place is free
  EXPECT_TRUE(limits->admit("10.0.0.1", caps).lease);
}

TEST(AddressLimits, LoggedInConnectionsNoLongerCountAsHandshakes) {
  auto limits = std::make_shared<AddressLimits>();
  const AddressCaps caps{1, 0, 0};
  std::vector<std::shared_ptr<AddressLimits::Lease>> held;
  for (int i = 0; i < 5; ++i) {
    auto a = limits->admit("::1", caps);
    ASSERT_TRUE(a.lease) << i;
    a.lease->logged_in();
    a.lease->logged_in();  // twice is once
    held.push_back(a.lease);
  }
  EXPECT_EQ(limits->handshakes("::1"), 0u);
  EXPECT_EQ(limits->connections("::1"), 5u);
  held.clear();
  EXPECT_EQ(limits->connections("::1"), 0u);
  EXPECT_EQ(limits->tracked_addresses(), 0u) << "an address without connections is forgotten";
}

TEST(AddressLimits, ConnectionCapCountsLoggedInConnectionsToo) {
  auto limits = std::make_shared<AddressLimits>();
  const AddressCaps caps{0, 2, 0};
  auto a = limits->admit("10.0.0.1", caps);
  auto b = limits->admit("10.0.0.1", caps);
  ASSERT_TRUE(a.lease && b.lease);
  a.lease->logged_in();
  auto c = limits->admit("10.0.0.1", caps);
  EXPECT_FALSE(c.lease);
  EXPECT_EQ(c.refusal, AddressLimits::Refusal::Connections);
}

TEST(AddressLimits, ZeroCapsMeanNoCap) {
  auto limits = std::make_shared<AddressLimits>();
  std::vector<std::shared_ptr<AddressLimits::Lease>> held;
  for (int i = 0; i < 1000; ++i) held.push_back(limits->admit("10.0.0.1", AddressCaps{}).lease);
  EXPECT_TRUE(std::all_of(held.begin(), held.end(), [](const auto& l) { return l != nullptr; }));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limits->allow_cancel("10.0.0.1", AddressCaps{}, Clock::now()));
}

TEST(AddressLimits, CancelRequestsAreLimitedPerAddressPerSecond) {
  auto limits = std::make_shared<AddressLimits>();
  const AddressCaps caps{0, 0, 3};
  const auto t0 = Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits->allow_cancel("10.0.0.1", caps, t0)) << i;
  EXPECT_FALSE(limits->allow_cancel("10.0.0.1", caps, t0)) << "a fourth within the same instant";
  EXPECT_TRUE(limits->allow_cancel("10.0.0.2", caps, t0)) << "another address has its own bucket";
  EXPECT_FALSE(limits->allow_cancel("10.0.0.1", caps, t0 + std::chrono::milliseconds(200)));
  EXPECT_TRUE(limits->allow_cancel("10.0.0.1", caps, t0 + std::chrono::milliseconds(400)))
      << "refilled at 3 per second";
  // The burst never exceeds one second's worth.
  const auto later = t0 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits->allow_cancel("10.0.0.1", caps, later)) << i;
  EXPECT_FALSE(limits->allow_cancel("10.0.0.1", caps, later));
}

TEST(AddressLimits, CancelBucketsOfManyAddressesStayBounded) {
  auto limits = std::make_shared<AddressLimits>();
  const AddressCaps caps{0, 0, 1};
  for (int i = 0; i < 20000; ++i) limits->allow_cancel("10.1." + std::to_string(i), caps, Clock::now());
  EXPECT_LE(limits->tracked_addresses(), 4097u);
}


TEST(AddressLimits, ListenerHandshakeCapCountsEveryAddressOfThatListenerOnly) {
  auto limits = std::make_shared<AddressLimits>();
  AddressCaps caps;
  caps.max_listener_handshakes = 3;
  auto a = limits->admit("10.0.0.1", "pg", caps);
  auto b = limits->admit("10.0.0.2", "pg", caps);
  auto c = limits->admit("10.0.0.3", "pg", caps);
  ASSERT_TRUE(a.lease && b.lease && c.lease);
  auto d = limits->admit("10.0.0.4", "pg", caps);
  EXPECT_FALSE(d.lease) << "a fourth address over the listener's cap";
  EXPECT_EQ(d.refusal, AddressLimits::Refusal::ListenerHandshakes);
  EXPECT_EQ(limits->connections("10.0.0.4"), 0u) << "a refused connection is not counted";
  EXPECT_TRUE(limits->admit("10.0.0.4", "my", caps).lease) << "another listener has its own count";
  a.lease->logged_in();  // logged in: no longer a handshake of the listener
  EXPECT_EQ(limits->listener_handshakes("pg"), 2u);
  auto e = limits->admit("10.0.0.5", "pg", caps);
  ASSERT_TRUE(e.lease);
  a.lease.reset();  // a logged-in session ending frees no handshake place
  EXPECT_FALSE(limits->admit("10.0.0.6", "pg", caps).lease);
  b.lease.reset();  // a half-open one ending does
  EXPECT_TRUE(limits->admit("10.0.0.6", "pg", caps).lease);
}

TEST(AddressLimits, AtTheListenerCapALighterAddressEvictsTheOldestConnectionOfAnAddressWithTwoMore) {
  auto limits = std::make_shared<AddressLimits>();
  AddressCaps caps;
  caps.max_listener_handshakes = 4;
  std::vector<std::shared_ptr<AddressLimits::Lease>> leases;
  std::vector<int> evicted;
  // 10.0.0.1 holds three places, 10.0.0.2 one; every connection can be evicted.
  for (const char* address : {"10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.1"}) {
    auto a = limits->admit(address, "pg", caps);
    ASSERT_TRUE(a.lease);
    EXPECT_FALSE(a.evicted) << "room was left below the cap";
    const int index = static_cast<int>(leases.size());
    a.lease->set_evictor([&evicted, index] { evicted.push_back(index); });
    leases.push_back(a.lease);
  }
  // A new address (none in handshake): 10.0.0.1's oldest (index 0) makes room.
  auto fresh = limits->admit("10.0.0.9", "pg", caps);
  ASSERT_TRUE(fresh.lease);
  ASSERT_TRUE(fresh.evicted);
  fresh.evicted();
  EXPECT_EQ(evicted, std::vector<int>{0});
  EXPECT_EQ(limits->listener_handshakes("pg"), 4u);
  EXPECT_EQ(limits->handshakes("10.0.0.1"), 2u) << "the evicted connection's handshake place was given back";
  // 10.0.0.1's own next connection (two against at most one elsewhere) is refused.
  auto again = limits->admit("10.0.0.1", "pg", caps);
  EXPECT_FALSE(again.lease);
  EXPECT_EQ(again.refusal, AddressLimits::Refusal::ListenerHandshakes);
  // 10.0.0.2 (one) against 10.0.0.1 (two): not two more, so no eviction either.
  EXPECT_FALSE(limits->admit("10.0.0.2", "pg", caps).lease);
  // The evicted connection ending (its session closes) gives nothing back twice.
  leases[0].reset();
  EXPECT_EQ(limits->listener_handshakes("pg"), 4u);
  EXPECT_EQ(limits->handshakes("10.0.0.1"), 2u);
  EXPECT_EQ(limits->connections("10.0.0.1"), 2u);
}

TEST(AddressLimits, ConnectionsThatLoggedInOrHaveNoEvictorAreNeverEvicted) {
  auto limits = std::make_shared<AddressLimits>();
  AddressCaps caps;
  caps.max_listener_handshakes = 3;
  auto a = limits->admit("10.0.0.1", "pg", caps);
  auto b = limits->admit("10.0.0.1", "pg", caps);
  auto c = limits->admit("10.0.0.1", "pg", caps);
  ASSERT_TRUE(a.lease && b.lease && c.lease);
  bool called = false;
  a.lease->set_evictor([&called] { called = true; });
  a.lease->logged_in();  // its place is free now, and it is no longer evictable
  auto d = limits->admit("10.0.0.1", "pg", caps);
  ASSERT_TRUE(d.lease);
  EXPECT_FALSE(d.evicted);
  // b, c, d have no evictor (a session not started yet): a lighter address is refused.
  auto e = limits->admit("10.0.0.2", "pg", caps);
  EXPECT_FALSE(e.lease);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace segproxy::proxy
