// Issue 12 leftovers, item 1: the PostgreSQL pre-scan bounds the WORK of a statement by its
// lexical tokens (limits.max_statement_tokens), not by the bytes of one literal. A string,
// quoted identifier, dollar-quoted body or comment is one token however long, so a client-
// interpolated bytea/JSON literal of several MB classifies, while a short text of many
// tiny tokens is refused with 54001 before libpg_query sees it.
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/pg_classifier.hpp"
#include "authz/sql/pg_walker.hpp"
#include "authz/sql/statement_limits.hpp"
#include "tests/unit/sql/hash_key_support.hpp"

namespace segproxy::authz::sql::test {
namespace {

using detail::scan_pg_text;

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

StatementInfo classify(std::string_view sql, const StatementLimits& limits = {}) {
  ClassifierOptions opts;
  opts.limits = limits;
  return classify_pg(sql, opts);
}

TEST(PgStatementTokens, LiteralsCommentsDollarQuotesAndIdentifiersCountOneTokenEach) {
  const std::string big(100000, 'x');
  EXPECT_EQ(scan_pg_text("SELECT '" + big + "'").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT E'\\'" + big + "'").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT X'" + std::string(1000, 'f') + "'").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT \"" + big + " \"\" x\"").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT $body$ " + big + " ; ( , $body$").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT $$ a b c $$").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT /* a /* nested */ b c d */ 1").tokens, 3u);
  EXPECT_EQ(scan_pg_text("SELECT 1 -- a b c d e f\n").tokens, 3u);
  EXPECT_EQ(scan_pg_text("SELECT " + std::string(5000, 'i') + "_identifier$1").tokens, 2u);
  EXPECT_EQ(scan_pg_text("SELECT 123456.789").tokens, 2u);  // a number is one
  EXPECT_EQ(scan_pg_text("SELECT $1").tokens, 2u);
  // Punctuation and operator characters: one each.
  EXPECT_EQ(scan_pg_text("SELECT a.b, f(c) + 1;").tokens, 12u);
}

TEST(PgStatementTokens, EightMegabyteLiteralInsertClassifiesUnderTheDefaultLimits) {
  const std::string sql = "INSERT INTO public.blobs (data) VALUES ('\\x" + std::string(8 * 1024 * 1024, 'a') + "')";
  const auto info = classify(sql);
  ASSERT_TRUE(info.parse_ok) << info.parse_error.substr(0, 200);
  ASSERT_EQ(info.statements.size(), 1u);
  EXPECT_EQ(info.statements[0].klass, StatementClass::Dml);
}

TEST(PgStatementTokens, ManyTinyTokensBeyondTheBoundAreRefusedAsTooComplex) {
  const std::string sql = "SELECT 1" + repeat(",1", 150000);  // 300 KB, 300002 tokens
  const auto info = classify(sql);
  EXPECT_FALSE(info.parse_ok);
  EXPECT_EQ(info.parse_error_sqlstate, "54001");
  EXPECT_NE(info.parse_error.find("limits.max_statement_tokens (300002 tokens, at most 250000)"), std::string::npos)
      << info.parse_error;
  EXPECT_TRUE(info.statements.empty());
  EXPECT_EQ(fingerprint_pg(sql, kTestHashKey), 0u);  // not cached
  EXPECT_EQ(normalize_pg(sql), "");
}

TEST(PgStatementTokens, ConfiguredTokenBoundIsHonouredExactly) {
  StatementLimits five;
  five.max_statement_tokens = 5;
  EXPECT_TRUE(classify("SELECT a, '" + std::string(10000, 'q') + "'", five).parse_ok);  // 4 tokens
  EXPECT_TRUE(classify("SELECT a, b /* " + std::string(10000, 'c') + " */", five).parse_ok);  // 5
  const auto over = classify("SELECT a, b, c", five);  // 6
  EXPECT_FALSE(over.parse_ok);
  EXPECT_EQ(over.parse_error_sqlstate, "54001");
  EXPECT_NE(over.parse_error.find("(6 tokens, at most 5)"), std::string::npos) << over.parse_error;
}

}  // namespace
}  // namespace segproxy::authz::sql::test
