// Segment policies in the config: parsed values, defaults, and every validation error
// with its line and key path. The policy text is appended to the "ops" segment of
// kValidConfig (which ends on line 39), so policy lines start at 40.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/detail.hpp"
#include "config/loader.hpp"
#include "config_test_util.hpp"

namespace segproxy::config::test {
namespace {

const char* kPolicy =
    "    default_schema: app\n"                                          // 40
    "    windows:\n"                                                     // 41
    "      - days: [mon, tue, wed, thu, Fri]\n"                          // 42
    "        hours: \"08:00-18:30\"\n"                                   // 43
    "        timezone: Europe/Berlin\n"                                  // 44
    "      - from: 2026-12-01T00:00:00Z\n"                               // 45
    "        until: 2026-12-02T01:00:00+01:00\n"                         // 46
    "    on_window_close: finish_transaction\n"                          // 47
    "    rules:\n"                                                       // 48
    "      - id: orders-rw\n"                                            // 49
    "        tables: [app.orders, order_items]\n"                        // 50
    "        allow: [select, insert, update]\n"                          // 51
    "      - tables: [\"public.*\"]\n"                                   // 52
    "        allow: [select]\n"                                          // 53
    "      - tables: [app.customers_pii]\n"                              // 54
    "        deny: [all]\n"                                              // 55
    "    statements: [transaction, session_safe]\n"                      // 56
    "    functions: {allow: [my_schema.my_func], deny: [pg_read_file, \"dblink*\"]}\n";  // 57

class PolicyConfig : public ::testing::Test {
 protected:
  void SetUp() override { write_referenced_files(dir_); }
  LoadResult load(const std::string& policy, const LoadOptions& opts = {}) {
    return load_config_string(std::string(kValidConfig) + policy, "segproxy.yaml", dir_.str(),
                              opts);
  }
  static std::string edit(std::string from, std::string to) {
    std::string s = kPolicy;
    const auto pos = s.find(from);
    if (pos == std::string::npos) {
      ADD_FAILURE() << "edit not found: " << from;
      return s;
    }
    return s.replace(pos, from.size(), to);
  }
  TempDir dir_;
};

TEST_F(PolicyConfig, ParsesEveryKey) {
  const LoadResult r = load(kPolicy);
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const SegmentPolicy& p = r.config->segments.at("ops").policy;
  EXPECT_EQ(p.default_schema, "app");
  ASSERT_EQ(p.windows.size(), 2u);
  EXPECT_EQ(p.windows[0].kind, TimeWindow::Kind::Weekly);
  EXPECT_EQ(p.windows[0].days, 0x1f);
  EXPECT_EQ(p.windows[0].start_minute, 8 * 60);
  EXPECT_EQ(p.windows[0].end_minute, 18 * 60 + 30);
  EXPECT_EQ(p.windows[0].timezone, "Europe/Berlin");
  EXPECT_EQ(p.windows[0].line, 42);
  EXPECT_EQ(p.windows[1].kind, TimeWindow::Kind::OneOff);
  EXPECT_EQ(p.windows[1].until - p.windows[1].from, std::chrono::hours(24));
  EXPECT_EQ(p.on_window_close, WindowClose::FinishTransaction);
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].id, "orders-rw");
  EXPECT_EQ(p.rules[0].tables, (std::vector<std::string>{"app.orders", "app.order_items"}));
  EXPECT_EQ(p.rules[0].allow, op_bit(TableOperation::Select) | op_bit(TableOperation::Insert) |
                                  op_bit(TableOperation::Update));
  EXPECT_EQ(p.rules[1].id, "ops.rules[1]");
  EXPECT_EQ(p.rules[2].deny, kAllOperations);
  EXPECT_EQ(p.rules[2].line, 54);
  EXPECT_EQ(p.statements, class_bit(StatementClassGrant::Transaction) |
                              class_bit(StatementClassGrant::SessionSafe));
  EXPECT_EQ(p.functions.allow, (std::vector<std::string>{"my_schema.my_func"}));
  EXPECT_EQ(p.functions.deny, (std::vector<std::string>{"pg_read_file", "dblink*"}));
}

