// The `audit:` section: defaults, every accepted value and every error with its line
// and key path. The section is appended to the valid config of config_test_util.hpp
// (39 lines), so `audit:` is on line 40 and its first key on line 41.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

constexpr int kAuditLine = 40;

class AuditConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }

  // kValidConfig + "audit:\n" + `body` (each line indented by the caller).
  LoadResult load(const std::string& body) const {
    return load_config_string(std::string(kValidConfig) + "audit:\n" + body, "segproxy.yaml",
                              dir_.str());
  }
  // Exactly one error, on `line`, at `key_path`, containing `part`.
  void expect_error(const std::string& body, int line, const std::string& key_path,
                    const std::string& part) const {
    SCOPED_TRACE(body);
    const LoadResult r = load(body);
    ASSERT_EQ(r.errors.size(), 1u) << dump(r);
    EXPECT_FALSE(r.config.has_value());
    EXPECT_EQ(r.errors[0].file, "segproxy.yaml");
    EXPECT_EQ(r.errors[0].line, line) << dump(r);
    EXPECT_EQ(r.errors[0].key_path, key_path) << dump(r);
    EXPECT_NE(r.errors[0].message.find(part), std::string::npos) << dump(r);
  }

  TempDir dir_;
};

TEST_F(AuditConfigTest, AbsentSectionMeansNoAudit) {
  const LoadResult r = load_config_string(kValidConfig, "segproxy.yaml", dir_.str());
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_FALSE(r.config->audit.has_value());
}

