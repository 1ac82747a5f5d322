// The `grant_id` field of audit records (emergency grants, docs/admin.md "Break-glass
// grants"): its canonical place (right after `reason`, inside the statement fields that
// `same_as` stands for), omitted when empty, decoded back, joined back from `same_as`.
#include <gtest/gtest.h>

#include "audit/record.hpp"
#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"

namespace segproxy::audit {
namespace {

AuditRecord decision(std::string grant_id) {
  AuditRecord r;
  r.seq = 7;
  r.ts = "2026-12-07T03:00:00.000000Z";
  r.event = "statement.decision";
  r.session_id = "42";
  r.statement = "SELECT count(*) FROM customers_pii";
  r.decision = "allow";
  r.rule_id = "grant:3f9c0a1b2c4d";
  r.reason = "allowed by emergency grant 3f9c0a1b2c4d";
  r.grant_id = std::move(grant_id);
  r.prev_hash = std::string(64, '0');
  r.hash = std::string(64, '1');
  return r;
}

TEST(GrantIdRecord, GrantIdFollowsReasonAndRoundTrips) {
  const AuditRecord r = decision("3f9c0a1b2c4d");
  const std::string line = encode_record(r);
  EXPECT_NE(line.find(R"("reason":"allowed by emergency grant 3f9c0a1b2c4d","grant_id":"3f9c0a1b2c4d",)"),
            std::string::npos)
      << line;
  std::string error;
  const auto back = decode_record(line, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, r);
}

TEST(GrantIdRecord, EmptyGrantIdIsOmitted) {
  const std::string line = encode_record(decision(""));
  EXPECT_EQ(line.find("grant_id"), std::string::npos) << line;
}

TEST(GrantIdRecord, SameAsJoinRestoresTheGrantId) {
  const AuditRecord full = decision("3f9c0a1b2c4d");
  AuditRecord compact;
  compact.grant_id = "";
  copy_statement_fields(full, compact);
  EXPECT_EQ(compact.grant_id, "3f9c0a1b2c4d");
}

}  // namespace
}  // namespace segproxy::audit
