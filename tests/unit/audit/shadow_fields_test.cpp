// shadow_decision / shadow_rule (docs/policy.md "Shadow mode"): encoded after `reason`,
// inside the statement shape (so a repeated shadow-denied statement is written as
// same_as and joined back with them), decoded strictly, omitted when empty.
#include <gtest/gtest.h>

#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"

namespace segproxy::audit {
namespace {

AuditRecord shadow_record() {
  AuditRecord r;
  r.seq = 7;
  r.ts = "2026-11-22T12:03:29.123456Z";
  r.event = "statement.decision";
  r.session_id = "s1";
  r.statement = "DELETE FROM items WHERE id = ?";
  r.decision = "allow";
  r.rule_id = "orders";
  r.reason = "allowed by orders";
  r.shadow_decision = "deny";
  r.shadow_rule = "no-delete-items";
  r.prev_hash = std::string(64, 'a');
  r.hash = std::string(64, 'b');
  return r;
}

TEST(ShadowFields, EncodedAfterReasonAndRoundTrip) {
  const AuditRecord r = shadow_record();
  const std::string line = encode_record(r);
  const auto reason = line.find("\"reason\":");
  const auto decision = line.find("\"shadow_decision\":\"deny\"");
  const auto rule = line.find("\"shadow_rule\":\"no-delete-items\"");
  ASSERT_NE(decision, std::string::npos) << line;
  ASSERT_NE(rule, std::string::npos) << line;
  EXPECT_LT(reason, decision);
  EXPECT_LT(decision, rule);
  std::string why;
  const auto back = decode_record(line, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, r);
}

TEST(ShadowFields, OmittedWhenEmpty) {
  AuditRecord r = shadow_record();
  r.shadow_decision.clear();
  r.shadow_rule.clear();
  EXPECT_EQ(encode_record(r).find("shadow"), std::string::npos);
}

TEST(ShadowFields, BelongToTheStatementShapeThatSameAsRepeats) {
  const AuditRecord r = shadow_record();
  std::string out;
  BodyLayout layout;
  append_body(out, r, r.statement, &layout);
  const std::string shape = out.substr(layout.head_end, layout.shape_end - layout.head_end);
  EXPECT_NE(shape.find("shadow_rule"), std::string::npos) << shape;
  AuditRecord joined;
  copy_statement_fields(r, joined);
  EXPECT_EQ(joined.shadow_decision, "deny");
  EXPECT_EQ(joined.shadow_rule, "no-delete-items");
}

}  // namespace
}  // namespace segproxy::audit