TEST_F(AuditConfigTest, OnlyDirGivesTheDefaults) {
  const LoadResult r = load("  dir: audit-log\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  ASSERT_TRUE(r.config->audit.has_value());
  const AuditSettings& a = *r.config->audit;
  EXPECT_EQ(a.dir, (dir_.path() / "audit-log").string());  // relative: config dir
  EXPECT_EQ(a.durability, "group");
  EXPECT_EQ(a.sync_interval, std::chrono::milliseconds(200));
  EXPECT_EQ(a.on_failure, "fail_closed");
  EXPECT_EQ(a.statement_text, "normalized");
  EXPECT_EQ(a.checkpoint_every_records, 1000u);
  EXPECT_EQ(a.checkpoint_every, std::chrono::seconds(60));
  EXPECT_EQ(a.rotate_size, 64ull << 20);
  EXPECT_EQ(a.rotate_every, std::chrono::seconds(86400));
  EXPECT_EQ(a.signing_key, "");
  EXPECT_EQ(a.max_queue, 65536u);
  EXPECT_EQ(a.instance, "");  // the proxy fills in the host name
  EXPECT_EQ(a.line, kAuditLine);
}

TEST_F(AuditConfigTest, EveryKeyIsRead) {
  dir_.write("keys/audit.pem", "-----BEGIN PRIVATE KEY-----\n");
  const LoadResult r = load(
      "  dir: /var/log/segproxy/audit\n"
      "  durability: interval\n"
      "  sync_interval: 50ms\n"
      "  on_failure: fail_open\n"
      "  statement_text: full\n"
      "  checkpoint_every_records: 0\n"
      "  checkpoint_every: 5m\n"
      "  rotate_size: 1GiB\n"
      "  rotate_every: 0\n"
      "  signing_key: keys/audit.pem\n"
      "  max_queue: 10000000\n"
      "  instance: proxy-a\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const AuditSettings& a = *r.config->audit;
  EXPECT_EQ(a.dir, "/var/log/segproxy/audit");
  EXPECT_EQ(a.durability, "interval");
  EXPECT_EQ(a.sync_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(a.on_failure, "fail_open");
  EXPECT_EQ(a.statement_text, "full");
  EXPECT_EQ(a.checkpoint_every_records, 0u);
  EXPECT_EQ(a.checkpoint_every, std::chrono::seconds(300));
  EXPECT_EQ(a.rotate_size, 1ull << 30);
  EXPECT_EQ(a.rotate_every, std::chrono::seconds(0));
  EXPECT_EQ(a.signing_key, (dir_.path() / "keys/audit.pem").string());
  EXPECT_EQ(a.max_queue, 10'000'000u);
  EXPECT_EQ(a.instance, "proxy-a");
}

// Issue 12 leftovers, item 2: the statement text kept per record is capped.
TEST_F(AuditConfigTest, MaxStatementTextDefaultsToFourKibAndIsBounded) {
  const LoadResult d = load("  dir: a\n");
  ASSERT_TRUE(d.errors.empty()) << dump(d);
  EXPECT_EQ(d.config->audit->max_statement_text, 4096u);
  const LoadResult r = load("  dir: a\n  max_statement_text: 64KiB\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->audit->max_statement_text, 64u * 1024u);
  for (const char* bad : {"0", "255", "17MiB"}) {
    const LoadResult b = load(std::string("  dir: a\n  max_statement_text: ") + bad + "\n");
    EXPECT_FALSE(b.config.has_value()) << bad;
    EXPECT_FALSE(b.errors.empty()) << bad;
  }
}

TEST_F(AuditConfigTest, EachEnumValueIsAccepted) {
  for (const char* v : {"fsync_each", "group", "interval"}) {
    const LoadResult r = load(std::string("  dir: a\n  durability: ") + v + "\n");
    ASSERT_TRUE(r.errors.empty()) << v << dump(r);
    EXPECT_EQ(r.config->audit->durability, v);
  }
  for (const char* v : {"full", "normalized", "none"}) {
    const LoadResult r = load(std::string("  dir: a\n  statement_text: ") + v + "\n");
    ASSERT_TRUE(r.errors.empty()) << v << dump(r);
    EXPECT_EQ(r.config->audit->statement_text, v);
  }
  for (const char* v : {"fail_closed", "fail_open"}) {
    const LoadResult r = load(std::string("  dir: a\n  on_failure: ") + v + "\n");
    ASSERT_TRUE(r.errors.empty()) << v << dump(r);
    EXPECT_EQ(r.config->audit->on_failure, v);
  }
}

TEST_F(AuditConfigTest, ExistingDirectoryIsAccepted) {
  std::filesystem::create_directories(dir_.path() / "log");
  const LoadResult r = load("  dir: log\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
}

TEST_F(AuditConfigTest, SectionMustBeAMapping) {
  expect_error("  - dir: a\n", kAuditLine, "audit", "expected a mapping, got a list");
}

TEST_F(AuditConfigTest, EmptySectionIsAnError) {
  const LoadResult r = load("");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].line, kAuditLine);
  EXPECT_EQ(r.errors[0].key_path, "audit");
}

TEST_F(AuditConfigTest, DirIsRequired) {
  expect_error("  durability: group\n", kAuditLine, "audit.dir", "missing required key \"dir\"");
}

TEST_F(AuditConfigTest, EmptyDirIsAnError) {
  expect_error("  dir: \"\"\n", 41, "audit.dir", "must not be empty");
}

TEST_F(AuditConfigTest, DirThatIsAFileIsAnError) {
  dir_.write("not-a-dir", "x");
  expect_error("  dir: not-a-dir\n", 41, "audit.dir", "not a directory: ");
}

TEST_F(AuditConfigTest, UnknownKeyHasLineAndSuggestion) {
  expect_error("  dir: a\n  durabilty: group\n", 42, "audit.durabilty",
               "unknown key \"durabilty\" (did you mean \"durability\"?)");
}

TEST_F(AuditConfigTest, DuplicateKeyIsAnError) {
  const LoadResult r = load("  dir: a\n  dir: b\n");
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].line, 42) << dump(r);
  EXPECT_NE(r.errors[0].message.find("duplicate key \"dir\""), std::string::npos) << dump(r);
}

TEST_F(AuditConfigTest, BadDurabilityIsAnError) {
  expect_error("  dir: a\n  durability: sometimes\n", 42, "audit.durability",
               "invalid durability \"sometimes\" (expected one of: fsync_each, group, interval)");
}

TEST_F(AuditConfigTest, BadOnFailureIsAnError) {
  expect_error("  dir: a\n  on_failure: fail_close\n", 42, "audit.on_failure",
               "(did you mean \"fail_closed\"?)");
}

TEST_F(AuditConfigTest, BadStatementTextIsAnError) {
  expect_error("  dir: a\n  statement_text: raw\n", 42, "audit.statement_text",
               "expected one of: full, normalized, none");
}

TEST_F(AuditConfigTest, SyncIntervalMustBePositive) {
  expect_error("  dir: a\n  sync_interval: 0\n", 42, "audit.sync_interval",
               "duration must be greater than 0");
}

TEST_F(AuditConfigTest, SyncIntervalNeedsAUnit) {
  expect_error("  dir: a\n  sync_interval: 200\n", 42, "audit.sync_interval", "needs a unit");
}

TEST_F(AuditConfigTest, CheckpointEveryRecordsMustBeAnInteger) {
  expect_error("  dir: a\n  checkpoint_every_records: lots\n", 42,
               "audit.checkpoint_every_records", "expected an integer, got \"lots\"");
}

TEST_F(AuditConfigTest, CheckpointEveryMustBeWholeSeconds) {
  expect_error("  dir: a\n  checkpoint_every: 1500ms\n", 42, "audit.checkpoint_every",
               "whole number of seconds");
}

TEST_F(AuditConfigTest, CheckpointEveryZeroDisables) {
  const LoadResult r = load("  dir: a\n  checkpoint_every: 0\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->audit->checkpoint_every, std::chrono::seconds(0));
}

TEST_F(AuditConfigTest, BadCheckpointEveryUnitIsAnError) {
  expect_error("  dir: a\n  checkpoint_every: 1d\n", 42, "audit.checkpoint_every",
               "invalid duration unit \"d\"");
}

TEST_F(AuditConfigTest, RotateSizeBadUnitIsAnError) {
  expect_error("  dir: a\n  rotate_size: 64MB\n", 42, "audit.rotate_size",
               "invalid size unit \"MB\"");
}

TEST_F(AuditConfigTest, RotateSizeTooSmallIsAnError) {
  expect_error("  dir: a\n  rotate_size: 1KiB\n", 42, "audit.rotate_size", "at least 64KiB");
}

TEST_F(AuditConfigTest, RotateSizeZeroDisables) {
  const LoadResult r = load("  dir: a\n  rotate_size: 0\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->audit->rotate_size, 0u);
}

TEST_F(AuditConfigTest, RotateEveryBelowAMinuteIsAnError) {
  expect_error("  dir: a\n  rotate_every: 10s\n", 42, "audit.rotate_every",
               "must be 0 (disabled) or at least 60s");
}

TEST_F(AuditConfigTest, RotateEveryAcceptsHours) {
  const LoadResult r = load("  dir: a\n  rotate_every: 1h\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->audit->rotate_every, std::chrono::seconds(3600));
}

TEST_F(AuditConfigTest, MaxQueueZeroIsOutOfRange) {
  expect_error("  dir: a\n  max_queue: 0\n", 42, "audit.max_queue",
               "value 0 out of range (must be 1..10000000)");
}

TEST_F(AuditConfigTest, MaxQueueAboveTenMillionIsOutOfRange) {
  expect_error("  dir: a\n  max_queue: 10000001\n", 42, "audit.max_queue", "out of range");
}

TEST_F(AuditConfigTest, MissingSigningKeyIsAnError) {
  expect_error("  dir: a\n  signing_key: keys/missing.pem\n", 42, "audit.signing_key",
               "file not found: " + (dir_.path() / "keys/missing.pem").string());
}

TEST_F(AuditConfigTest, SigningKeyThatIsADirectoryIsAnError) {
  std::filesystem::create_directories(dir_.path() / "keys");
  expect_error("  dir: a\n  signing_key: keys\n", 42, "audit.signing_key",
               "not a regular file");
}

TEST_F(AuditConfigTest, EmptyInstanceIsAnError) {
  expect_error("  dir: a\n  instance: \"\"\n", 42, "audit.instance", "must not be empty");
}

TEST_F(AuditConfigTest, ListValueIsATypeError) {
  expect_error("  dir: [a, b]\n", 41, "audit.dir", "expected a string, got a list");
}

TEST_F(AuditConfigTest, EveryErrorOfTheSectionIsReported) {
  const LoadResult r = load(
      "  durability: never\n"
      "  max_queue: 0\n"
      "  rotate_every: 5s\n");
  ASSERT_EQ(r.errors.size(), 4u) << dump(r);  // + missing dir
  EXPECT_EQ(r.errors[0].line, kAuditLine);
  EXPECT_EQ(r.errors[0].key_path, "audit.dir");
  EXPECT_EQ(r.errors[1].line, 41);
  EXPECT_EQ(r.errors[2].line, 42);
  EXPECT_EQ(r.errors[3].line, 43);
}

TEST_F(AuditConfigTest, ErrorStringHasFileLineAndKeyPath) {
  const LoadResult r = load("  dir: a\n  max_queue: -1\n");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].to_string().rfind("segproxy.yaml:42: audit.max_queue: ", 0), 0u)
      << r.errors[0].to_string();
}

}  // namespace
}  // namespace segproxy::config::test

