// Catalog rows -> write-ahead facts (authz/wal/pg_catalog_facts, mysql_catalog_facts):
// every reason a relation must not be contained or read-only has its own test.
#include <gtest/gtest.h>

#include <string>

#include "authz/wal/mysql_catalog_facts.hpp"
#include "authz/wal/pg_catalog_facts.hpp"

namespace segproxy::authz::wal::test {
namespace {

PgRelationRow table(const char* name) {
  PgRelationRow r;
  r.schema = "public";
  r.name = name;
  r.relkind = 'r';
  return r;
}

const RelationFacts& facts(const WalCatalog& c, const char* schema, const char* name) {
  const auto* f = c.find(schema, name);
  static const RelationFacts none;
  EXPECT_NE(f, nullptr) << schema << "." << name;
  return f ? *f : none;
}

bool contained(const RelationFacts& f) { return f.kind == RelationKind::Table && f.transactional && f.hooks_listed_only; }

TEST(PgCatalogFacts, PlainTableIsContainedAndReadOnly) {
  PgCatalogRows rows;
  rows.relations.push_back(table("accounts"));
  rows.expressions.push_back({"public", "accounts", PgExpressionKind::Default, "nextval('public.accounts_id_seq'::regclass)"});
  rows.expressions.push_back({"public", "accounts", PgExpressionKind::Check, "(balance >= (0)::numeric)"});
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_TRUE(contained(facts(c, "public", "accounts")));
  EXPECT_TRUE(facts(c, "public", "accounts").read_only_ok);
}

TEST(PgCatalogFacts, RelationKindsFollowRelkind) {
  PgCatalogRows rows;
  for (const auto& [name, kind] : {std::pair{"p", 'p'}, {"v", 'v'}, {"m", 'm'}, {"f", 'f'}, {"s", 'S'}, {"c", 'c'}}) {
    auto r = table(name);
    r.relkind = kind;
    rows.relations.push_back(r);
  }
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_EQ(facts(c, "public", "p").kind, RelationKind::Table);
  EXPECT_EQ(facts(c, "public", "v").kind, RelationKind::View);
  EXPECT_EQ(facts(c, "public", "m").kind, RelationKind::MaterializedView);
  EXPECT_EQ(facts(c, "public", "f").kind, RelationKind::Foreign);
  EXPECT_EQ(facts(c, "public", "s").kind, RelationKind::Sequence);
  EXPECT_EQ(facts(c, "public", "c").kind, RelationKind::Other);
}

TEST(PgCatalogFacts, ForeignTableIsNeitherTransactionalNorReadOnly) {
  PgCatalogRows rows;
  auto r = table("remote");
  r.relkind = 'f';
  rows.relations.push_back(r);
  const auto& f = facts(build_pg_wal_catalog(rows), "public", "remote");
  EXPECT_FALSE(f.transactional);
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_FALSE(f.read_only_ok);
}

TEST(PgCatalogFacts, TableWithAUserTriggerIsNotContained) {
  PgCatalogRows rows;
  auto r = table("t");
  r.user_trigger = true;
  rows.relations.push_back(r);
  const auto& f = facts(build_pg_wal_catalog(rows), "public", "t");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_TRUE(f.read_only_ok);  // a trigger does not fire on reads
}

TEST(PgCatalogFacts, TableWithARuleIsNotContained) {
  PgCatalogRows rows;
  auto r = table("t");
  r.rule = true;
  rows.relations.push_back(r);
  EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "t").hooks_listed_only);
}

TEST(PgCatalogFacts, TableWithAUserTypeColumnIsNeitherContainedNorReadOnly) {
  PgCatalogRows rows;
  auto r = table("t");
  r.user_type_column = true;
  r.user_write_type_column = true;
  rows.relations.push_back(r);
  const auto& f = facts(build_pg_wal_catalog(rows), "public", "t");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_FALSE(f.read_only_ok);
}

TEST(PgCatalogFacts, TableWithAUserOperatorClassOrExclusionOperatorIsNotContained) {
  PgCatalogRows rows;
  auto a = table("a");
  a.user_index_opclass = true;
  auto b = table("b");
  b.user_exclusion_operator = true;
  rows.relations = {a, b};
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_FALSE(facts(c, "public", "a").hooks_listed_only);
  EXPECT_FALSE(facts(c, "public", "b").hooks_listed_only);
}

TEST(PgCatalogFacts, EachExpressionCallingAUserFunctionMakesTheTableNotContained) {
  for (const auto kind : {PgExpressionKind::Default, PgExpressionKind::Check, PgExpressionKind::Index,
                          PgExpressionKind::IndexPredicate, PgExpressionKind::DomainCheck}) {
    PgCatalogRows rows;
    rows.relations.push_back(table("t"));
    rows.expressions.push_back({"public", "t", kind, "public.stamp(id)"});
    EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "t").hooks_listed_only) << static_cast<int>(kind);
  }
}

