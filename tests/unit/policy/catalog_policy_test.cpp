// System catalogs (docs/policy.md "System catalogs"), the catalog helper functions and
// the empty search_path: PolicyEngine decisions on what the real classifiers report.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "authz/policy_engine.hpp"
#include "authz/sql/catalog_relations.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/pg_cache_key.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using config::TableOperation;
using Op = TableOperation;

config::PolicyRule rule(std::string id, std::vector<std::string> tables, config::OperationSet allow,
                        config::OperationSet deny = 0) {
  config::PolicyRule r;
  r.id = std::move(id);
  r.tables = std::move(tables);
  r.allow = allow;
  r.deny = deny;
  return r;
}

config::Segment segment(std::string name, config::CatalogAccess catalog, std::vector<config::PolicyRule> rules,
                        std::string default_schema = "public") {
  config::Segment s;
  s.name = name;
  s.databases = {"shop"};
  s.policy.default_schema = std::move(default_schema);
  s.policy.catalog = catalog;
  s.policy.rules = std::move(rules);
  s.policy.statements = config::class_bit(config::StatementClassGrant::Transaction) |
                        config::class_bit(config::StatementClassGrant::SessionSafe);
  return s;
}

class CatalogPolicy : public ::testing::Test {
 protected:
  CatalogPolicy() : engine_(make()) {}

  static config::Config make() {
    config::Config cfg;
    const auto all = config::kAllOperations;
    const auto select = config::op_bit(Op::Select);
    cfg.segments.emplace("wild", segment("wild", config::CatalogAccess::None,
                                         {rule("everything", {"*.*"}, all), rule("pg", {"*.pg_*", "pg_*.*"}, all),
                                          rule("sys", {"pg_catalog.*", "information_schema.*", "pg_toast.*",
                                                       "mysql.*", "sys.*", "performance_schema.*"}, all)}));
    cfg.segments.emplace("meta", segment("meta", config::CatalogAccess::Metadata,
                                         {rule("orders", {"public.orders"}, select)}));
    cfg.segments.emplace("exact", segment("exact", config::CatalogAccess::None,
                                          {rule("named", {"pg_catalog.pg_stat_activity", "pg_catalog.pg_authid",
                                                          "pg_catalog.pg_statistic", "mysql.db", "mysql.user"},
                                                select)}));
    cfg.segments.emplace("my-wild", segment("my-wild", config::CatalogAccess::None,
                                            {rule("everything", {"*.*"}, all)}, "shop"));
    cfg.segments.emplace("my-meta", segment("my-meta", config::CatalogAccess::Metadata,
                                            {rule("orders", {"shop.orders"}, select)}, "shop"));
    return cfg;
  }

  Decision pg(const std::string& seg, const std::string& sql) const {
    sql::ClassifierOptions opts;
    opts.current_database = "shop";
    return engine_.evaluate(seg, sql::classify_pg(sql, opts), test::utc(2026, 11, 23, 10), "shop");
  }
  Decision my(const std::string& seg, const std::string& sql) const {
    sql::MysqlClassifierOptions opts;
    opts.current_database = "shop";
    return engine_.evaluate(seg, sql::classify_mysql(sql, opts), test::utc(2026, 11, 23, 10), "shop");
  }

  PolicyEngine engine_;
};

TEST_F(CatalogPolicy, WildcardRuleNeverGrantsSystemSchemas) {
  for (const char* rel : {"pg_catalog.pg_class", "pg_catalog.pg_type", "pg_catalog.pg_stat_activity",
                          "pg_catalog.pg_settings", "information_schema.tables", "information_schema.columns",
                          "pg_toast.pg_toast_2619", "pg_class", "pg_namespace", "pg_authid"}) {
    for (const std::string stmt : {"select * from ", "copy ", "lock table ", "delete from "}) {
      const std::string sql = stmt + rel + (stmt == "copy " ? " to stdout" : "");
      const Decision d = pg("wild", sql);
      EXPECT_FALSE(d.allow) << sql << ": " << d.reason;
      EXPECT_EQ(d.sqlstate, "42501") << sql;
    }
  }
  for (const char* rel : {"information_schema.TABLES", "mysql.db", "mysql.user", "MYSQL.proc", "sys.processlist",
                          "performance_schema.threads", "PERFORMANCE_SCHEMA.threads", "Information_Schema.columns"}) {
    for (const char* seg : {"wild", "my-wild"}) {
      const Decision d = my(seg, std::string("SELECT * FROM ") + rel);
      EXPECT_FALSE(d.allow) << seg << " " << rel << ": " << d.reason;
    }
  }
  EXPECT_FALSE(my("my-wild", "SHOW TABLES").allow);
  // The rule still grants ordinary schemas, and a pg_-named user schema is no system schema.
  EXPECT_TRUE(pg("wild", "select * from public.orders").allow);
  EXPECT_TRUE(pg("wild", "select * from pg_temp.scratch").allow);
  EXPECT_TRUE(my("my-wild", "SELECT * FROM shop.orders").allow);
}

