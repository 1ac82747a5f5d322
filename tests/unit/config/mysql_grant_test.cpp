// `grants` entries of dynamic credentials on mysql listeners (config/mysql_grant): only
// "PRIVILEGES ON db.object" is accepted, and the GRANT text is rendered from the parsed
// form with every name back-quoted; validation reports bad entries at their key path.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config/mysql_grant.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

std::string rendered(const std::string& text) {
  std::string why;
  const auto g = parse_mysql_grant(text, why);
  return g ? render_mysql_grant(*g) : "ERROR: " + why;
}

TEST(MysqlGrant, RendersPrivilegesAndObjectWithQuotedNames) {
  EXPECT_EQ(rendered("SELECT, INSERT ON shop.orders"), "SELECT, INSERT ON `shop`.`orders`");
  EXPECT_EQ(rendered("  select ,insert  on  shop . orders "), "SELECT, INSERT ON `shop`.`orders`");
  EXPECT_EQ(rendered("SELECT (id, sku) ON shop.order_items"), "SELECT (`id`, `sku`) ON `shop`.`order_items`");
  EXPECT_EQ(rendered("CREATE TEMPORARY TABLES, LOCK TABLES ON app.*"), "CREATE TEMPORARY TABLES, LOCK TABLES ON `app`.*");
  EXPECT_EQ(rendered("ALL PRIVILEGES ON TABLE shop.orders"), "ALL PRIVILEGES ON TABLE `shop`.`orders`");
  EXPECT_EQ(rendered("EXECUTE ON PROCEDURE shop.refund"), "EXECUTE ON PROCEDURE `shop`.`refund`");
  EXPECT_EQ(rendered("SELECT ON `we``ird db`.`t 1`"), "SELECT ON `we``ird db`.`t 1`");
}

TEST(MysqlGrant, DatabaseWildcardCharactersAreEscapedInDatabaseLevelGrants) {
  // In db.* grants '_' and '%' are wildcards: shop_eu.* would also cover shopXeu.
  EXPECT_EQ(rendered("SELECT ON shop_eu.*"), "SELECT ON `shop\\_eu`.*");
  EXPECT_EQ(rendered("SELECT ON `a%b`.*"), "SELECT ON `a\\%b`.*");
  EXPECT_EQ(rendered("SELECT ON shop_eu.orders"), "SELECT ON `shop_eu`.`orders`");  // literal there
}

TEST(MysqlGrant, RefusesAnythingButAPrivilegeListOnANamedObject) {
  const char* bad[] = {
      "SELECT ON *.*",                                   // global
      "SELECT ON *",                                     // current database
      "SELECT ON orders",                                // database not named
      "SUPER ON shop.*",                                 // global privilege
      "FILE ON shop.*",
      "CREATE USER ON shop.*",
      "GRANT OPTION ON shop.*",
      "SELECT ON shop.orders WITH GRANT OPTION",         // trailing text
      "SELECT ON shop.orders TO root@'%'",
      "SELECT ON shop.orders; DROP TABLE shop.orders",
      "SELECT ON shop.`orders",                          // unterminated quote
      "SELECT shop.orders",                              // no ON
      "",
      "ON shop.orders",
      "DELETE (id) ON shop.orders",                      // no column list for DELETE
      "SELECT (id) ON shop.*",                           // columns need a table
      "SELECT ON PROCEDURE shop.p",                      // not a routine privilege
      "SELECT ON 123.orders",                            // digits only
      "INSERT, UPDATE ON mysql.*",                       // the grant tables: every privilege
      "SELECT ON mysql.user",
      "UPDATE ON `MySQL`.global_priv",                   // case-insensitive
      "SELECT ON sys.*",
      "SELECT ON performance_schema.threads",
      "SELECT ON information_schema.*",
      "SELECT ON `sh\\op`.*",                           // backslash would change the db.* pattern
  };
  for (const char* text : bad) {
    std::string why;
    EXPECT_FALSE(parse_mysql_grant(text, why)) << text;
    EXPECT_FALSE(why.empty()) << text;
  }
  std::string why;
  EXPECT_FALSE(parse_mysql_grant("SELECT ON shop.`" + std::string(65, 'x') + "`", why));
}

TEST(MysqlGrant, QuotesIdentifiersAndRefusesUnquotable) {
  EXPECT_EQ(quote_mysql_identifier("a`b"), "`a``b`");
  EXPECT_FALSE(quote_mysql_identifier(""));
  EXPECT_FALSE(quote_mysql_identifier(std::string("a\0b", 3)));
  EXPECT_FALSE(quote_mysql_identifier(std::string(65, 'x')));
}

const std::string kBillingMy = "      my-main: {user: billing_my, password_env: SEGPROXY_TEST_MY_PW}\n";  // line 35

class MysqlDynamicConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    write_referenced_files(dir_);
    dir_.write("secrets/my_admin.pw", "admin\n");
  }
  LoadResult load_my(const std::string& rest) {
    return load_config_string(
        edited({{kBillingMy, "      my-main: {dynamic: {admin: {user: a, password_file: secrets/my_admin.pw}" + rest +
                                 "}}\n"}}),
        "segproxy.yaml", dir_.str());
  }
  TempDir dir_;
};

const ConfigError* find_error(const LoadResult& r, const std::string& key_path) {
  for (const auto& e : r.errors) {
    if (e.key_path == key_path) return &e;
  }
  return nullptr;
}

TEST_F(MysqlDynamicConfig, BadGrantIsReportedAtItsIndex) {
  const LoadResult r = load_my(", grants: [\"SELECT ON shop.orders\", \"SELECT ON *.*\"]");
  const ConfigError* e = find_error(r, "segments.billing.credentials.my-main.dynamic.grants[1]");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_NE(e->message.find("global grants are not allowed"), std::string::npos) << dump(r);
  EXPECT_EQ(find_error(r, "segments.billing.credentials.my-main.dynamic.grants[0]"), nullptr) << dump(r);
}

TEST_F(MysqlDynamicConfig, MysqlNeedsGrantsAndNamesOfAtMost32Characters) {
  const LoadResult none = load_my("");
  EXPECT_NE(find_error(none, "segments.billing.credentials.my-main.dynamic"), nullptr) << dump(none);
  const LoadResult ok = load_my(", grants: [\"SELECT ON shop.orders\"]");
  EXPECT_TRUE(ok.errors.empty()) << dump(ok);
  const LoadResult longer = load_my(", grants: [\"SELECT ON shop.orders\"], name_template: \"" + std::string(20, 'x') +
                                    "_{segment}_{id8}\"");
  const ConfigError* e = find_error(longer, "segments.billing.credentials.my-main.dynamic.name_template");
  ASSERT_NE(e, nullptr) << dump(longer);
  EXPECT_NE(e->message.find("32"), std::string::npos) << dump(longer);
}

}  // namespace
}  // namespace segproxy::config::test
