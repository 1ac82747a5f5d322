// `admin.grants_file` and `admin.max_grant_ttl` (emergency grants, docs/admin.md
// "Break-glass grants"). The section is appended to the valid config of
// config_test_util.hpp, so `admin:` is on line 40 and its first sub-key on line 41.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

class GrantConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }
  LoadResult load(const std::string& tail) const {
    return load_config_string(std::string(kValidConfig) + tail, "segproxy.yaml", dir_.str());
  }
  TempDir dir_;
};

TEST_F(GrantConfigTest, GrantsFileDefaultsBesideTheConfigAndMaxTtlToFourHours) {
  const LoadResult r = load("admin:\n  socket: a.sock\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->admin->grants_file, dir_.str() + "/grants.json");
  EXPECT_EQ(r.config->admin->max_grant_ttl, std::chrono::hours(4));
}

TEST_F(GrantConfigTest, MaxGrantTtlIsReadInWholeSeconds) {
  const LoadResult r = load("admin:\n  socket: a.sock\n  max_grant_ttl: 30m\n  grants_file: g.json\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->admin->max_grant_ttl, std::chrono::minutes(30));
  EXPECT_EQ(r.config->admin->grants_file, dir_.str() + "/g.json");
}

TEST_F(GrantConfigTest, MaxGrantTtlOutsideOneMinuteToSevenDaysIsRejected) {
  for (const char* bad : {"30s", "8d", "0s", "1500ms"}) {
    const LoadResult r = load(std::string("admin:\n  socket: a.sock\n  max_grant_ttl: ") + bad + "\n");
    ASSERT_EQ(r.errors.size(), 1u) << bad << "\n" << dump(r);
    EXPECT_EQ(r.errors[0].key_path, "admin.max_grant_ttl") << dump(r);
  }
}

TEST_F(GrantConfigTest, GrantsFileMustNotBeTheRevocationsFile) {
  const LoadResult r = load("admin:\n  socket: a.sock\n  revocations_file: x.json\n  grants_file: x.json\n");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].key_path, "admin.grants_file") << dump(r);
}

}  // namespace
}  // namespace segproxy::config::test
