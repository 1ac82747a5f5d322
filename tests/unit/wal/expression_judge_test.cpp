// Catalog expressions judged as `SELECT <expression>` (authz/wal/expression_judge): what
// the catalog loaders use for defaults, CHECKs, index expressions, domains and policies.
#include <gtest/gtest.h>

#include <string>

#include "authz/wal/expression_judge.hpp"

namespace segproxy::authz::wal::test {
namespace {

WalCatalog names() {
  WalCatalog c;
  c.user_function_names.insert("lower");  // a user function shadowing a listed name
  c.user_operator_names.insert("===");
  return c;
}

bool pg(const char* expr) {
  std::string why;
  return pg_expression_listed(expr, WalCatalog{}, why);
}

TEST(PgExpressionJudge, ListedBuiltinsConstantsAndColumnsPass) {
  EXPECT_TRUE(pg("(price > (0)::numeric)"));
  EXPECT_TRUE(pg("now()"));
  EXPECT_TRUE(pg("CURRENT_TIMESTAMP"));
  EXPECT_TRUE(pg("'open'::text"));
  EXPECT_TRUE(pg("upper((name)::text)"));
  EXPECT_TRUE(pg("((length(name) > 0) AND (qty >= 0))"));
  EXPECT_TRUE(pg("(VALUE > 0)"));  // a domain constraint
}

TEST(PgExpressionJudge, SchemaQualifiedUserFunctionDoesNotPass) {
  std::string why;
  EXPECT_FALSE(pg_expression_listed("public.audit_me(id)", WalCatalog{}, why));
  EXPECT_FALSE(why.empty());
}

TEST(PgExpressionJudge, UnlistedBuiltinDoesNotPass) {
  EXPECT_FALSE(pg("pg_advisory_lock((1)::bigint)"));
  EXPECT_FALSE(pg("txid_current()"));
  EXPECT_FALSE(pg("random()"));
}

TEST(PgExpressionJudge, NextvalOutsideAColumnDefaultDoesNotPass) {
  EXPECT_FALSE(pg("nextval('public.t_id_seq'::regclass)"));
}

TEST(PgExpressionJudge, ListedNameShadowedByAUserFunctionDoesNotPass) {
  std::string why;
  EXPECT_FALSE(pg_expression_listed("lower(name)", names(), why));
  EXPECT_NE(why.find("outside pg_catalog"), std::string::npos) << why;
}

TEST(PgExpressionJudge, UserOperatorDoesNotPass) {
  std::string why;
  EXPECT_FALSE(pg_expression_listed("(a OPERATOR(public.===) b)", names(), why));
  EXPECT_FALSE(pg_expression_listed("(a === b)", names(), why));
}

TEST(PgExpressionJudge, CastToAUserTypeDoesNotPass) { EXPECT_FALSE(pg("('x'::public.mood)")); }

TEST(PgExpressionJudge, ExpressionReadingARelationDoesNotPass) {
  EXPECT_FALSE(pg("(owner IN ( SELECT members.name FROM public.members))"));
}

TEST(PgExpressionJudge, TextThatIsNotOneExpressionDoesNotPass) {
  EXPECT_FALSE(pg(""));
  EXPECT_FALSE(pg("1; SELECT 2"));
  EXPECT_FALSE(pg("(((("));
  EXPECT_FALSE(pg(std::string(kMaxExpressionText + 1, '1').c_str()));
}

TEST(PgDefaultJudge, SerialNextvalDefaultPasses) {
  std::string why;
  EXPECT_TRUE(pg_default_listed("nextval('public.orders_id_seq'::regclass)", WalCatalog{}, why)) << why;
  EXPECT_TRUE(pg_default_listed("nextval('public.\"we''ird\"'::regclass)", WalCatalog{}, why)) << why;
  EXPECT_TRUE(pg_default_listed("now()", WalCatalog{}, why)) << why;
}

TEST(PgDefaultJudge, NextvalWithMoreThanASequenceLiteralDoesNotPass) {
  std::string why;
  EXPECT_FALSE(pg_default_listed("nextval('a'::regclass) + public.f()", WalCatalog{}, why));
  EXPECT_FALSE(pg_default_listed("nextval('a'::regclass), public.f()", WalCatalog{}, why));
  EXPECT_FALSE(pg_default_listed("nextval('a' || public.f()::regclass)", WalCatalog{}, why));
  EXPECT_FALSE(pg_default_listed("nextval('a'') + public.f() + (''::regclass)", WalCatalog{}, why));
  EXPECT_FALSE(pg_default_listed("nextval('a\\'::regclass)", WalCatalog{}, why));
  EXPECT_FALSE(pg_default_listed("public.audit_me()", WalCatalog{}, why));
}

bool my(const char* expr) {
  sql::MysqlClassifierOptions opts;
  opts.server_is_mariadb = true;
  opts.current_database = "shop";
  std::string why;
  return mysql_expression_listed(expr, opts, why);
}

TEST(MysqlExpressionJudge, ListedBuiltinsAndLiteralsPass) {
  EXPECT_TRUE(my("current_timestamp()"));
  EXPECT_TRUE(my("'open'"));
  EXPECT_TRUE(my("NULL"));
  EXPECT_TRUE(my("0"));
  EXPECT_TRUE(my("`price` > 0"));
  EXPECT_TRUE(my("concat(`a`,'-',`b`)"));
}

TEST(MysqlExpressionJudge, StoredOrUnlistedFunctionDoesNotPass) {
  EXPECT_FALSE(my("`shop`.`audit_me`(`id`)"));
  EXPECT_FALSE(my("uuid()"));
  EXPECT_FALSE(my("sleep(1)"));
  EXPECT_FALSE(my("get_lock('x',1)"));
}

TEST(MysqlExpressionJudge, TextThatIsNotOneExpressionDoesNotPass) {
  EXPECT_FALSE(my(""));
  EXPECT_FALSE(my("1; DELETE FROM t"));
  EXPECT_FALSE(my("(select count(*) from `shop`.`t`)"));
}

}  // namespace
}  // namespace segproxy::authz::wal::test
