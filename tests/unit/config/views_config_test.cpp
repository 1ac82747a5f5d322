// View-related config: listeners[].backend.metadata (the catalog login for learning
// view dependencies) and segments.<s>.views pins, with file:line errors.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

// kValidConfig line 19 is pg-main's backend.tls; metadata goes on line 20.
const std::string kTlsLine =
    "      tls: {mode: verify-full, ca: certs/backend-ca.crt, server_name: db.internal}\n";

class ViewsConfig : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }
  LoadResult load(const std::string& yaml) {
    return load_config_string(yaml, "segproxy.yaml", dir_.str());
  }
  // kValidConfig with `metadata` (a YAML flow mapping) on pg-main's backend, line 20.
  LoadResult load_metadata(const std::string& metadata) {
    return load(edited({{kTlsLine, kTlsLine + "      metadata: " + metadata + "\n"}}));
  }
  // kValidConfig with `views` lines appended to segment ops (from line 40).
  LoadResult load_pins(const std::string& views) { return load(std::string(kValidConfig) + views); }
  TempDir dir_;
};

TEST_F(ViewsConfig, MetadataIsAbsentByDefault) {
  const LoadResult r = load(kValidConfig);
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_FALSE(r.config->listeners[0].backend.metadata.has_value());
  EXPECT_TRUE(r.config->segments.at("ops").policy.views.empty());
}

TEST_F(ViewsConfig, MetadataWithPasswordFileAndDefaultRefresh) {
  dir_.write("secrets/meta.pw", "m\n");
  const LoadResult r = load_metadata("{user: segproxy_meta, password_file: secrets/meta.pw}");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const auto& m = r.config->listeners[0].backend.metadata;
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->user, "segproxy_meta");
  EXPECT_EQ(m->password_file, (dir_.path() / "secrets/meta.pw").string());
  EXPECT_TRUE(m->password_env.empty());
  EXPECT_EQ(m->refresh, std::chrono::minutes(5));
  EXPECT_EQ(m->line, 20);
}

TEST_F(ViewsConfig, MetadataWithPasswordEnvAndRefresh) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::chrono::milliseconds>>{
           {"0", std::chrono::milliseconds(0)},
           {"30s", std::chrono::seconds(30)},
           {"1h", std::chrono::hours(1)}}) {
    const LoadResult r = load_metadata("{user: m, password_env: META_PW, refresh: " + text + "}");
    ASSERT_TRUE(r.errors.empty()) << text << "\n" << dump(r);
    EXPECT_EQ(r.config->listeners[0].backend.metadata->password_env, "META_PW");
    EXPECT_EQ(r.config->listeners[0].backend.metadata->refresh, want) << text;
  }
}

struct ErrorCase {
  const char* name;
  const char* metadata;  // flow mapping on line 20, or nullptr: `whole` is the config
  const char* pins;      // appended under segment ops (line 40 on), when metadata is null
  int line;
  const char* key_path;
  const char* message_part;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ViewsConfigErrors : public ViewsConfig, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ViewsConfigErrors, ReportsLineKeyAndMessage) {
  const ErrorCase& c = GetParam();
  const LoadResult r = c.metadata != nullptr ? load_metadata(c.metadata) : load_pins(c.pins);
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].line, c.line) << dump(r);
  EXPECT_EQ(r.errors[0].key_path, c.key_path) << dump(r);
  EXPECT_NE(r.errors[0].message.find(c.message_part), std::string::npos) << dump(r);
}

const ErrorCase kErrors[] = {
    {"MetadataNeedsAUser", "{password_env: X}", nullptr, 20, "listeners[0].backend.metadata.user",
     "missing required key \"user\""},
    {"MetadataNeedsAPassword", "{user: m}", nullptr, 20, "listeners[0].backend.metadata",
     "exactly one of password_file or password_env is required"},
    {"MetadataPasswordSourcesAreExclusive", "{user: m, password_env: X, password_file: secrets/billing_rw.pw}", nullptr,
     20, "listeners[0].backend.metadata", "mutually exclusive"},
    {"MetadataUnknownKeySuggests", "{user: m, password_env: X, refesh: 5m}", nullptr, 20,
     "listeners[0].backend.metadata.refesh", "did you mean \"refresh\""},
    {"MetadataRefreshNeedsAUnit", "{user: m, password_env: X, refresh: 5}", nullptr, 20,
     "listeners[0].backend.metadata.refresh", "needs a unit"},
    {"MetadataRefreshBelowOneSecond", "{user: m, password_env: X, refresh: 500ms}", nullptr, 20,
     "listeners[0].backend.metadata.refresh", "0 (start, reload and after DDL only) or at least 1s"},
    {"MetadataPasswordFileMustExist", "{user: m, password_file: secrets/nope.pw}", nullptr, 20,
     "listeners[0].backend.metadata.password_file", "file not found"},
    {"MetadataMustBeAMapping", "[m]", nullptr, 20, "listeners[0].backend.metadata",
     "expected a mapping"},
    {"PinsMustBeAMapping", nullptr, "    views: [public.v]\n", 40, "segments.ops.views",
     "expected a mapping"},
    {"PinValueMustBeAList", nullptr, "    views:\n      public.v: public.orders\n", 41,
     "segments.ops.views.public.v", "expected a list of strings"},
    {"PinViewNoGlobs", nullptr, "    views:\n      \"public.v_*\": [public.orders]\n", 41,
     "segments.ops.views.public.v_*", "no globs"},
    {"PinRelationNoGlobs", nullptr, "    views:\n      public.v:\n        - public.orders\n        - \"public.*\"\n",
     43, "segments.ops.views.public.v[1]", "no globs"},
    {"PinInvalidName", nullptr, "    views:\n      a.b.c: [public.orders]\n", 41,
     "segments.ops.views.a.b.c", "invalid name pattern"},
    {"PinCannotReadItself", nullptr, "    views:\n      v: [orders, public.v]\n", 41,
     "segments.ops.views.v[1]", "cannot read itself"},
    {"PinTwiceAfterQualifying", nullptr, "    views:\n      v: [orders]\n      public.v: [orders]\n", 42,
     "segments.ops.views.public.v", "pinned twice (also as \"v\")"},
};

INSTANTIATE_TEST_SUITE_P(Table, ViewsConfigErrors, ::testing::ValuesIn(kErrors),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ViewsConfig, MetadataOnAMysqlListenerIsAccepted) {  // daemon/catalog/mysql_view_loader
  const LoadResult r = load(edited({{"    backend: {host: db.internal, port: 3306}\n",
                                     "    backend: {host: db.internal, port: 3306, "
                                     "metadata: {user: m, password_env: X}}\n"}}));
  EXPECT_TRUE(r.errors.empty()) << dump(r);
}

TEST_F(ViewsConfig, PinsAreQualifiedWithTheDefaultSchema) {
  const LoadResult r = load_pins(
      "    default_schema: app\n"
      "    views:\n"
      "      public.v_orders: [public.orders, customers_pii, customers_pii]\n"
      "      v_bare: [orders]\n"
      "      public.v_const: []\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const auto& views = r.config->segments.at("ops").policy.views;
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views.at("public.v_orders"),
            (std::vector<std::string>{"public.orders", "app.customers_pii"}));
  EXPECT_EQ(views.at("app.v_bare"), (std::vector<std::string>{"app.orders"}));
  EXPECT_TRUE(views.at("public.v_const").empty());
}

}  // namespace
}  // namespace segproxy::config::test
