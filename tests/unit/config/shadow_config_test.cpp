// `segments.<s>.mode` and a rule's `shadow` (docs/policy.md "Shadow mode"): parsed values,
// defaults, and the errors for values outside the vocabulary. The policy text is appended
// to the "ops" segment of kValidConfig (which ends on line 39).
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

class ShadowConfig : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }
  LoadResult load(const std::string& policy) {
    return load_config_string(std::string(kValidConfig) + policy, "segproxy.yaml", dir_.str(), {});
  }
  TempDir dir_;
};

TEST_F(ShadowConfig, ModeDefaultsToEnforceAndRulesToNotShadow) {
  const LoadResult r = load("    rules:\n      - {tables: [orders], allow: [select]}\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const SegmentPolicy& p = r.config->segments.at("ops").policy;
  EXPECT_EQ(p.mode, PolicyMode::Enforce);
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_FALSE(p.rules[0].shadow);
}

TEST_F(ShadowConfig, ModeShadowAndShadowRulesAreParsed) {
  const LoadResult r = load(
      "    mode: shadow\n"
      "    rules:\n"
      "      - {id: reads, tables: [orders], allow: [select]}\n"
      "      - {id: candidate, tables: [orders], deny: [delete], shadow: true}\n"
      "      - {id: explicit, tables: [items], allow: [select], shadow: false}\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const SegmentPolicy& p = r.config->segments.at("ops").policy;
  EXPECT_EQ(p.mode, PolicyMode::Shadow);
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_FALSE(p.rules[0].shadow);
  EXPECT_TRUE(p.rules[1].shadow);
  EXPECT_FALSE(p.rules[2].shadow);
  EXPECT_EQ(r.config->segments.at("billing").policy.mode, PolicyMode::Enforce);
}

TEST_F(ShadowConfig, UnknownModeIsAnErrorAtItsLine) {
  const LoadResult r = load("    mode: detect\n");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].line, 40);
  EXPECT_EQ(r.errors[0].key_path, "segments.ops.mode");
  EXPECT_NE(r.errors[0].message.find("expected one of: enforce, shadow"), std::string::npos) << dump(r);
}

TEST_F(ShadowConfig, ShadowMustBeABoolean) {
  const LoadResult r = load("    rules:\n      - {tables: [orders], deny: [delete], shadow: maybe}\n");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].key_path, "segments.ops.rules[0].shadow");
}

}  // namespace
}  // namespace segproxy::config::test