TEST_F(PolicyConfig, AbsentPolicyMeansDefaultsAndNoRules) {
  const LoadResult r = load("");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  const SegmentPolicy& p = r.config->segments.at("ops").policy;
  EXPECT_EQ(p.default_schema, "public");
  EXPECT_TRUE(p.windows.empty());
  EXPECT_TRUE(p.rules.empty());
  EXPECT_EQ(p.statements, 0u);
  EXPECT_EQ(p.on_window_close, WindowClose::Terminate);
  EXPECT_EQ(p.window_close_grace, std::chrono::seconds(60));
  EXPECT_EQ(r.config->zoneinfo_dir, "/usr/share/zoneinfo");
  EXPECT_EQ(p.catalog, CatalogAccess::None);  // system catalogs are not granted by default
}

TEST_F(PolicyConfig, CatalogMetadataIsParsed) {
  const LoadResult r = load("    catalog: metadata\n");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->segments.at("ops").policy.catalog, CatalogAccess::Metadata);
}

struct PolicyError {
  const char* name;
  const char* from;
  const char* to;
  int line;
  const char* key_path;
  const char* message_part;
};

void PrintTo(const PolicyError& c, std::ostream* os) { *os << c.name; }

class PolicyConfigErrors : public PolicyConfig, public ::testing::WithParamInterface<PolicyError> {};

TEST_P(PolicyConfigErrors, ReportsLineKeyAndMessage) {
  const PolicyError& c = GetParam();
  const LoadResult r = load(edit(c.from, c.to));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].line, c.line) << dump(r);
  EXPECT_EQ(r.errors[0].key_path, c.key_path) << dump(r);
  EXPECT_NE(r.errors[0].message.find(c.message_part), std::string::npos) << dump(r);
}

