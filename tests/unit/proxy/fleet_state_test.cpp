// daemon/control/fleet_state: the fleet's revocation keys, etcd values, the overlay of
// this instance's own writes and the applied-state file (docs/fleet.md).
#include "daemon/control/fleet_state.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/common/time_text.hpp"

namespace segproxy::proxy {
namespace {

using authz::Revocation;
using authz::RevocationKind;

Revocation rev(RevocationKind kind, std::string value, std::string id = "0123456789ab") {
  Revocation r;
  r.id = std::move(id);
  r.kind = kind;
  r.value = std::move(value);
  r.reason = "incident 7";
  r.created_at = *protocols::parse_time("2026-12-06T10:00:00Z");
  r.expires_at = *protocols::parse_time("2026-12-06T11:00:00Z");
  r.created_by_uid = 1000;
  return r;
}

TEST(FleetState, OneKeyPerKindAndValueBelowThePrefix) {
  const std::string k = revocation_key("/segproxy/prod", RevocationKind::Identity, "spiffe://td/x");
  EXPECT_EQ(k.rfind("/segproxy/prod/revocations/identity/", 0), 0u) << k;
  EXPECT_EQ(k.size(), std::string("/segproxy/prod/revocations/identity/").size() + 64);
  EXPECT_NE(k, revocation_key("/segproxy/prod", RevocationKind::Segment, "spiffe://td/x"));
  EXPECT_NE(k, revocation_key("/segproxy/prod", RevocationKind::Identity, "spiffe://td/y"));
}

TEST(FleetState, EtcdValueRoundTripsAndMalformedValuesAreRefused) {
  const Revocation r = rev(RevocationKind::CertSerial, "1A2B");
  std::string error;
  auto back = decode_fleet_revocation(encode_fleet_revocation(r), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, r);
  for (const std::string& bad : std::vector<std::string>{"", "{}", "not json", encode_fleet_revocation(r) + "\n" + encode_fleet_revocation(r),
                                R"({"id":"a","kind":"nope","value":"x","reason":"","created_at":"2026-12-06T10:00:00Z","created_by_uid":0})"}) {
    error.clear();
    EXPECT_FALSE(decode_fleet_revocation(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(FleetState, OpsApplyInOrderAndAPutReplacesTheSameSelector) {
  std::vector<Revocation> set{rev(RevocationKind::Identity, "a", "000000000001"),
                              rev(RevocationKind::Segment, "billing", "000000000002")};
  apply_op(set, FleetOp{FleetOp::Type::Put, rev(RevocationKind::Identity, "a", "000000000003")});
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set.back().id, "000000000003");
  Revocation del;
  del.kind = RevocationKind::Segment;
  del.value = "billing";
  apply_op(set, FleetOp{FleetOp::Type::Delete, del});
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set.front().value, "a");
  apply_op(set, FleetOp{FleetOp::Type::Delete, del});  // deleting what is gone: no change
  EXPECT_EQ(set.size(), 1u);
}

TEST(FleetState, StateFileRoundTripsWithPendingOpsInOrder) {
  FleetStateFile s;
  s.revision = 42;
  s.confirmed_at = 1796000000;
  s.pending.push_back(FleetOp{FleetOp::Type::Put, rev(RevocationKind::SpiffePrefix, "spiffe://td/ns")});
  Revocation del;
  del.kind = RevocationKind::Identity;
  del.value = "CN=x";
  s.pending.push_back(FleetOp{FleetOp::Type::Delete, del});
  std::string error;
  auto back = decode_state_file(encode_state_file(s), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, s);
}

TEST(FleetState, BrokenStateFilesAreRefusedNotGuessed) {
  for (const std::string& bad : std::vector<std::string>{"", "[]", "{\"revision\":1}", "{\"revision\":-1,\"confirmed_at\":0,\"pending\":[]}",
        "{\"revision\":1,\"confirmed_at\":0,\"pending\":[{\"op\":\"drop\"}]}",
        "{\"revision\":1,\"confirmed_at\":0,\"pending\":[{\"op\":\"put\",\"revocation\":\"{}\"}]}",
        "{\"revision\":1,\"confirmed_at\":0,\"pending\":[{\"op\":\"delete\",\"kind\":\"identity\"}]}"}) {
    std::string error;
    EXPECT_FALSE(decode_state_file(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

}  // namespace
}  // namespace segproxy::proxy
