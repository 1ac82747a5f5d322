// Issue 12 leftovers, item 1 for the MySQL analyzer: the lexer stops at
// limits.max_statement_tokens (memory and analysis bounded by tokens, not bytes) and the
// text is refused with 54001 (ERR 1436 at the proxy); a string literal or quoted
// identifier is one token however long, so multi-MB interpolated values classify.
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/statement_limits.hpp"
#include "tests/unit/sql/hash_key_support.hpp"

namespace segproxy::authz::sql {
namespace {

StatementInfo classify(std::string_view sql, const StatementLimits& limits = {}) {
  MysqlClassifierOptions o;
  o.current_database = "shop";
  o.limits = limits;
  return classify_mysql(sql, o);
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(MysqlStatementTokens, EightMegabyteLiteralInsertClassifiesUnderTheDefaultLimits) {
  const auto info = classify("INSERT INTO blobs (data) VALUES ('" + std::string(8 * 1024 * 1024, 'a') + "')");
  ASSERT_TRUE(info.parse_ok) << info.parse_error.substr(0, 200);
  ASSERT_EQ(info.statements.size(), 1u);
  EXPECT_EQ(info.statements[0].klass, StatementClass::Dml);
}

TEST(MysqlStatementTokens, ManyTinyTokensBeyondTheBoundAreRefusedAsTooComplex) {
  const std::string sql = "SELECT 1" + repeat(",1", 150000);
  const auto info = classify(sql);
  EXPECT_FALSE(info.parse_ok);
  EXPECT_EQ(info.parse_error_sqlstate, "54001");
  EXPECT_NE(info.parse_error.find("limits.max_statement_tokens (more than 250000 tokens)"), std::string::npos)
      << info.parse_error;
  EXPECT_TRUE(info.statements.empty());
  MysqlClassifierOptions o;
  o.hash_key = test::kTestHashKey;
  EXPECT_EQ(fingerprint_mysql(sql, o), 0u);  // not cached
}

TEST(MysqlStatementTokens, StringsAndQuotedIdentifiersCountOneTokenEach) {
  StatementLimits four;
  four.max_statement_tokens = 4;
  // SELECT 'long' , `long`: four tokens; comments are no tokens for the MySQL lexer.
  const auto ok = classify("SELECT /* " + std::string(5000, 'c') + " */ '" + std::string(100000, 's') + "', `" +
                               std::string(60, 'i') + "`",
                           four);
  EXPECT_TRUE(ok.parse_ok) << ok.parse_error;
  const auto over = classify("SELECT 'a', 'b', 'c'", four);
  EXPECT_FALSE(over.parse_ok);
  EXPECT_EQ(over.parse_error_sqlstate, "54001");
  EXPECT_NE(over.parse_error.find("more than 4 tokens"), std::string::npos) << over.parse_error;
}

}  // namespace
}  // namespace segproxy::authz::sql
