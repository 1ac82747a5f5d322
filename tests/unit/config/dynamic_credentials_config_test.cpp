// `segments.<s>.credentials.<listener>.dynamic` (issue 7): shape, defaults, per-protocol
// keys, durations and name_template rules, each error with its line and key path; and
// the pure name-template helpers.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config/name_template.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

const std::string kBillingPg = "      pg-main: {user: billing_rw, password_file: secrets/billing_rw.pw}\n";  // line 34
const std::string kBillingMy = "      my-main: {user: billing_my, password_env: SEGPROXY_TEST_MY_PW}\n";    // line 35

class DynamicCredentialConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    write_referenced_files(dir_);
    dir_.write("secrets/pg_admin.pw", "admin\n");
  }
  // kValidConfig with billing's pg-main credential (line 34) replaced by `dynamic: <flow>`.
  LoadResult load_pg(const std::string& dynamic_flow) {
    return load(edited({{kBillingPg, "      pg-main: {dynamic: " + dynamic_flow + "}\n"}}));
  }
  LoadResult load(const std::string& yaml) { return load_config_string(yaml, "segproxy.yaml", dir_.str()); }
  TempDir dir_;
};

const ConfigError* find_error(const LoadResult& r, const std::string& key_path) {
  for (const auto& e : r.errors) {
    if (e.key_path == key_path) return &e;
  }
  return nullptr;
}

constexpr const char* kAdmin = "admin: {user: segproxy_admin, password_file: secrets/pg_admin.pw}";

TEST_F(DynamicCredentialConfig, FullPostgresEntryAndDefaults) {
  const LoadResult r = load_pg(std::string("{") + kAdmin +
                               ", grant_roles: [billing_rw], ttl: 1h, renew_before: 10m,"
                               " name_template: \"sp_{segment}_{id8}\"}");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const CredentialRef& ref = r.config->segments.at("billing").credentials.at("pg-main");
  ASSERT_TRUE(ref.dynamic.has_value());
  EXPECT_TRUE(ref.user.empty());
  const auto& d = *ref.dynamic;
  EXPECT_EQ(d.admin_user, "segproxy_admin");
  EXPECT_EQ(d.admin_password_file, (dir_.path() / "secrets/pg_admin.pw").string());
  EXPECT_EQ(d.grant_roles, std::vector<std::string>{"billing_rw"});
  EXPECT_EQ(d.ttl, std::chrono::hours(1));
  EXPECT_EQ(d.renew_before, std::chrono::minutes(10));
  EXPECT_EQ(d.name_template, "sp_{segment}_{id8}");
  EXPECT_EQ(d.line, 34);
  // The static credentials next to it are untouched.
  EXPECT_FALSE(r.config->segments.at("ops").credentials.at("pg-main").dynamic.has_value());
}

TEST_F(DynamicCredentialConfig, RenewBeforeDefaultsToASixthOfTtl) {
  const LoadResult r = load_pg(std::string("{") + kAdmin + ", grant_roles: [billing_rw], ttl: 30m}");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const auto& d = *r.config->segments.at("billing").credentials.at("pg-main").dynamic;
  EXPECT_EQ(d.ttl, std::chrono::minutes(30));
  EXPECT_EQ(d.renew_before, std::chrono::minutes(5));
  EXPECT_EQ(d.name_template, "sp_{segment}_{id8}");
}

TEST_F(DynamicCredentialConfig, AdminPasswordEnvIsAccepted) {
  const LoadResult r = load_pg("{admin: {user: a, password_env: PG_ADMIN_PW}, grant_roles: [r]}");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->segments.at("billing").credentials.at("pg-main").dynamic->admin_password_env, "PG_ADMIN_PW");
}

TEST_F(DynamicCredentialConfig, MysqlListenerTakesGrants) {
  const LoadResult r = load(edited({{kBillingMy, std::string("      my-main: {dynamic: {") + kAdmin +
                                                     ", grants: [\"SELECT, INSERT ON shop.orders\"]}}\n"}}));
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->segments.at("billing").credentials.at("my-main").dynamic->grants,
            std::vector<std::string>{"SELECT, INSERT ON shop.orders"});
}

