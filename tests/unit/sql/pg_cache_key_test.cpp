// The decision cache may only merge texts whose classification is identical.
#include <gtest/gtest.h>

#include "authz/sql/pg_cache_key.hpp"
#include "authz/sql/pg_classifier.hpp"

namespace segproxy::authz::sql {
namespace {

TEST(PgCacheKey, StatementsDifferingOnlyInLiteralsShareAKey) {
  auto a = pg_cache_key("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
  auto b = pg_cache_key("SELECT abalance FROM pgbench_accounts WHERE aid = 7;");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(pg_cache_key("UPDATE t SET a = 'x''y', b = 1.5 WHERE c = 'z'"),
            pg_cache_key("UPDATE t SET a = 'q', b = 20 WHERE c = ''"));
}

TEST(PgCacheKey, DifferentNamesOrKeywordsNeverShareAKey) {
  EXPECT_NE(pg_cache_key("SELECT * FROM orders WHERE id = 1"), pg_cache_key("SELECT * FROM customers_pii WHERE id = 1"));
  EXPECT_NE(pg_cache_key("SELECT * FROM \"Orders\""), pg_cache_key("SELECT * FROM \"orders\""));
  EXPECT_NE(pg_cache_key("SELECT * FROM t1"), pg_cache_key("SELECT * FROM t2"));
  EXPECT_NE(pg_cache_key("SELECT $1"), pg_cache_key("SELECT $2"));
}

TEST(PgCacheKey, NumbersInsideIdentifiersAreNotLiterals) {
  auto k = pg_cache_key("SELECT * FROM t1 JOIN t2 ON t1.a = t2.a");
  ASSERT_TRUE(k);
  EXPECT_NE(k->find("t1"), std::string::npos);
  EXPECT_NE(k->find("t2"), std::string::npos);
}

TEST(PgCacheKey, UncertainLexingGivesUp) {
  for (const char* sql : {
           "SELECT 1 -- it's a comment",
           "SELECT /* ' */ 1",
           "DO $$ BEGIN END $$",
           "SELECT $a$x$a$",
           "SELECT E'\\x'",
           "SELECT U&'\\0061'",
           "SELECT B'101'",
           "SELECT X'1F'",
           "SELECT N'x'",
           "SELECT 'a'\n'b'",
           "SELECT 'unterminated",
           "SELECT \"unterminated",
           "SELECT 1e5",
           "SELECT 0x1F",
           "SELECT 123abc",
           "SELECT '\xc3\xa9'",
           "SELECT 1 \\g",
       }) {
    EXPECT_FALSE(pg_cache_key(sql)) << sql;
  }
}

TEST(PgCacheKey, StandardConformingStringsOffAlwaysGivesUp) {
  EXPECT_FALSE(pg_cache_key("SELECT 1", false));
}

TEST(PgCacheKey, NormalisedKeyNeverEqualsAnExactTextKey) {
  auto k = pg_cache_key("SELECT 1");
  ASSERT_TRUE(k);
  EXPECT_NE(*k, "SELECT 1");
  EXPECT_EQ(k->rfind("\x01N:", 0), 0u);
}

// Property: texts that share a key are classified identically.
TEST(PgCacheKey, TextsSharingAKeyClassifyIdentically) {
  const std::pair<const char*, const char*> pairs[] = {
      {"SELECT * FROM orders WHERE id = 1", "SELECT * FROM orders WHERE id = 99"},
      // set_config / search_path text is no longer keyed by shape (the empty search_path
      // is allowed, any other is not): SearchPathTextIsNeverCachedByShape (unit_policy).
      {"COPY orders TO '/tmp/x'", "COPY orders TO '/etc/passwd'"},
      {"SELECT nextval('seq_a')", "SELECT nextval('customers_pii_id_seq')"},
      {"SELECT query_to_xml('select 1', true, true, '')", "SELECT query_to_xml('select * from customers_pii', true, true, '')"},
      {"SET statement_timeout = 5000", "SET statement_timeout = 0"},
      {"SELECT 'customers_pii'::regclass", "SELECT 'orders'::regclass"},
      {"INSERT INTO orders(customer, amount) VALUES ('a', 1.5)", "INSERT INTO orders(customer, amount) VALUES ('b', 2)"},
  };
  ClassifierOptions opts;
  for (const auto& [a, b] : pairs) {
    auto ka = pg_cache_key(a);
    auto kb = pg_cache_key(b);
    ASSERT_TRUE(ka && kb) << a;
    ASSERT_EQ(*ka, *kb) << a;
    auto ia = classify_pg(a, opts);
    auto ib = classify_pg(b, opts);
    ASSERT_EQ(ia.statements.size(), ib.statements.size()) << a;
    for (std::size_t i = 0; i < ia.statements.size(); ++i) {
      EXPECT_EQ(ia.statements[i].klass, ib.statements[i].klass) << a;
      EXPECT_EQ(ia.statements[i].tables, ib.statements[i].tables) << a;
      EXPECT_EQ(ia.statements[i].functions, ib.statements[i].functions) << a;
      EXPECT_EQ(ia.statements[i].command, ib.statements[i].command) << a;
    }
  }
}

}  // namespace
}  // namespace segproxy::authz::sql