const PolicyError kErrors[] = {
    {"UnknownOperationSuggestsTheRightOne", "[select, insert, update]", "[selct, insert]", 51,
     "segments.ops.rules[0].allow[0]", "unknown operation \"selct\" (did you mean \"select\"?)"},
    {"UnknownStatementClass", "[transaction, session_safe]", "[transaction, tranzaction_x]", 56,
     "segments.ops.statements[1]", "unknown statement class \"tranzaction_x\""},
    {"HourOutOfRange", "\"08:00-18:30\"", "\"25:00-26:00\"", 43, "segments.ops.windows[0].hours",
     "invalid hours \"25:00-26:00\""},
    {"EmptyHours", "\"08:00-18:30\"", "\"08:00-08:00\"", 43, "segments.ops.windows[0].hours",
     "empty window"},
    {"UnknownTimeZone", "Europe/Berlin", "Europe/Berln", 44, "segments.ops.windows[0].timezone",
     "unknown time zone \"Europe/Berln\""},
    {"TimeZonePathEscapeIsRejected", "Europe/Berlin", "../../etc/passwd", 44,
     "segments.ops.windows[0].timezone", "invalid time zone name"},
    {"UnknownDay", "thu, Fri]", "thu, friday]", 42, "segments.ops.windows[0].days[4]",
     "unknown day \"friday\""},
    {"FromNotBeforeUntil", "until: 2026-12-02T01:00:00+01:00", "until: 2026-12-01T01:00:00+01:00",
     46, "segments.ops.windows[1].until", "until must be after from"},
    {"BadTimestamp", "from: 2026-12-01T00:00:00Z", "from: 2026-13-01T00:00:00Z", 45,
     "segments.ops.windows[1].from", "invalid timestamp"},
    {"TimestampWithoutOffsetIsRejected", "from: 2026-12-01T00:00:00Z", "from: 2026-12-01T00:00:00",
     45, "segments.ops.windows[1].from", "RFC 3339"},
    {"OneOffWindowTakesNoDays", "      - from: 2026-12-01T00:00:00Z\n",
     "      - from: 2026-12-01T00:00:00Z\n        days: [mon]\n", 46,
     "segments.ops.windows[1].days", "takes no \"days\""},
    {"WindowWithoutDaysOrHours",
     "      - days: [mon, tue, wed, thu, Fri]\n        hours: \"08:00-18:30\"\n        timezone:",
     "      - timezone:", 42, "segments.ops.windows[0]", "needs days and/or hours"},
    {"BadOnWindowClose", "finish_transaction", "finish", 47, "segments.ops.on_window_close",
     "expected one of: terminate, finish_transaction"},
    {"WindowCloseGraceOverADay", "on_window_close: finish_transaction\n",
     "on_window_close: finish_transaction\n    window_close_grace: 25h\n", 48, "segments.ops.window_close_grace",
     "at most 24h"},
    {"WindowCloseGraceZero", "on_window_close: finish_transaction\n",
     "on_window_close: finish_transaction\n    window_close_grace: 0s\n", 48, "segments.ops.window_close_grace",
     "greater than 0"},
    {"UnknownCatalogValue", "on_window_close: finish_transaction\n", "on_window_close: finish_transaction\n    catalog: all\n",
     48, "segments.ops.catalog", "expected one of: none, metadata"},
    {"RuleWithNeitherAllowNorDeny", "        deny: [all]\n", "", 54, "segments.ops.rules[2]",
     "has neither allow nor deny"},
    {"RuleWithEmptyAllowGrantsNothing", "        allow: [select]\n", "        allow: []\n", 52,
     "segments.ops.rules[1]", "has neither allow nor deny"},
    {"TablePatternWithTwoDots", "[app.orders, order_items]", "[app.orders, db.app.orders]", 50,
     "segments.ops.rules[0].tables[1]", "expected \"schema.name\" or \"name\""},
    {"TablePatternWithEmptyPart", "[app.orders, order_items]", "[app.orders, \"app.\"]", 50,
     "segments.ops.rules[0].tables[1]", "invalid name pattern"},
    {"DuplicateRuleId", "      - tables: [\"public.*\"]\n", "      - id: orders-rw\n        tables: [\"public.*\"]\n",
     52, "segments.ops.rules[1].id", "duplicate rule id \"orders-rw\" (first used on line 49)"},
    {"UnknownRuleKeySuggests", "        allow: [select]\n", "        allow: [select]\n        alow: [insert]\n",
     54, "segments.ops.rules[1].alow", "(did you mean \"allow\"?)"},
    {"UnknownSegmentKeySuggests", "    statements:", "    statement:", 56,
     "segments.ops.statement", "(did you mean \"statements\"?)"},
    {"DefaultSchemaWithGlob", "default_schema: app", "default_schema: \"app*\"", 40,
     "segments.ops.default_schema", "invalid schema name"},
    {"FunctionPatternWithTwoDots", "[my_schema.my_func]", "[a.b.c]", 57,
     "segments.ops.functions.allow[0]", "invalid name pattern"},
    {"UnknownFunctionsKey", "functions: {allow:", "functions: {allwo:", 57,
     "segments.ops.functions.allwo", "unknown key"},
};