struct DynErrorCase {
  const char* name;
  std::string dynamic_flow;  // replaces billing's pg-main credential value, line 34
  const char* key_path;
  const char* message_part;
};

void PrintTo(const DynErrorCase& c, std::ostream* os) { *os << c.name; }

const std::string kOkTail = ", grant_roles: [billing_rw]";

class DynamicCredentialErrors : public DynamicCredentialConfig,
                                public ::testing::WithParamInterface<DynErrorCase> {};

TEST_P(DynamicCredentialErrors, ReportsLineKeyPathAndMessage) {
  const DynErrorCase& c = GetParam();
  const LoadResult r = load(edited({{kBillingPg, "      pg-main: " + c.dynamic_flow + "\n"}}));
  ASSERT_FALSE(r.errors.empty()) << c.name;
  const ConfigError* e = find_error(r, c.key_path);
  ASSERT_NE(e, nullptr) << "no error at " << c.key_path << "\n" << dump(r);
  EXPECT_EQ(e->line, 34) << dump(r);
  EXPECT_NE(e->message.find(c.message_part), std::string::npos) << dump(r);
}

const std::string kA = std::string("admin: {user: segproxy_admin, password_file: secrets/pg_admin.pw}");

INSTANTIATE_TEST_SUITE_P(
    Cases, DynamicCredentialErrors,
    ::testing::Values(
        DynErrorCase{"StaticAndDynamicTogether", "{user: x, password_env: X, dynamic: {" + kA + kOkTail + "}}",
                     "segments.billing.credentials.pg-main", "either static"},
        DynErrorCase{"MissingAdmin", "{dynamic: {grant_roles: [billing_rw]}}",
                     "segments.billing.credentials.pg-main.dynamic", "missing required key \"admin\""},
        DynErrorCase{"AdminWithoutPassword", "{dynamic: {admin: {user: a}" + kOkTail + "}}",
                     "segments.billing.credentials.pg-main.dynamic.admin", "exactly one of password_file"},
        DynErrorCase{"AdminWithBothPasswords",
                     "{dynamic: {admin: {user: a, password_env: A, password_file: secrets/pg_admin.pw}" + kOkTail + "}}",
                     "segments.billing.credentials.pg-main.dynamic.admin", "mutually exclusive"},
        DynErrorCase{"AdminPasswordFileMissing",
                     "{dynamic: {admin: {user: a, password_file: secrets/nope.pw}" + kOkTail + "}}",
                     "segments.billing.credentials.pg-main.dynamic.admin.password_file", "file not found"},
        DynErrorCase{"UnknownKeyWithSuggestion", "{dynamic: {" + kA + kOkTail + ", tll: 1h}}",
                     "segments.billing.credentials.pg-main.dynamic.tll", "did you mean \"ttl\"?"},
        DynErrorCase{"PostgresNeedsGrantRoles", "{dynamic: {" + kA + "}}",
                     "segments.billing.credentials.pg-main.dynamic", "need grant_roles"},
        DynErrorCase{"GrantsAreForMysql", "{dynamic: {" + kA + kOkTail + ", grants: [\"SELECT ON a.b\"]}}",
                     "segments.billing.credentials.pg-main.dynamic.grants", "for mysql listeners"},
        DynErrorCase{"TtlBelowOneMinute", "{dynamic: {" + kA + kOkTail + ", ttl: 30s}}",
                     "segments.billing.credentials.pg-main.dynamic.ttl", "at least 1m"},
        DynErrorCase{"RenewBeforeNotShorterThanTtl", "{dynamic: {" + kA + kOkTail + ", ttl: 10m, renew_before: 10m}}",
                     "segments.billing.credentials.pg-main.dynamic.renew_before", "shorter than ttl"},
        DynErrorCase{"TemplateWithoutId8", "{dynamic: {" + kA + kOkTail + ", name_template: \"sp_{segment}\"}}",
                     "segments.billing.credentials.pg-main.dynamic.name_template", "must contain {id8}"},
        DynErrorCase{"TemplateUnknownPlaceholder", "{dynamic: {" + kA + kOkTail + ", name_template: \"sp_{user}_{id8}\"}}",
                     "segments.billing.credentials.pg-main.dynamic.name_template", "unknown placeholder {user}"},
        DynErrorCase{"TemplateBadCharacter", "{dynamic: {" + kA + kOkTail + ", name_template: \"Sp-{id8}\"}}",
                     "segments.billing.credentials.pg-main.dynamic.name_template", "only a-z, 0-9"},
        DynErrorCase{"TemplateWithoutPrefix", "{dynamic: {" + kA + kOkTail + ", name_template: \"{id8}_x\"}}",
                     "segments.billing.credentials.pg-main.dynamic.name_template", "fixed prefix"},
        DynErrorCase{"AdminUserStartsWithTheTemplatePrefixSoTheJanitorCouldDropIt",
                     "{dynamic: {" + kA + kOkTail + ", name_template: \"segproxy_{id8}\"}}",
                     "segments.billing.credentials.pg-main.dynamic.admin", "starts with the name_template prefix"},
        DynErrorCase{"GrantRoleStartsWithTheTemplatePrefix",
                     "{dynamic: {" + kA + ", grant_roles: [bill_rw], name_template: \"bill_{id8}\"}}",
                     "segments.billing.credentials.pg-main.dynamic.grant_roles[0]", "starts with the name_template prefix"},
        DynErrorCase{"TemplateUnterminated", "{dynamic: {" + kA + kOkTail + ", name_template: \"sp_{id8\"}}",
                     "segments.billing.credentials.pg-main.dynamic.name_template", "unterminated"},
        DynErrorCase{"NameLongerThan63Bytes",
                     "{dynamic: {" + kA + kOkTail + ", name_template: \"" + std::string(50, 'p') + "_{segment}_{id8}\"}}",
                     "segments.billing.credentials.pg-main.dynamic.name_template", "at most 63"}),
    [](const ::testing::TestParamInfo<DynErrorCase>& i) { return std::string(i.param.name); });

