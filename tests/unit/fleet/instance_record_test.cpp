// The instance registry record (fleet/instance_record): round trip, strict decoding,
// key layout and configuration drift.
#include "fleet/instance_record.hpp"

#include <gtest/gtest.h>

namespace segproxy::fleet {
namespace {

InstanceRecord sample(std::string name, std::string sha) {
  InstanceRecord r;
  r.instance = std::move(name);
  r.version = "0.1.0";
  r.config_sha256 = std::move(sha);
  r.listeners = {{"pg-main", "postgres", "127.0.0.1:6432"}, {"my-main", "mysql", "[::1]:3307"}};
  r.sessions = 12;
  r.started_at = 1'700'000'000;
  r.updated_at = 1'700'000'005;
  r.applied_revision = 42;
  return r;
}

TEST(InstanceRecord, EncodeDecodeRoundTrips) {
  const InstanceRecord r = sample("proxy-a", std::string(64, 'a'));
  std::string error;
  auto back = decode_instance(encode_instance(r), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, r);
}

TEST(InstanceRecord, MalformedOrIncompleteRecordsAreRefused) {
  std::string error;
  EXPECT_FALSE(decode_instance("{}", error));
  EXPECT_FALSE(decode_instance("[]", error));
  EXPECT_FALSE(decode_instance("not json", error));
  std::string s = encode_instance(sample("a", "x"));
  s.replace(s.find("\"sessions\":12"), 13, "\"sessions\":-1");
  EXPECT_FALSE(decode_instance(s, error));
}

TEST(InstanceRecord, KeysLiveBelowThePrefixInstancesFolder) {
  EXPECT_EQ(instances_prefix("/segproxy/prod"), "/segproxy/prod/instances/");
  EXPECT_EQ(instance_key("/segproxy/prod", "proxy-a"), "/segproxy/prod/instances/proxy-a");
}

TEST(InstanceRecord, DriftFlagsOnlyTheMinorityConfigHash) {
  std::vector<InstanceRecord> rs = {sample("a", "h1"), sample("b", "h1"), sample("c", "h2")};
  EXPECT_EQ(config_drift(rs), (std::vector<bool>{false, false, true}));
  rs.pop_back();
  EXPECT_EQ(config_drift(rs), (std::vector<bool>{false, false}));
  std::vector<InstanceRecord> tie = {sample("a", "h1"), sample("b", "h2")};
  EXPECT_EQ(config_drift(tie), (std::vector<bool>{false, false}));  // no majority
}

}  // namespace
}  // namespace segproxy::fleet
