// Issue 12, item 4.1: bounded work before and inside PostgreSQL parsing. Each attack
// string gets a 54000 / 54001 refusal (not a crash, not minutes of CPU, not gigabytes),
// and ordinary large statements still classify.
#include <gtest/gtest.h>
#include <pthread.h>

#include <functional>
#include <string>

#include "authz/sql/pg_classifier.hpp"
#include "authz/sql/statement_limits.hpp"
#include "tests/unit/sql/hash_key_support.hpp"

namespace segproxy::authz::sql::test {
namespace {

StatementInfo classify(std::string_view sql, const StatementLimits& limits = {}) {
  ClassifierOptions opts;
  opts.limits = limits;
  return classify_pg(sql, opts);
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Runs f on a thread with exactly `stack` bytes of stack.
void on_stack(std::size_t stack, const std::function<void()>& f) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack), 0);
  pthread_t t;
  auto fn = [](void* p) -> void* {
    (*static_cast<const std::function<void()>*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&t, &attr, fn, const_cast<std::function<void()>*>(&f)), 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

#define EXPECT_REFUSED(info, state, needle)                    \
  do {                                                         \
    const auto& i_ = (info);                                   \
    EXPECT_FALSE(i_.parse_ok);                                 \
    EXPECT_EQ(i_.parse_error_sqlstate, state);                 \
    EXPECT_NE(i_.parse_error.find(needle), std::string::npos) << i_.parse_error; \
    EXPECT_TRUE(i_.statements.empty());                        \
  } while (0)

// Regression: ~1 MB of `SELECT 1 UNION SELECT 1 ...` overflowed libpg_query's stack
// (SIGSEGV: the whole proxy down). Set operations were not counted by the depth estimate.
TEST(PgStatementLimits, WideUnionIsRefusedWithoutCrashing) {
  const std::string sql = "SELECT 1" + repeat(" UNION SELECT 1", 65000);
  ASSERT_LT(sql.size(), 1024u * 1024u);
  EXPECT_REFUSED(classify(sql), "54001", "limits.max_parse_depth");
  EXPECT_EQ(fingerprint_pg(sql, kTestHashKey), 0u);
  EXPECT_EQ(normalize_pg(sql), "");
}

TEST(PgStatementLimits, SetOperationsBetweenCommaListsStillCountAsNesting) {
  const std::string sql = "SELECT 1, 2" + repeat(" UNION ALL SELECT 1, 2 EXCEPT SELECT 3, 4", 20000);
  EXPECT_REFUSED(classify(sql), "54001", "limits.max_parse_depth");
}

TEST(PgStatementLimits, LongJoinAndOperatorCallChainsAreRefusedWithoutCrashing) {
  EXPECT_REFUSED(classify("SELECT 1 FROM t" + repeat(" CROSS JOIN t", 60000)), "54001", "max_parse_depth");
  EXPECT_REFUSED(classify("SELECT a" + repeat(" OPERATOR(pg_catalog.+) a", 30000)), "54001", "max_parse_depth");
  EXPECT_REFUSED(classify("SELECT " + repeat("CASE WHEN ", 20000) + "true" + repeat(" THEN 1 END", 20000)),
                 "54001", "max_parse_depth");
}

// Regression: `/*/*/*...` (and `/**/` repeated, and `+-+-...`) made libpg_query's scanner
// re-read the rest of the operator run once per token: 400 KB pinned an I/O thread for
// minutes. They are refused by the linear pre-scan.
TEST(PgStatementLimits, CommentOpenerRunsAreRefusedBeforeTheQuadraticScanner) {
  EXPECT_REFUSED(classify("SELECT 1 " + repeat("/*", 200000)), "54001", "too complex");
  EXPECT_REFUSED(classify("SELECT 1 " + repeat("/**/", 30000)), "54001", "too complex");
  EXPECT_REFUSED(classify("SELECT 1 " + repeat("+-", 100000) + "1"), "54001", "");
  EXPECT_EQ(fingerprint_pg("SELECT 1 " + repeat("/**/", 30000), kTestHashKey), 0u);
  EXPECT_EQ(normalize_pg("SELECT 1 " + repeat("/**/", 30000)), "");
}

TEST(PgStatementLimits, TextLongerThanMaxStatementLengthIsRefusedUnparsed) {
  const std::string sql = "SELECT '" + std::string(1024 * 1024, 'x') + "'";
  StatementLimits one_mib;  // the default is 64 MiB since the token bound
  one_mib.max_statement_length = 1024 * 1024;
  EXPECT_REFUSED(classify(sql, one_mib), "54000", "limits.max_statement_length (1048585 bytes, at most 1048576)");
  StatementLimits bigger;
  bigger.max_statement_length = 2 * 1024 * 1024;
  EXPECT_TRUE(classify(sql, bigger).parse_ok);
}

// Regression: 9 MB of `SELECT 1;` grew the proxy by ~700 MB (one parse tree per statement).
TEST(PgStatementLimits, TooManyStatementsInOneMessageAreRefusedUnparsed) {
  EXPECT_REFUSED(classify(repeat("SELECT 1;", 1001)), "54000", "limits.max_statements_per_message (1001");
  const auto ok = classify(repeat("SELECT 1;", 1000) + ";;; ;");
  ASSERT_TRUE(ok.parse_ok) << ok.parse_error;
  EXPECT_EQ(ok.statements.size(), 1000u);
  // Semicolons in strings, comments and dollar quotes are not statement ends.
  StatementLimits two;
  two.max_statements_per_message = 2;
  EXPECT_TRUE(classify("SELECT ';;;', $$;;$$ /* ; */ -- ;\n; SELECT \";\"", two).parse_ok);
  EXPECT_REFUSED(classify("SELECT 1; SELECT 2; SELECT 3", two), "54000", "max_statements_per_message");
}

TEST(PgStatementLimits, ConfiguredParseDepthIsHonoured) {
  StatementLimits shallow;
  shallow.max_parse_depth = 10;
  EXPECT_REFUSED(classify("SELECT " + std::string(11, '(') + "1" + std::string(11, ')'), shallow), "54001",
                 "limits.max_parse_depth (nesting estimated at 11, at most 10)");
  EXPECT_TRUE(classify("SELECT " + std::string(10, '(') + "1" + std::string(10, ')'), shallow).parse_ok);
  // Quoted text does not count: PostgreSQL does not parse it.
  EXPECT_TRUE(classify("SELECT '((((((((((((((((', E'\\'((((((((((((((', \"(((((((((((((((\"", shallow).parse_ok);
}

// An E that starts a token (after a number) opens an escape string, as in libpg_query;
// inside an identifier it does not. Hiding nesting behind a misread quote must not work.
TEST(PgStatementLimits, QuotesAreReadAsLibpgQueryReadsThem) {
  StatementLimits shallow;
  shallow.max_parse_depth = 10;
  const std::string deep = std::string(20, '(') + "1" + std::string(20, ')');
  EXPECT_EQ(classify("SELECT aE'\\', " + deep + " --'", shallow).parse_error_sqlstate, "54001");
  EXPECT_EQ(classify("SELECT a$b$, " + deep + " $b$", shallow).parse_error_sqlstate, "54001");
  EXPECT_EQ(classify("SELECT 1e'\\', " + deep + " '", shallow).parse_error_sqlstate, "");  // inside E'...' 
}

// AND / OR lists are flat in the parse tree: they separate operator chains like commas.
// CASE ... END nests without parentheses and counts as a level, even behind an AND.
TEST(PgStatementLimits, BooleanListsAreFlatButNestedCaseIsCounted) {
  std::string ors = "SELECT * FROM orders WHERE id = 0";
  for (int i = 1; i < 20000; ++i) ors += (i % 2 ? " OR id = " : " AND id <> ") + std::to_string(i);
  EXPECT_TRUE(classify(ors).parse_ok);
  EXPECT_REFUSED(classify("SELECT " + repeat("CASE WHEN a AND ", 20000) + "true" + repeat(" THEN 1 END", 20000)),
                 "54001", "limits.max_parse_depth");
  StatementLimits shallow;
  shallow.max_parse_depth = 3;
  EXPECT_TRUE(classify("SELECT CASE WHEN a THEN 1 END, CASE WHEN b THEN (2) END", shallow).parse_ok);
  EXPECT_FALSE(classify("SELECT CASE WHEN CASE WHEN CASE WHEN CASE WHEN a THEN b END THEN c END THEN d END THEN 1 END",
                        shallow).parse_ok);
}

TEST(PgStatementLimits, OrdinaryLargeStatementsStillClassify) {
  std::string values = "INSERT INTO orders VALUES (0, '+-/**/')";
  for (int i = 1; i < 20000; ++i) values += ", (" + std::to_string(i) + ", E'a\\'+b/*c')";
  EXPECT_TRUE(classify(values).parse_ok);
  const std::string banners = repeat("/****************************************************************/\n"
                                     "/* --------------------------------------------------------- */\n"
                                     "-- ==========================================================\n",
                                     2000) +
                              "SELECT 1";
  EXPECT_TRUE(classify(banners).parse_ok) << classify(banners).parse_error;
  const std::string body = "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $function$ SELECT 1 " +
                           repeat("+ 1 ", 100000) + "$function$";
  EXPECT_TRUE(classify(body).parse_ok);
  const std::string tag = "$" + std::string(60, 't') + "$";
  EXPECT_TRUE(classify("SELECT " + tag + repeat("$t$ ", 150000) + tag).parse_ok);
  std::string joins = "SELECT * FROM a";
  for (int i = 0; i < 200; ++i) joins += " LEFT JOIN b" + std::to_string(i) + " USING (id, x)";
  EXPECT_TRUE(classify(joins).parse_ok);
}

// The walker's per-table / per-function / per-CTE bookkeeping was a linear search per
// entry: 100k distinct tables in one (1 MiB) statement took minutes of an I/O thread.
// (Quadratic before: this test ran for minutes; no timing is asserted.)
// Every distinct entry is still reported exactly once.
TEST(PgStatementLimits, EightyThousandDistinctTablesAndFunctionsAreEachReportedOnce) {
  std::string sql = "SELECT f0(), f0()";
  for (int i = 1; i < 30000; ++i) sql += ", f" + std::to_string(i) + "()";
  sql += " FROM t0, t0";
  for (int i = 1; i < 80000; ++i) sql += ", t" + std::to_string(i);
  ASSERT_LT(sql.size(), 1024u * 1024u);
  StatementLimits wide;  // 280k tokens: beyond the default max_statement_tokens
  wide.max_statement_tokens = 1000000;
  const auto info = classify(sql, wide);
  ASSERT_TRUE(info.parse_ok) << info.parse_error;
  ASSERT_EQ(info.statements.size(), 1u);
  EXPECT_EQ(info.statements[0].tables.size(), 80000u);
  EXPECT_EQ(info.statements[0].functions.size(), 30000u);
  std::string ctes = "WITH c0 AS (SELECT 1)";
  for (int i = 1; i < 20000; ++i) ctes += ", c" + std::to_string(i) + " AS (SELECT * FROM c" + std::to_string(i - 1) + ")";
  const auto with = classify(ctes + " SELECT * FROM c19999, c0, t", wide);
  ASSERT_TRUE(with.parse_ok) << with.parse_error;
  ASSERT_EQ(with.statements[0].tables.size(), 1u);  // CTE names are not tables
  EXPECT_EQ(with.statements[0].tables[0].name, "t");
}

TEST(PgStatementLimits, ParseErrorMessagesDoNotEchoTheWholeText) {
  const auto info = classify("SELECT 1 \"" + std::string(100000, 'a'));
  EXPECT_FALSE(info.parse_ok);
  EXPECT_LE(info.parse_error.size(), 300u);
  EXPECT_TRUE(info.parse_error_sqlstate.empty());  // a syntax error, 42601
}

// A thread whose stack cannot hold the parse of a deep (but allowed) statement refuses
// it instead of overflowing: 900 nested sub-selects need about 1 MiB in libpg_query.
TEST(PgStatementLimits, DeepStatementOnASmallStackIsRefusedNotCrashed) {
  const std::string sql = "SELECT " + repeat("(SELECT ", 900) + "1" + std::string(900, ')');
  StatementInfo info;
  on_stack(256 * 1024, [&] { info = classify(sql); });
  EXPECT_REFUSED(info, "54001", "stack");
}

// The stack reserve is measured: the worst constructs at the default limit parse (or are
// refused as too deep) on a thread with just the reserved stack plus the test's frames.
TEST(PgStatementLimits, StackReserveCoversTheWorstConstructsAtTheDefaultLimit) {
  const std::size_t n = 990;
  const std::string cases[] = {
      "SELECT " + repeat("(SELECT ", n / 2) + "1" + std::string(n / 2, ')'),
      "SELECT " + repeat("CASE WHEN ", n) + "true" + repeat(" THEN 1 END", n),
      "SELECT " + repeat("ARRAY[", n) + "1" + std::string(n, ']'),
      "SELECT " + repeat("NOT ", n) + "true",
      "SELECT a" + repeat(" COLLATE \"C\"", n),
      "SELECT a" + repeat(" OPERATOR(pg_catalog.+) a", n),
      "SELECT 1" + repeat(" UNION SELECT 1", n),
      "SELECT 1 FROM t" + repeat(" JOIN t ON true", n / 3),
      "SELECT " + repeat("EXISTS(SELECT ", n / 2) + "1" + std::string(n / 2, ')'),
      repeat("WITH a AS (", n / 2) + "SELECT 1" + repeat(") SELECT * FROM a", n / 2),
      "SELECT a" + repeat("+a", n),
  };
  for (const auto& sql : cases) {
    StatementInfo info;
    on_stack(pg_parse_stack_needed(1000) + 64 * 1024, [&] { info = classify(sql); });
    EXPECT_TRUE(info.parse_ok || info.parse_error_sqlstate == "54001") << sql.substr(0, 40) << ": " << info.parse_error;
    EXPECT_EQ(info.parse_error.find("stack"), std::string::npos) << sql.substr(0, 40);
  }
}

}  // namespace
}  // namespace segproxy::authz::sql::test
