// The write classes computed from the policy classifier's own parse tree
// (classify_pg(..., on_tree)) equal those from the text, and the classifier's answer is
// unchanged by the visitor: the session parses each statement once.
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/pg_classifier.hpp"
#include "authz/wal/pg_write_class.hpp"
#include "wal_catalog_fixture.hpp"

namespace segproxy::authz::wal::test {
namespace {

TEST(PgTreeReuse, ClassesFromTheClassifiersTreeEqualClassesFromTheText) {
  const WalCatalog catalog = test_catalog("public");
  const ClassContext ctx = context(catalog, "public");
  const sql::ClassifierOptions opts;
  for (const char* q : {"select abalance from accounts where aid = $1", "insert into accounts values (1)",
                        "select nextval('s')", "begin", "select 1; commit", "call p()",
                        "explain analyze update accounts set n = 1", "set work_mem = '1MB'",
                        "with d as (delete from history returning *) select * from d"}) {
    int calls = 0;
    MessageClass from_tree = escaping("visitor not called");
    const sql::StatementInfo info = sql::classify_pg(q, opts, [&](const PgQuery__ParseResult& tree) {
      ++calls;
      from_tree = pg_write_classes(&tree, ctx).message;
    });
    const sql::StatementInfo plain = sql::classify_pg(q, opts);
    EXPECT_EQ(calls, 1) << q;
    EXPECT_EQ(from_tree.klass, pg_write_classes(std::string_view(q), ctx).message.klass) << q;
    EXPECT_EQ(from_tree.ends_transaction_only, pg_write_classes(std::string_view(q), ctx).message.ends_transaction_only);
    ASSERT_EQ(info.statements.size(), plain.statements.size()) << q;
    EXPECT_EQ(info.parse_ok, plain.parse_ok);
    EXPECT_EQ(info.fingerprint, plain.fingerprint);
    for (std::size_t i = 0; i < info.statements.size(); ++i) {
      EXPECT_EQ(info.statements[i].klass, plain.statements[i].klass) << q;
      EXPECT_EQ(info.statements[i].tables, plain.statements[i].tables) << q;
    }
  }
}

TEST(PgTreeReuse, NoTreeNoVisitForTextThatDidNotParse) {
  int calls = 0;
  const auto visit = [&](const PgQuery__ParseResult&) { ++calls; };
  EXPECT_FALSE(sql::classify_pg("selec 1", sql::ClassifierOptions{}, visit).parse_ok);
  sql::ClassifierOptions small;
  small.limits.max_statement_length = 4;
  EXPECT_FALSE(sql::classify_pg("select 1", small, visit).parse_ok);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace segproxy::authz::wal::test
