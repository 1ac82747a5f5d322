// Replay works from the recorded text (docs/policy.md "Replay"): what audit.statement_text
// `normalized` records must classify again. PostgreSQL's grammar has no `?` literal, so
// reparseable_statement() turns the placeholders into '' (keeping E/X/B prefixes); MySQL
// reads `?` as a parameter marker. Each case: the normalizer's output parses, and the
// classification names the same tables as the original text.
#include <gtest/gtest.h>

#include "audit/statement_text.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "ctl/audit_statements.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace sql = authz::sql;

std::vector<std::string> tables_of(const sql::StatementInfo& info) {
  std::vector<std::string> out;
  for (const auto& p : info.statements)
    for (const auto& t : p.tables) out.push_back(t.schema + "." + t.name + ":" + sql::table_op_name(t.op));
  return out;
}

class PgNormalizedText : public ::testing::TestWithParam<const char*> {};

TEST_P(PgNormalizedText, NormalizedTextParsesAgainWithTheSameTables) {
  const std::string original = GetParam();
  const std::string normalized = audit::normalize_statement(original, "postgresql");
  sql::ClassifierOptions o;
  const auto want = sql::classify_pg(original, o);
  ASSERT_TRUE(want.parse_ok) << original;
  std::string tried;
  for (const std::string& form : reparseable_statements(normalized, "postgresql")) {
    const auto got = sql::classify_pg(form, o);
    if (!got.parse_ok) {
      tried += form + ": " + got.parse_error + "\n";
      continue;
    }
    EXPECT_EQ(tables_of(got), tables_of(want)) << form;
    return;
  }
  ADD_FAILURE() << "no form of " << normalized << " parses:\n" << tried;
}

INSTANTIATE_TEST_SUITE_P(
    Statements, PgNormalizedText,
    ::testing::Values("SELECT abalance FROM pgbench_accounts WHERE aid = 4711",
                      "UPDATE pgbench_accounts SET abalance = abalance + -17 WHERE aid = 5",
                      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, -4, CURRENT_TIMESTAMP)",
                      "SELECT * FROM orders WHERE note = E'it''s \\\\ here' AND code = X'1F' LIMIT 10 OFFSET 5",
                      "SELECT $1::int, 'a'::text, $$dollar$$, $q$x$q$ FROM t WHERE d > DATE '2020-01-01'",
                      "SELECT now() - INTERVAL '1 day', 1.5e3, \"Mixed?\" FROM \"Odd?Table\"",
                      "CREATE TABLE t_x (id int, filler char(22)) WITH (fillfactor=100)",
                      "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' "
                      "COLLATE pg_catalog.default AND c.relkind IN ('r','p','v','m','S','f','')",
                      "BEGIN; SELECT 1; COMMIT"));

TEST(ReparseableStatement, QuestionMarksInsideQuotesAndCommentsStayAndPrefixesGetStrings) {
  using V = std::vector<std::string>;
  EXPECT_EQ(reparseable_statements("SELECT '?', \"a?\" -- ?\n, ? /* ? */", "postgresql"),
            (V{"SELECT '?', \"a?\" -- ?\n, 0 /* ? */", "SELECT '?', \"a?\" -- ?\n, '' /* ? */",
               "SELECT '?', \"a?\" -- ?\n, ? /* ? */"}));
  EXPECT_EQ(reparseable_statements("SELECT E? , X?, DATE ?", "postgresql").front(), "SELECT E'' , X'', DATE ''");
  EXPECT_EQ(reparseable_statements("SELECT 1", "postgresql"), (V{"SELECT 1"}));
}

TEST(ReparseableStatement, MysqlTextIsOnlyTheRecordedOne) {
  EXPECT_EQ(reparseable_statements("SELECT c FROM sbtest1 WHERE id=?", "mysql"),
            (std::vector<std::string>{"SELECT c FROM sbtest1 WHERE id=?"}));
}

class MysqlNormalizedText : public ::testing::TestWithParam<const char*> {};

TEST_P(MysqlNormalizedText, NormalizedTextParsesAgainWithTheSameTables) {
  const std::string original = GetParam();
  const std::string normalized = audit::normalize_statement(original, "mysql");
  sql::MysqlClassifierOptions o;
  o.current_database = "shop";
  const auto want = sql::classify_mysql(original, o);
  ASSERT_TRUE(want.parse_ok) << original;
  const auto got = sql::classify_mysql(reparseable_statements(normalized, "mysql").front(), o);
  ASSERT_TRUE(got.parse_ok) << normalized << ": " << got.parse_error;
  EXPECT_EQ(tables_of(got), tables_of(want)) << normalized;
}

INSTANTIATE_TEST_SUITE_P(
    Statements, MysqlNormalizedText,
    ::testing::Values("SELECT c FROM sbtest1 WHERE id=42",
                      "SELECT c FROM sbtest1 WHERE id BETWEEN 10 AND 109 ORDER BY c",
                      "UPDATE sbtest1 SET k=k+1 WHERE id=7",
                      "INSERT INTO sbtest1 (id, k, c, pad) VALUES (5, 6, 'x-y', \"z\")",
                      "DELETE FROM sbtest1 WHERE id=3", "SELECT * FROM t LIMIT 10, 20"));

}  // namespace
}  // namespace segproxy::proxy::ctl
