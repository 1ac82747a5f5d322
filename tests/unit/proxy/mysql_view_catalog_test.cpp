// daemon/catalog/mysql_view_catalog: which catalog source fits the server (from SELECT VERSION())
// and how VIEWS / VIEW_TABLE_USAGE rows become a view catalog. The MySQL 8 path
// (VIEW_TABLE_USAGE) has no server in the test environment (Debian ships MariaDB): these
// tests are its coverage.
#include "daemon/catalog/mysql_view_catalog.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace segproxy::proxy {
namespace {

using authz::RelationName;

authz::sql::MysqlClassifierOptions options(std::string_view version, int lower_case_table_names = 0) {
  const auto v = authz::sql::parse_mysql_server_version(version);
  authz::sql::MysqlClassifierOptions o;
  o.server_is_mariadb = v.mariadb;
  o.server_version = v.version;
  o.lower_case_table_names = lower_case_table_names;
  return o;
}

std::vector<RelationName> reads(const authz::ViewCatalog& c, const RelationName& view) {
  const auto* r = c.reads(view);
  return r == nullptr ? std::vector<RelationName>{} : *r;
}

TEST(MysqlViewSource, MariaDbAlwaysUsesDefinitionsEvenWithAVersionAbove8013) {
  EXPECT_EQ(mysql_view_source("10.11.6-MariaDB-0+deb12u1"), MysqlViewSource::Definitions);
  EXPECT_EQ(mysql_view_source("5.5.5-10.6.11-MariaDB-log"), MysqlViewSource::Definitions);
  EXPECT_EQ(mysql_view_source("11.4.2-MariaDB"), MysqlViewSource::Definitions);
}

TEST(MysqlViewSource, Mysql8013AndLaterAddViewTableUsage) {
  EXPECT_EQ(mysql_view_source("8.0.13"), MysqlViewSource::DefinitionsAndTableUsage);
  EXPECT_EQ(mysql_view_source("8.0.36-0ubuntu0.22.04.1"), MysqlViewSource::DefinitionsAndTableUsage);
  EXPECT_EQ(mysql_view_source("8.4.0-log"), MysqlViewSource::DefinitionsAndTableUsage);
  EXPECT_EQ(mysql_view_source("9.0.1"), MysqlViewSource::DefinitionsAndTableUsage);
}

TEST(MysqlViewSource, MysqlBefore8013AndUnparsableVersionsUseDefinitionsOnly) {
  EXPECT_EQ(mysql_view_source("8.0.12"), MysqlViewSource::Definitions);
  EXPECT_EQ(mysql_view_source("5.7.44-log"), MysqlViewSource::Definitions);
  EXPECT_EQ(mysql_view_source(""), MysqlViewSource::Definitions);
  EXPECT_EQ(mysql_view_source("unknown"), MysqlViewSource::Definitions);
}

TEST(MysqlViewSource, TableUsageQueryNamesTheMysql8Columns) {
  const std::string q = kMysqlViewTableUsageQuery;
  EXPECT_NE(q.find("information_schema.VIEW_TABLE_USAGE"), std::string::npos);
  EXPECT_NE(q.find("SELECT VIEW_SCHEMA, VIEW_NAME, TABLE_SCHEMA, TABLE_NAME"), std::string::npos);
  EXPECT_NE(q.find("VIEW_SCHEMA = ?"), std::string::npos);
}

TEST(MysqlViewCatalog, DefinitionTablesAreTheViewsReadsOnMariaDb) {
  const std::vector<MysqlViewRow> rows{
      {"shop", "v_pii", "select `shop`.`customers_pii`.`ssn` AS `ssn` from `shop`.`customers_pii`"},
      {"shop", "v_join", "select o.id from orders o join billing.invoices i on i.order_id = o.id"}};
  std::vector<std::pair<RelationName, std::string>> unreadable;
  const auto c = build_mysql_view_catalog(rows, {}, options("10.11.6-MariaDB"), &unreadable);
  EXPECT_TRUE(unreadable.empty());
  EXPECT_EQ(reads(c, {"shop", "v_pii"}), (std::vector<RelationName>{{"shop", "customers_pii"}}));
  EXPECT_EQ(reads(c, {"shop", "v_join"}),
            (std::vector<RelationName>{{"billing", "invoices"}, {"shop", "orders"}}));
}

TEST(MysqlViewCatalog, TableUsageIsUnitedWithTheDefinitionsTables) {
  // The analyzer sees orders; VIEW_TABLE_USAGE also lists customers_pii (e.g. a table the
  // definition reaches in a way the analyzer reports differently): the view reads both.
  const std::vector<MysqlViewRow> rows{{"shop", "v", "select id from orders"}};
  const std::vector<MysqlViewUsageRow> usage{{"shop", "v", "shop", "orders"}, {"shop", "v", "shop", "customers_pii"}};
  const auto c = build_mysql_view_catalog(rows, usage, options("8.0.36"));
  EXPECT_EQ(reads(c, {"shop", "v"}), (std::vector<RelationName>{{"shop", "customers_pii"}, {"shop", "orders"}}));
}

TEST(MysqlViewCatalog, StoredFunctionCallStaysFailClosedAlthoughTableUsageListsNoTable) {
  // VIEW_TABLE_USAGE does not list functions: a view over a stored function has no usage
  // rows at all, and must still be denied.
  const std::vector<MysqlViewRow> rows{{"shop", "v_fn", "select `shop`.`f_pii_count`() AS `n`"}};
  std::vector<std::pair<RelationName, std::string>> unreadable;
  const auto c = build_mysql_view_catalog(rows, {}, options("8.0.36"), &unreadable);
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0].first, (RelationName{"shop", "v_fn"}));
  EXPECT_NE(unreadable[0].second.find("f_pii_count"), std::string::npos) << unreadable[0].second;
  const auto sentinel = mysql_unreadable_view_sentinel({"shop", "v_fn"});
  EXPECT_EQ(reads(c, {"shop", "v_fn"}), (std::vector<RelationName>{sentinel}));
  EXPECT_EQ(reads(c, sentinel), (std::vector<RelationName>{{"shop", "v_fn"}}));
}