namespace segproxy::config::test {
namespace {

// audit.max_wait (issue 14): the longest wait for a record's durability; a longer wait
// counts as a write failure. Default 10s, accepted 10ms .. 10m.
TEST_F(AuditConfigTest, MaxWaitDefaultsToTenSecondsAndIsBounded) {
  {
    const LoadResult r = load("  dir: audit-log\n");
    ASSERT_TRUE(r.errors.empty()) << dump(r);
    EXPECT_EQ(r.config->audit->max_wait, std::chrono::seconds(10));
  }
  {
    const LoadResult r = load("  dir: audit-log\n  max_wait: 250ms\n");
    ASSERT_TRUE(r.errors.empty()) << dump(r);
    EXPECT_EQ(r.config->audit->max_wait, std::chrono::milliseconds(250));
  }
  expect_error("  dir: audit-log\n  max_wait: 5ms\n", kAuditLine + 2, "audit.max_wait", "between 10ms and 10m");
  expect_error("  dir: audit-log\n  max_wait: 11m\n", kAuditLine + 2, "audit.max_wait", "between 10ms and 10m");
}

}  // namespace
}  // namespace segproxy::config::test

namespace segproxy::config::test {
namespace {

// audit.group_delay (issue 14): the writer's group commit window, in microseconds or
// milliseconds, 0 .. 10ms; a unit is required except for 0.
TEST_F(AuditConfigTest, GroupDelayTakesMicrosecondsOrZeroAndIsCappedAtTenMilliseconds) {
  {
    const LoadResult r = load("  dir: audit-log\n");
    ASSERT_TRUE(r.errors.empty()) << dump(r);
    EXPECT_EQ(r.config->audit->group_delay, std::chrono::microseconds(50));
  }
  {
    const LoadResult r = load("  dir: audit-log\n  group_delay: 120us\n");
    ASSERT_TRUE(r.errors.empty()) << dump(r);
    EXPECT_EQ(r.config->audit->group_delay, std::chrono::microseconds(120));
  }
  {
    const LoadResult r = load("  dir: audit-log\n  group_delay: 2ms\n");
    ASSERT_TRUE(r.errors.empty()) << dump(r);
    EXPECT_EQ(r.config->audit->group_delay, std::chrono::microseconds(2000));
  }
  {
    const LoadResult r = load("  dir: audit-log\n  group_delay: 0\n");
    ASSERT_TRUE(r.errors.empty()) << dump(r);
    EXPECT_EQ(r.config->audit->group_delay, std::chrono::microseconds(0));
  }
  expect_error("  dir: audit-log\n  group_delay: 11ms\n", kAuditLine + 2, "audit.group_delay", "between 0 and 10ms");
  expect_error("  dir: audit-log\n  group_delay: 50\n", kAuditLine + 2, "audit.group_delay", "needs a unit");
  expect_error("  dir: audit-log\n  group_delay: 50ns\n", kAuditLine + 2, "audit.group_delay", "or us");
}

}  // namespace
}  // namespace segproxy::config::test
