// limits.max_statement_length / max_statements_per_message / max_parse_depth (issue 12,
// item 4.1): defaults, parsing, and the bounds the proxy reserves stack for.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

const std::string kListener =
    "listeners:\n"
    "  - name: pg\n"
    "    protocol: postgres\n"
    "    listen: 0.0.0.0:6432\n"
    "    tls: {cert: certs/server.crt, key: certs/server.key, client_ca: certs/ca.crt}\n"
    "    backend: {host: db, port: 5432}\n";

LoadResult load(const std::string& limits) {
  TempDir dir;
  write_referenced_files(dir);
  return load_config_string("limits: {" + limits + "}\n" + kListener, "t.yaml", dir.str());
}

TEST(ConfigStatementLimits, DefaultsBoundClassificationWorkWithoutHittingRealApplications) {
  const LoadResult r = load("idle_timeout: 0");
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  // Issue 12 leftovers: the work is bounded by tokens; the byte bound only caps buffering.
  EXPECT_EQ(r.config->limits.max_statement_length, 64u * 1024u * 1024u);
  EXPECT_EQ(r.config->limits.max_statements_per_message, 1000u);
  EXPECT_EQ(r.config->limits.max_parse_depth, 1000u);
  EXPECT_EQ(r.config->limits.max_statement_tokens, 250000u);
}

TEST(ConfigStatementLimits, MaxStatementTokensIsReadAndBounded) {
  const LoadResult r = load("max_statement_tokens: 5000");
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  EXPECT_EQ(r.config->limits.max_statement_tokens, 5000u);
  for (const char* bad : {"max_statement_tokens: 0", "max_statement_tokens: 10000001"}) {
    const LoadResult b = load(bad);
    EXPECT_FALSE(b.config.has_value()) << bad;
    ASSERT_EQ(b.errors.size(), 1u) << bad << "\n" << dump(b);
    EXPECT_NE(b.errors[0].message.find("out of range"), std::string::npos) << dump(b);
  }
}

TEST(ConfigStatementLimits, ValuesAreRead) {
  const LoadResult r = load("max_statement_length: 4MiB, max_statements_per_message: 5, max_parse_depth: 200");
  ASSERT_TRUE(r.config.has_value()) << dump(r);
  EXPECT_EQ(r.config->limits.max_statement_length, 4u * 1024u * 1024u);
  EXPECT_EQ(r.config->limits.max_statements_per_message, 5u);
  EXPECT_EQ(r.config->limits.max_parse_depth, 200u);
}

TEST(ConfigStatementLimits, ZeroAndValuesBeyondTheReservedStackAreErrors) {
  for (const char* bad : {"max_parse_depth: 10001", "max_parse_depth: 0", "max_statements_per_message: 0",
                          "max_statement_length: 0", "max_statement_length: 65MiB"}) {
    const LoadResult r = load(bad);
    EXPECT_FALSE(r.config.has_value()) << bad;
    ASSERT_EQ(r.errors.size(), 1u) << bad << "\n" << dump(r);
    EXPECT_NE(r.errors[0].message.find("out of range"), std::string::npos) << dump(r);
  }
}

}  // namespace
}  // namespace segproxy::config::test