TEST(MysqlViewCatalog, UnparsableDefinitionStaysFailClosedWhateverTableUsageSays) {
  const std::vector<MysqlViewRow> rows{{"shop", "v_odd", "select ((("}};
  const std::vector<MysqlViewUsageRow> usage{{"shop", "v_odd", "shop", "orders"}};
  std::vector<std::pair<RelationName, std::string>> unreadable;
  const auto c = build_mysql_view_catalog(rows, usage, options("8.0.36"), &unreadable);
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(reads(c, {"shop", "v_odd"}), (std::vector<RelationName>{mysql_unreadable_view_sentinel({"shop", "v_odd"})}));
}

TEST(MysqlViewCatalog, ViewOnlyInTableUsageIsPinnedFailClosed) {
  const std::vector<MysqlViewUsageRow> usage{{"shop", "v_hidden", "shop", "orders"}};
  std::vector<std::pair<RelationName, std::string>> unreadable;
  const auto c = build_mysql_view_catalog({}, usage, options("8.0.36"), &unreadable);
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_EQ(unreadable[0].first, (RelationName{"shop", "v_hidden"}));
  EXPECT_EQ(reads(c, {"shop", "v_hidden"}),
            (std::vector<RelationName>{mysql_unreadable_view_sentinel({"shop", "v_hidden"})}));
}

TEST(MysqlViewCatalog, EmptyDefinitionIsPinnedFailClosed) {
  const std::vector<MysqlViewRow> rows{{"shop", "v_secret", ""}};
  std::vector<std::pair<RelationName, std::string>> unreadable;
  build_mysql_view_catalog(rows, {}, options("10.11.6-MariaDB"), &unreadable);
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_NE(unreadable[0].second.find("not visible"), std::string::npos);
}

TEST(MysqlViewCatalog, TableUsageNamesAreFoldedWithLowerCaseTableNames) {
  const std::vector<MysqlViewRow> rows{{"Shop", "V", "select id from Orders"}};
  const std::vector<MysqlViewUsageRow> usage{{"Shop", "V", "Shop", "Customers_PII"}};
  const auto c = build_mysql_view_catalog(rows, usage, options("8.0.36", 1));
  EXPECT_EQ(reads(c, {"shop", "v"}), (std::vector<RelationName>{{"shop", "customers_pii"}, {"shop", "orders"}}));
}

}  // namespace
}  // namespace segproxy::proxy
