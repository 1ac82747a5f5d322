// Issue 12, item 4.1 for the MySQL analyzer: statement length, statements per message and
// nesting are bounded before analysis, with 54000 / 54001 refusals (ERR 1162 / 1436 at
// the proxy), and ordinary large statements still classify.
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

void expect_refused(const StatementInfo& info, const char* state, std::string_view needle) {
  EXPECT_FALSE(info.parse_ok);
  EXPECT_EQ(info.parse_error_sqlstate, state);
  EXPECT_NE(info.parse_error.find(needle), std::string::npos) << info.parse_error;
  EXPECT_TRUE(info.statements.empty());
}

// Regression: a 9 MB string of `SELECT 1;` was lexed and analysed statement by statement
// (hundreds of MB). Over max_statement_length nothing is lexed.
TEST(MysqlStatementLimits, TextLongerThanMaxStatementLengthIsRefusedUnlexed) {
  const std::string big = repeat("SELECT 1;", 1024 * 1024);
  StatementLimits one_mib;  // the default is 64 MiB since the token bound
  one_mib.max_statement_length = 1024 * 1024;
  expect_refused(classify(big, one_mib), "54000", "limits.max_statement_length (9437184 bytes, at most 1048576)");
  MysqlClassifierOptions o;
  o.limits = one_mib;
  o.hash_key = test::kTestHashKey;
  EXPECT_EQ(fingerprint_mysql(big, o), 0u);  // not cached: each refusal names its own length
  EXPECT_EQ(normalize_mysql(big, o), "");
}

TEST(MysqlStatementLimits, TooManyStatementsInOneMessageAreRefusedUnanalysed) {
  expect_refused(classify(repeat("SELECT 1;", 1001)), "54000", "limits.max_statements_per_message (1001");
  const auto ok = classify(repeat("SELECT 1;", 1000) + ";;");
  ASSERT_TRUE(ok.parse_ok) << ok.parse_error;
  EXPECT_EQ(ok.statements.size(), 1000u);
  StatementLimits two;
  two.max_statements_per_message = 2;
  EXPECT_TRUE(classify("SELECT ';;;' /* ; */; SELECT `;` -- ;\n", two).parse_ok);
  expect_refused(classify("SELECT 1; SELECT 2; SELECT 3", two), "54000", "max_statements_per_message");
}

TEST(MysqlStatementLimits, DeepNestingIsAComplexityRefusalNotAnUnknownStatement) {
  expect_refused(classify("SELECT " + std::string(5000, '(') + "1" + std::string(5000, ')')), "54001",
                 "limits.max_parse_depth (5000 nested parentheses, at most 1000)");
  // Below the configured depth the analyzer's own recursion bound answers the same way.
  expect_refused(classify("SELECT " + std::string(500, '(') + "1" + std::string(500, ')')), "54001",
                 "nested too deeply for the MySQL analyzer");
  StatementLimits shallow;
  shallow.max_parse_depth = 3;
  expect_refused(classify("SELECT ((((1))))", shallow), "54001", "max_parse_depth");
  EXPECT_TRUE(classify("SELECT (((1)))", shallow).parse_ok);
}

// Fuzz finding (mysql_sql): a nesting or statement-count refusal had fingerprint 0 from
// classify_mysql but a non-zero one from fingerprint_mysql, the key the gate caches the
// verdict under. Both now agree: the refusal follows from the tokens' structure.
TEST(MysqlStatementLimits, LimitRefusalCarriesTheSameFingerprintAsTheLexOnlyFingerprint) {
  MysqlClassifierOptions o;
  o.current_database = "shop";
  o.hash_key = test::kTestHashKey;
  StatementLimits two;
  two.max_statements_per_message = 2;
  MysqlClassifierOptions two_o = o;
  two_o.limits = two;
  const std::string analyzer_deep = std::string(47, '(');
  const std::string configured_deep = "SELECT " + std::string(1001, '(') + "1" + std::string(1001, ')');
  const std::pair<std::string, MysqlClassifierOptions> cases[] = {
      {analyzer_deep, o}, {configured_deep, o}, {"SELECT 1; SELECT 2; SELECT 3", two_o}};
  for (const auto& [sql, opts] : cases) {
    const StatementInfo info = classify_mysql(sql, opts);
    EXPECT_FALSE(info.parse_ok) << sql;
    EXPECT_FALSE(info.parse_error_sqlstate.empty()) << sql << ": " << info.parse_error;
    EXPECT_NE(info.fingerprint, 0u) << sql;
    EXPECT_EQ(info.fingerprint, fingerprint_mysql(sql, opts)) << sql;
  }
  // A syntax error still has none, from either.
  EXPECT_EQ(classify_mysql("xyzzy", o).fingerprint, 0u);
  EXPECT_EQ(fingerprint_mysql("xyzzy", o), 0u);
}

TEST(MysqlStatementLimits, WideSetOperationsAndListsStillClassifyWithinTheLength) {
  const auto unions = classify("SELECT a FROM t" + repeat(" UNION SELECT a FROM t", 40000));
  ASSERT_TRUE(unions.parse_ok) << unions.parse_error;
  ASSERT_EQ(unions.statements.size(), 1u);
  EXPECT_EQ(unions.statements[0].klass, StatementClass::Dml);
  std::string in = "SELECT * FROM orders WHERE id IN (0";
  for (int i = 1; i < 50000; ++i) in += "," + std::to_string(i);
  EXPECT_TRUE(classify(in + ")").parse_ok);
}

// Matching UPDATE/DELETE targets to their table list was quadratic (40k tables: seconds of
// CPU); the servers join at most 61 tables, so longer lists are refused.
TEST(MysqlStatementLimits, MultiTableUpdateAndDeleteBeyondSixtyOneTablesAreRefused) {
  std::string update = "UPDATE t0", del = "DELETE t0 FROM t0";
  for (int i = 1; i < 62; ++i) {
    update += ", t" + std::to_string(i);
    del += ", t" + std::to_string(i);
  }
  for (const auto& sql : {update + " SET a = 1", del}) {
    const auto info = classify(sql);
    ASSERT_TRUE(info.parse_ok);
    ASSERT_EQ(info.statements.size(), 1u);
    EXPECT_EQ(info.statements[0].klass, StatementClass::Unknown);
    EXPECT_NE(info.statements[0].forbidden_reason.find("61 tables"), std::string::npos);
  }
  const auto sixty_one = classify(update.substr(0, update.rfind(',')) + " SET a = 1");
  ASSERT_EQ(sixty_one.statements.size(), 1u);
  EXPECT_EQ(sixty_one.statements[0].klass, StatementClass::Dml);
}

TEST(MysqlStatementLimits, HundredThousandDistinctFunctionCallsAreEachReportedOnce) {
  std::string sql = "SELECT f0(), f0()";
  for (int i = 1; i < 100000; ++i) sql += ", f" + std::to_string(i) + "()";
  StatementLimits wide;  // 400k tokens: beyond the default max_statement_tokens
  wide.max_statement_tokens = 1000000;
  const auto info = classify(sql, wide);
  ASSERT_TRUE(info.parse_ok) << info.parse_error;
  EXPECT_EQ(info.statements[0].functions.size(), 100000u);
}

}  // namespace
}  // namespace segproxy::authz::sql