TEST_F(CatalogPolicy, WildcardRefusalNamesTheCatalogKey) {
  const Decision d = pg("wild", "select * from pg_catalog.pg_class");
  EXPECT_EQ(d.rule_id, "wild.catalog");
  EXPECT_NE(d.reason.find("catalog: metadata"), std::string::npos) << d.reason;
}

TEST_F(CatalogPolicy, CatalogMetadataGrantsSelectOnTheMetadataListOnly) {
  for (const char* sql : {"select * from pg_catalog.pg_class", "select typname from pg_type where oid = $1",
                          "select * from information_schema.columns", "select rolname from pg_roles",
                          "select * from pg_catalog.pg_attribute a join public.orders o on true"}) {
    const Decision d = pg("meta", sql);
    EXPECT_TRUE(d.allow) << sql << ": " << d.reason;
  }
  EXPECT_NE(pg("meta", "select * from pg_catalog.pg_class").rule_id.find("meta.catalog"), std::string::npos);
  for (const char* sql : {"select * from pg_catalog.pg_settings", "select * from pg_stat_activity",
                          "copy pg_catalog.pg_class to stdout", "delete from pg_catalog.pg_description",
                          "lock table pg_catalog.pg_class in access share mode", "select * from public.customers"}) {
    EXPECT_FALSE(pg("meta", sql).allow) << sql;
  }
  EXPECT_TRUE(my("my-meta", "SHOW TABLES").allow);
  EXPECT_TRUE(my("my-meta", "SELECT * FROM information_schema.COLUMNS").allow);
  EXPECT_FALSE(my("my-meta", "SELECT * FROM information_schema.PROCESSLIST").allow);
  EXPECT_FALSE(my("my-meta", "SELECT * FROM mysql.db").allow);
}

TEST_F(CatalogPolicy, ValueAndCredentialCatalogsAreNeverGranted) {
  for (const char* seg : {"wild", "meta", "exact"}) {
    for (const char* sql : {"select * from pg_catalog.pg_statistic", "select * from pg_stats", "select * from pg_authid",
                            "select * from pg_catalog.pg_shadow", "select * from pg_catalog.pg_user_mappings",
                            "select * from information_schema.user_mapping_options",
                            "select * from pg_catalog.pg_largeobject", "select * from pg_catalog.pg_statistic_ext_data"}) {
      const Decision d = pg(seg, sql);
      EXPECT_FALSE(d.allow) << seg << " " << sql;
      EXPECT_NE(d.reason.find("never granted"), std::string::npos) << seg << " " << sql << ": " << d.reason;
    }
    for (const char* sql : {"SELECT * FROM mysql.user", "SELECT * FROM mysql.global_priv", "SELECT * FROM mysql.column_stats",
                            "SELECT * FROM MySQL.Innodb_Index_Stats", "SELECT * FROM information_schema.COLUMN_STATISTICS"}) {
      EXPECT_FALSE(my(seg, sql).allow) << seg << " " << sql;
    }
  }
}

TEST_F(CatalogPolicy, ExactRuleGrantsOtherSystemRelations) {
  EXPECT_TRUE(pg("exact", "select * from pg_catalog.pg_stat_activity").allow);
  EXPECT_TRUE(pg("exact", "select * from pg_stat_activity").allow);  // unqualified = the catalog view
  EXPECT_FALSE(pg("exact", "select * from pg_catalog.pg_locks").allow);
  EXPECT_TRUE(my("exact", "SELECT * FROM mysql.db").allow);
}