TEST(NameTemplate, ExpandsAndSanitizesPlaceholders) {
  std::string why;
  EXPECT_EQ(expand_name_template("sp_{segment}_{id8}", "billing", "pg-main", "0a1b2c3d", why), "sp_billing_0a1b2c3d");
  EXPECT_EQ(expand_name_template("sp_{listener}_{segment}_{id8}", "Bill.Ing", "pg-main", "deadbeef", why),
            "sp_pg_main_bill_ing_deadbeef");
  EXPECT_EQ(name_template_prefix("sp_{segment}_{id8}"), "sp_");
  EXPECT_EQ(name_template_prefix("x{id8}"), "x");
  EXPECT_EQ(sanitize_name_part("A-b\"c'd;DROP"), "a_b_c_d_drop");
}

TEST(NameTemplate, RefusesBadId8AndLongResults) {
  std::string why;
  EXPECT_FALSE(expand_name_template("sp_{id8}", "s", "l", "0A1B2C3D", why));  // upper case
  EXPECT_FALSE(expand_name_template("sp_{id8}", "s", "l", "0a1b2c3", why));   // 7 chars
  const std::string seg(60, 's');
  EXPECT_FALSE(expand_name_template("sp_{segment}_{id8}", seg, "l", "0a1b2c3d", why));
  EXPECT_NE(why.find("at most 63"), std::string::npos) << why;
  // Exactly 63 bytes is allowed.
  const auto ok = expand_name_template("sp_{segment}_{id8}", std::string(51, 's'), "l", "0a1b2c3d", why);
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(ok->size(), 63u);
}

}  // namespace
}  // namespace segproxy::config::test