TEST(PgCatalogFacts, UnprintableExpressionMakesTheTableNotContained) {
  PgCatalogRows rows;
  rows.relations.push_back(table("t"));
  rows.expressions.push_back({"public", "t", PgExpressionKind::Check, ""});
  EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "t").hooks_listed_only);
}

TEST(PgCatalogFacts, RowSecurityPolicyCallingAUserFunctionIsNeitherContainedNorReadOnly) {
  PgCatalogRows rows;
  auto r = table("secured");
  r.row_security = true;
  rows.relations.push_back(r);
  rows.expressions.push_back({"public", "secured", PgExpressionKind::Policy, "public.allowed(owner)"});
  const auto& f = facts(build_pg_wal_catalog(rows), "public", "secured");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_FALSE(f.read_only_ok);
}

TEST(PgCatalogFacts, RowSecurityPolicyOfListedCodeKeepsTheTableContained) {
  PgCatalogRows rows;
  auto r = table("secured");
  r.row_security = true;
  rows.relations.push_back(r);
  rows.expressions.push_back({"public", "secured", PgExpressionKind::Policy, "(owner = CURRENT_USER)"});
  const auto& f = facts(build_pg_wal_catalog(rows), "public", "secured");
  EXPECT_TRUE(f.hooks_listed_only);
  EXPECT_TRUE(f.read_only_ok);
}

TEST(PgCatalogFacts, ForeignKeyActionReachingATableWithATriggerMakesTheReferencedTableNotContained) {
  PgCatalogRows rows;
  auto child = table("child");
  child.user_trigger = true;
  rows.relations = {table("parent"), child, table("grandparent")};
  rows.fk_actions.push_back({"public", "parent", "public", "child"});        // parent's delete cascades to child
  rows.fk_actions.push_back({"public", "grandparent", "public", "parent"});  // and on: fixpoint
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_FALSE(facts(c, "public", "parent").hooks_listed_only);
  EXPECT_FALSE(facts(c, "public", "grandparent").hooks_listed_only);
}

TEST(PgCatalogFacts, ForeignKeyActionReachingAHookFreeTableKeepsItContained) {
  PgCatalogRows rows;
  rows.relations = {table("parent"), table("child")};
  rows.fk_actions.push_back({"public", "parent", "public", "child"});
  EXPECT_TRUE(facts(build_pg_wal_catalog(rows), "public", "parent").hooks_listed_only);
}

TEST(PgCatalogFacts, PartitionedTableWithAForeignOrTriggeredPartitionIsNotContained) {
  PgCatalogRows rows;
  auto parent = table("measurements");
  parent.relkind = 'p';
  auto remote = table("m_remote");
  remote.relkind = 'f';
  auto other = table("events");
  other.relkind = 'p';
  auto trig = table("events_2026");
  trig.user_trigger = true;
  rows.relations = {parent, remote, table("m_local"), other, trig};
  rows.inherits = {{"public", "measurements", "public", "m_local"},
                   {"public", "measurements", "public", "m_remote"},
                   {"public", "events", "public", "events_2026"}};
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_FALSE(facts(c, "public", "measurements").transactional);
  EXPECT_FALSE(facts(c, "public", "measurements").read_only_ok);
  EXPECT_FALSE(facts(c, "public", "events").hooks_listed_only);
  EXPECT_TRUE(contained(facts(c, "public", "m_local")));
}

TEST(PgCatalogFacts, ViewOverReadOnlyTablesIsReadOnlyIncludingViewsOfViews) {
  PgCatalogRows rows;
  auto v1 = table("v1");
  v1.relkind = 'v';
  auto v2 = table("v2");
  v2.relkind = 'v';
  rows.relations = {table("accounts"), v1, v2};
  // v2 first: it becomes read-only only after v1 did (fixpoint).
  rows.views.push_back({"public", "v2", " SELECT v1.id FROM public.v1 WHERE (v1.id > 0);"});
  rows.views.push_back({"public", "v1", " SELECT accounts.id, upper(accounts.name) AS name FROM public.accounts;"});
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_TRUE(facts(c, "public", "v1").read_only_ok);
  EXPECT_TRUE(facts(c, "public", "v2").read_only_ok);
  EXPECT_FALSE(facts(c, "public", "v1").hooks_listed_only);
}