TEST_F(CatalogPolicy, UnqualifiedCatalogNameIsJudgedAsTheCatalogRelationOnly) {
  // The classifier also reports public.pg_class; it is not judged, so metadata suffices.
  EXPECT_TRUE(pg("meta", "select relname from pg_class").allow);
  // A pg_ name that is no catalog relation is still judged in the default schema.
  EXPECT_FALSE(pg("meta", "select * from pg_my_table").allow);
}

TEST_F(CatalogPolicy, OnlyTheEmptySearchPathMayBeSet) {
  for (const char* sql : {"SELECT pg_catalog.set_config('search_path', '', false)", "select set_config('search_path', '', true)",
                          "SET search_path = ''", "SET search_path TO ''", "SET LOCAL search_path = ''",
                          "RESET search_path", "SET search_path TO DEFAULT"}) {
    const Decision d = pg("meta", sql);
    EXPECT_TRUE(d.allow) << sql << ": " << d.reason;
  }
  for (const char* sql : {"SELECT pg_catalog.set_config('search_path', 'public', false)", "SET search_path = public",
                          "SET search_path = ''''", "SELECT set_config('role', '', false)", "SELECT set_config('search_path', '', $1)",
                          "SELECT set_config('search_path', $1, false)", "SELECT evil.set_config('search_path', '', false)",
                          "SET search_path = '', public", "SET search_path = 'public'"}) {
    EXPECT_FALSE(pg("meta", sql).allow) << sql;
  }
}

TEST_F(CatalogPolicy, SearchPathTextIsNeverCachedByShape) {
  // "SET search_path = ''" and "SET search_path = 'evil'" must not share a decision.
  EXPECT_FALSE(sql::pg_cache_key("SET search_path = ''").has_value());
  EXPECT_FALSE(sql::pg_cache_key("select pg_catalog.SET_CONFIG('search_path', '', false)").has_value());
  EXPECT_FALSE(sql::pg_cache_key("SET \"search_path\" = ''").has_value());
  EXPECT_TRUE(sql::pg_cache_key("select * from orders where id = 1").has_value());
}

TEST_F(CatalogPolicy, InformationSchemaHelperFunctionsAreSafeWhenQualified) {
  EXPECT_TRUE(pg("meta", "select information_schema._pg_expandarray(array[1,2])").allow);
  EXPECT_TRUE(pg("meta", "select (information_schema._pg_expandarray(i.indkey)).n from pg_catalog.pg_index i").allow);
  EXPECT_FALSE(pg("meta", "select public._pg_expandarray(array[1])").allow);
  EXPECT_FALSE(pg("meta", "select _pg_expandarray(array[1])").allow);
  EXPECT_FALSE(pg("meta", "select information_schema.not_a_helper(1)").allow);
}

TEST(CatalogRelations, KindsPerProtocol) {
  using sql::CatalogKind;
  EXPECT_EQ(sql::pg_catalog_kind("pg_catalog", "pg_class"), CatalogKind::Metadata);
  EXPECT_EQ(sql::pg_catalog_kind("pg_catalog", "pg_authid"), CatalogKind::Credentials);
  EXPECT_EQ(sql::pg_catalog_kind("pg_catalog", "pg_stats"), CatalogKind::Values);
  EXPECT_EQ(sql::pg_catalog_kind("pg_catalog", "pg_settings"), CatalogKind::Other);
  EXPECT_EQ(sql::pg_catalog_kind("pg_toast", "pg_toast_1"), CatalogKind::Values);
  EXPECT_EQ(sql::pg_catalog_kind("public", "pg_class"), CatalogKind::NotSystem);
  EXPECT_EQ(sql::pg_catalog_kind("sys", "x"), CatalogKind::NotSystem);  // sys is MySQL's
  EXPECT_EQ(sql::mysql_catalog_kind("MySQL", "USER"), CatalogKind::Credentials);
  EXPECT_EQ(sql::mysql_catalog_kind("information_schema", "tables"), CatalogKind::Metadata);
  EXPECT_EQ(sql::mysql_catalog_kind("pg_catalog", "pg_class"), CatalogKind::NotSystem);
  EXPECT_TRUE(sql::is_pg_catalog_relation("pg_class"));
  EXPECT_FALSE(sql::is_pg_catalog_relation("pg_stat_statements"));  // an extension's, in public
}

}  // namespace
}  // namespace segproxy::authz