INSTANTIATE_TEST_SUITE_P(Table, PolicyConfigErrors, ::testing::ValuesIn(kErrors),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(PolicyConfig, ZoneinfoRootIsALoaderOption) {
  TempDir zones;
  std::filesystem::create_directories(zones.path() / "Test");
  std::filesystem::copy_file("/usr/share/zoneinfo/Europe/Berlin", zones.path() / "Test/Zone");
  zones.write("Test/NotTzif", "plain text\n");
  LoadOptions opts;
  opts.zoneinfo_dir = zones.str();
  // Europe/Berlin does not exist under the override root.
  LoadResult r = load(kPolicy, opts);
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_NE(r.errors[0].message.find(zones.str()), std::string::npos) << dump(r);
  r = load(edit("Europe/Berlin", "Test/Zone"), opts);
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  EXPECT_EQ(r.config->zoneinfo_dir, zones.str());
  r = load(edit("Europe/Berlin", "Test/NotTzif"), opts);
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  // UTC needs no file.
  r = load(edit("Europe/Berlin", "UTC"), opts);
  EXPECT_TRUE(r.errors.empty()) << dump(r);
}

TEST(PolicyParsers, Hours) {
  std::string why;
  EXPECT_EQ(detail::parse_hours("22:00-06:00", why), (std::pair{22 * 60, 6 * 60}));
  EXPECT_EQ(detail::parse_hours("00:00-24:00", why), (std::pair{0, 24 * 60}));
  EXPECT_EQ(detail::parse_hours("8:05-9:00", why), (std::pair{8 * 60 + 5, 9 * 60}));
  for (const char* bad : {"24:00-01:00", "08:60-09:00", "0800-0900", "08:00", "08:00-",
                          "-09:00", "08:00-24:01", "08:0-09:00", "x8:00-09:00", "12:00-12:00"}) {
    EXPECT_FALSE(detail::parse_hours(bad, why).has_value()) << bad;
  }
}

TEST(PolicyParsers, Rfc3339) {
  using namespace std::chrono;
  std::string why;
  const auto base = detail::parse_rfc3339("2026-12-01T00:00:00Z", why);
  ASSERT_TRUE(base.has_value()) << why;
  EXPECT_EQ(base->time_since_epoch(), sys_days{2026y / December / 1}.time_since_epoch());
  EXPECT_EQ(detail::parse_rfc3339("2026-12-01T05:30:00+05:30", why), base);
  EXPECT_EQ(detail::parse_rfc3339("2026-11-30T19:00:00-05:00", why), base);
  EXPECT_EQ(detail::parse_rfc3339("2026-12-01t00:00:00.123z", why), base);
  for (const char* bad : {"2026-12-01", "2026-12-01T00:00:00", "2026-02-30T00:00:00Z",
                          "2026-12-01T24:00:00Z", "2026-12-01T00:00:00+5:00",
                          "2026-12-01T00:00:00.Z", "2026/12/01T00:00:00Z"}) {
    EXPECT_FALSE(detail::parse_rfc3339(bad, why).has_value()) << bad;
  }
}

// Fuzz finding (config target): a year system_clock cannot hold overflowed the conversion
// to nanoseconds (UB); such a timestamp is a config error naming the range.
TEST(PolicyParsers, Rfc3339YearOutsideTheClockRangeIsAnErrorNotAnOverflow) {
  using namespace std::chrono;
  std::string why;
  for (const char* bad : {"0226-12-02T00:00:00Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                          "2201-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"}) {
    EXPECT_FALSE(detail::parse_rfc3339(bad, why).has_value()) << bad;
    EXPECT_NE(why.find("out of range (years 1970 to 2200)"), std::string::npos) << bad << ": " << why;
  }
  const auto first = detail::parse_rfc3339("1970-01-01T00:00:00Z", why);
  ASSERT_TRUE(first.has_value()) << why;
  EXPECT_EQ(first->time_since_epoch().count(), 0);
  const auto last = detail::parse_rfc3339("2200-12-31T23:59:59Z", why);
  ASSERT_TRUE(last.has_value()) << why;
  EXPECT_EQ(last->time_since_epoch(), sys_days{2201y / January / 1}.time_since_epoch() - seconds{1});
}

TEST(PolicyParsers, ZoneNames) {
  for (const char* ok : {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5"}) {
    EXPECT_TRUE(detail::is_safe_zone_name(ok)) << ok;
  }
  for (const char* bad : {"", "/etc/passwd", "../x", "Europe/../../x", "Europe/", "a b", "a//b"}) {
    EXPECT_FALSE(detail::is_safe_zone_name(bad)) << bad;
  }
}

}  // namespace
}  // namespace segproxy::config::test