TEST(PgCatalogFacts, ViewCallingAUserFunctionIsNotReadOnly) {
  PgCatalogRows rows;
  auto v = table("v");
  v.relkind = 'v';
  rows.relations = {table("accounts"), v};
  rows.views.push_back({"public", "v", " SELECT public.stamp(accounts.id) AS s FROM public.accounts;"});
  EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "v").read_only_ok);
}

TEST(PgCatalogFacts, ViewOverARowSecurityTableWithUnlistedPolicyIsNotReadOnly) {
  PgCatalogRows rows;
  auto s = table("secured");
  s.row_security = true;
  auto v = table("v");
  v.relkind = 'v';
  rows.relations = {s, v};
  rows.expressions.push_back({"public", "secured", PgExpressionKind::Policy, "public.allowed(owner)"});
  rows.views.push_back({"public", "v", " SELECT secured.owner FROM public.secured;"});
  EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "v").read_only_ok);
}

TEST(PgCatalogFacts, ViewWithoutADefinitionRowIsNotReadOnly) {
  PgCatalogRows rows;
  auto v = table("v");
  v.relkind = 'v';
  rows.relations = {v};
  EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "v").read_only_ok);
}

TEST(PgCatalogFacts, TemporaryRelationOfTheSameNameMakesEveryNamesakeNotTrusted) {
  PgCatalogRows rows;
  auto temp = table("accounts");
  temp.schema = "pg_temp_3";
  rows.relations = {table("accounts"), temp, table("other")};
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_FALSE(facts(c, "public", "accounts").hooks_listed_only);
  EXPECT_FALSE(facts(c, "public", "accounts").read_only_ok);
  EXPECT_FALSE(facts(c, "pg_temp_3", "accounts").hooks_listed_only);
  EXPECT_TRUE(contained(facts(c, "public", "other")));
}

TEST(PgCatalogFacts, UserDefinedNamesAreCarried) {
  PgCatalogRows rows;
  rows.user_functions = {"stamp"};
  rows.user_operators = {"==="};
  rows.attribute_functions = {"total"};
  const auto c = build_pg_wal_catalog(rows);
  EXPECT_EQ(c.user_function_names.count("stamp"), 1u);
  EXPECT_EQ(c.user_operator_names.count("==="), 1u);
  EXPECT_EQ(c.attribute_functions.count("total"), 1u);
}

TEST(PgCatalogFacts, DefaultShadowedByAUserFunctionOfAListedNameIsNotContained) {
  PgCatalogRows rows;
  rows.relations = {table("t")};
  rows.user_functions = {"now"};
  rows.expressions.push_back({"public", "t", PgExpressionKind::Default, "now()"});
  EXPECT_FALSE(facts(build_pg_wal_catalog(rows), "public", "t").hooks_listed_only);
}

// ---- MySQL / MariaDB ----

sql::MysqlClassifierOptions mariadb() {
  sql::MysqlClassifierOptions o;
  o.server_is_mariadb = true;
  o.server_version = 101100;
  return o;
}

MysqlCatalogRows shop() {
  MysqlCatalogRows rows;
  rows.triggers_visible = true;
  rows.tables.push_back({"shop", "orders", "BASE TABLE", "InnoDB"});
  return rows;
}

TEST(MysqlCatalogFacts, InnodbTableIsContainedAndReadOnly) {
  auto rows = shop();
  rows.columns.push_back({"shop", "orders", true, "current_timestamp()", "on update current_timestamp()", ""});
  rows.columns.push_back({"shop", "orders", true, "'new'", "", ""});
  rows.checks.push_back({"shop", "orders", "`qty` > 0"});
  const auto c = build_mysql_wal_catalog(rows, mariadb());
  EXPECT_TRUE(contained(facts(c, "shop", "orders")));
  EXPECT_TRUE(facts(c, "shop", "orders").read_only_ok);
}

TEST(MysqlCatalogFacts, NonTransactionalEngineIsNotTransactional) {
  MysqlCatalogRows rows;
  rows.triggers_visible = true;
  for (const char* e : {"MyISAM", "MEMORY", "Aria", "CSV", "ARCHIVE", "MRG_MyISAM", "BLACKHOLE", ""})
    rows.tables.push_back({"shop", std::string("t_") + e, "BASE TABLE", e});
  const auto c = build_mysql_wal_catalog(rows, mariadb());
  for (const auto& t : rows.tables) EXPECT_FALSE(facts(c, "shop", t.name.c_str()).transactional) << t.engine;
  EXPECT_TRUE(mysql_transactional_engine("innodb"));
}

TEST(MysqlCatalogFacts, TableWithAnyTriggerIsNotContained) {
  auto rows = shop();
  rows.triggers.emplace_back("shop", "orders");
  const auto& f = facts(build_mysql_wal_catalog(rows, mariadb()), "shop", "orders");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_TRUE(f.read_only_ok);
}

