// protocols/admin: the emergency-grant commands (grant, grants, ungrant): strict
// requests, canonical encoding, response round trips.
#include "protocols/admin/admin_grants.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace segproxy::protocols::admin {
namespace {

using namespace std::chrono_literals;

TimePoint at(std::string_view rfc3339) { return *parse_time(rfc3339); }

TEST(AdminGrantRequest, GrantParsesWithEveryFieldAndRoundTrips) {
  const auto r = parse_request(
      R"({"cmd":"grant","identity":"spiffe://td/a","tables":"orders,audit.*","ops":"select,update",)"
      R"("statements":"ddl","ttl":"30m","reason":"INC-42"})");
  ASSERT_TRUE(r) << r.error;
  const GrantRequest want{{SelectorKind::Identity, "spiffe://td/a"}, "orders,audit.*", "select,update", "ddl", 30min,
                          "INC-42"};
  EXPECT_EQ(*r.request, Request{want});
  const auto again = parse_request(encode_request(want));
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(*again.request, Request{want});
  EXPECT_EQ(command_name(want), "grant");
}

TEST(AdminGrantRequest, GrantRefusesCertSerialSelectorsAndMissingScope) {
  EXPECT_FALSE(parse_request(R"({"cmd":"grant","cert_serial":"0A","tables":"t","ops":"select","ttl":"1m","reason":"x"})"));
  EXPECT_FALSE(parse_request(R"({"cmd":"grant","segment":"billing","ops":"select","ttl":"1m","reason":"x"})"));
  EXPECT_FALSE(parse_request(R"({"cmd":"grant","segment":"billing","tables":"t","ttl":"1m","reason":"x"})"));
  EXPECT_FALSE(parse_request(R"({"cmd":"grant","tables":"t","ops":"select","ttl":"1m","reason":"x"})"));
  EXPECT_FALSE(parse_request(R"({"cmd":"grant","segment":"b","tables":"t","ops":"select","ttl":"0s","reason":"x"})"))
      << "a zero TTL is not a duration";
}

TEST(AdminGrantRequest, GrantsAndUngrantParse) {
  const auto list = parse_request(R"({"cmd":"grants"})");
  ASSERT_TRUE(list);
  EXPECT_TRUE(std::holds_alternative<GrantsRequest>(*list.request));
  const auto un = parse_request(R"({"cmd":"ungrant","id":"3f9c0a1b2c4d"})");
  ASSERT_TRUE(un) << un.error;
  EXPECT_EQ(*un.request, Request{UngrantRequest{"3f9c0a1b2c4d"}});
  EXPECT_FALSE(parse_request(R"({"cmd":"ungrant"})"));
  EXPECT_FALSE(parse_request(R"({"cmd":"grants","id":"x"})"));
}

template <class Result>
Result round_trip(const Result& in) {
  const std::string line = encode_response(in);
  std::string error;
  const auto env = decode_envelope(line, error);
  EXPECT_TRUE(env) << error;
  Result out{};
  if (env) {
    EXPECT_TRUE(decode_response(env->body, out, error)) << error << "\n" << line;
  }
  return out;
}

TEST(AdminGrantResponse, GrantGrantsAndUngrantRoundTrip) {
  const GrantInfo g{"3f9c0a1b2c4d",          SelectorKind::Segment, "billing", "orders", "update", "",
                    "INC-42",                at("2026-12-07T03:00:00Z"), at("2026-12-07T03:30:00Z"), 1000};
  GrantInfo h = g;
  h.id = "aaaaaaaaaaaa";
  h.statements = "ddl,explain";
  EXPECT_EQ(round_trip(GrantResult{g, std::nullopt}), (GrantResult{g, std::nullopt}));
  EXPECT_EQ(round_trip(GrantResult{g, FleetWrite{77, false}}), (GrantResult{g, FleetWrite{77, false}}));
  EXPECT_EQ(round_trip(GrantsResult{{g, h}}), (GrantsResult{{g, h}}));
  EXPECT_EQ(round_trip(GrantsResult{}), GrantsResult{});
  EXPECT_EQ(round_trip(UngrantResult{h, std::nullopt}), (UngrantResult{h, std::nullopt}));
}

}  // namespace
}  // namespace segproxy::protocols::admin