TEST(MysqlCatalogFacts, LoginThatCannotSeeTriggersLeavesNoTableContained) {
  auto rows = shop();
  rows.triggers_visible = false;
  const auto& f = facts(build_mysql_wal_catalog(rows, mariadb()), "shop", "orders");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_TRUE(f.transactional);
  EXPECT_TRUE(f.read_only_ok);
}

TEST(MysqlCatalogFacts, DefaultCallingAnUnlistedFunctionIsNotContained) {
  auto rows = shop();
  rows.columns.push_back({"shop", "orders", true, "uuid()", "", ""});
  EXPECT_FALSE(facts(build_mysql_wal_catalog(rows, mariadb()), "shop", "orders").hooks_listed_only);
}

TEST(MysqlCatalogFacts, MysqlLiteralDefaultIsNotJudgedButAnExpressionDefaultIs) {
  auto o = mariadb();
  o.server_is_mariadb = false;
  o.server_version = 80036;
  auto rows = shop();
  rows.columns.push_back({"shop", "orders", true, "uuid", "", ""});  // the literal 'uuid'
  EXPECT_TRUE(facts(build_mysql_wal_catalog(rows, o), "shop", "orders").hooks_listed_only);
  rows.columns.push_back({"shop", "orders", true, "uuid()", "DEFAULT_GENERATED", ""});
  EXPECT_FALSE(facts(build_mysql_wal_catalog(rows, o), "shop", "orders").hooks_listed_only);
}

TEST(MysqlCatalogFacts, GeneratedColumnCallingAnUnlistedFunctionIsNeitherContainedNorReadOnly) {
  auto rows = shop();
  rows.columns.push_back({"shop", "orders", false, "", "VIRTUAL GENERATED", "sleep(`qty`)"});
  const auto& f = facts(build_mysql_wal_catalog(rows, mariadb()), "shop", "orders");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_FALSE(f.read_only_ok);
}

TEST(MysqlCatalogFacts, OnUpdateCallingAnUnlistedFunctionIsNotContained) {
  auto rows = shop();
  rows.columns.push_back({"shop", "orders", false, "", "on update uuid()", ""});
  EXPECT_FALSE(facts(build_mysql_wal_catalog(rows, mariadb()), "shop", "orders").hooks_listed_only);
}

TEST(MysqlCatalogFacts, CheckCallingAStoredFunctionIsNotContained) {
  auto rows = shop();
  rows.checks.push_back({"shop", "orders", "`shop`.`valid`(`qty`)"});
  EXPECT_FALSE(facts(build_mysql_wal_catalog(rows, mariadb()), "shop", "orders").hooks_listed_only);
}

TEST(MysqlCatalogFacts, ViewsAreReadOnlyOnlyWhenTheirDefinitionIsProven) {
  auto rows = shop();
  rows.tables.push_back({"shop", "v_ok", "VIEW", ""});
  rows.tables.push_back({"shop", "v_of_v", "VIEW", ""});
  rows.tables.push_back({"shop", "v_bad", "VIEW", ""});
  rows.tables.push_back({"shop", "v_hidden", "VIEW", ""});
  rows.views.push_back({"shop", "v_of_v", "select `v_ok`.`id` AS `id` from `shop`.`v_ok`"});
  rows.views.push_back({"shop", "v_ok", "select `shop`.`orders`.`id` AS `id` from `shop`.`orders`"});
  rows.views.push_back({"shop", "v_bad", "select `shop`.`audit`(`shop`.`orders`.`id`) AS `a` from `shop`.`orders`"});
  rows.views.push_back({"shop", "v_hidden", ""});  // no SHOW VIEW
  const auto c = build_mysql_wal_catalog(rows, mariadb());
  EXPECT_TRUE(facts(c, "shop", "v_ok").read_only_ok);
  EXPECT_TRUE(facts(c, "shop", "v_of_v").read_only_ok);
  EXPECT_FALSE(facts(c, "shop", "v_bad").read_only_ok);
  EXPECT_FALSE(facts(c, "shop", "v_hidden").read_only_ok);
  EXPECT_FALSE(facts(c, "shop", "v_ok").hooks_listed_only);
}

TEST(MysqlCatalogFacts, StoredFunctionsAreUserFunctionNamesInLowerCase) {
  auto rows = shop();
  rows.functions = {"Audit"};
  EXPECT_EQ(build_mysql_wal_catalog(rows, mariadb()).user_function_names.count("audit"), 1u);
}

}  // namespace
}  // namespace segproxy::authz::wal::test
