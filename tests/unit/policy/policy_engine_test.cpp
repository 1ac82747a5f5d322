// PolicyEngine: table-driven decisions over hand-built StatementInfo values (no
// classifier), one invariant per case name.
#include "authz/policy_engine.hpp"

#include <gtest/gtest.h>

#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using config::TableOperation;
using sql::StatementClass;
using sql::TableOp;
using test::utc;
using Op = TableOperation;

config::OperationSet ops(std::initializer_list<Op> list) {
  config::OperationSet s = 0;
  for (Op op : list) s |= config::op_bit(op);
  return s;
}

config::PolicyRule rule(std::string id, std::vector<std::string> tables,
                        config::OperationSet allow, config::OperationSet deny = 0) {
  config::PolicyRule r;
  r.id = std::move(id);
  r.tables = std::move(tables);
  r.allow = allow;
  r.deny = deny;
  return r;
}

config::StatementClassSet classes(std::initializer_list<config::StatementClassGrant> list) {
  config::StatementClassSet s = 0;
  for (auto c : list) s |= config::class_bit(c);
  return s;
}

config::Config make_config() {
  using G = config::StatementClassGrant;
  config::Config cfg;
  config::Segment billing;
  billing.name = "billing";
  auto& p = billing.policy;
  p.rules = {
      rule("orders-rw", {"public.orders", "public.order_items"},
           ops({Op::Select, Op::Insert, Op::Update, Op::Truncate})),
      rule("reads", {"public.*"}, ops({Op::Select})),
      rule("pii", {"public.customers_pii"}, 0, config::kAllOperations),
      rule("no-truncate", {"public.*"}, 0, ops({Op::Truncate})),
      rule("order-glob", {"public.order_*"}, ops({Op::Select, Op::Delete})),
      rule("audit-nodelete", {"public.audit_log"}, 0, ops({Op::Delete})),
      rule("exports", {"public.exports"}, ops({Op::CopyTo})),
  };
  p.statements = classes({G::Transaction, G::Explain, G::Prepare});
  p.functions.allow = {"my_schema.my_func", "nextval", "report_*"};
  p.functions.deny = {"pg_read_file", "dblink*", "public.evil"};
  cfg.segments.emplace("billing", billing);

  config::Segment ops_seg;
  ops_seg.name = "ops";
  ops_seg.policy.rules = {
      rule("everything-read", {"*.*"}, ops({Op::Select})),
      rule("reporting", {"reporting.*"}, ops({Op::Select, Op::CopyTo})),
      rule("metrics-in", {"*.metrics"}, ops({Op::Insert})),
      rule("ddl-scratch", {"scratch.*"}, ops({Op::Alter, Op::Select, Op::Maintain})),
  };
  ops_seg.policy.statements = classes({G::Ddl, G::Notify, G::Admin});
  ops_seg.policy.functions.allow = {"*"};
  ops_seg.policy.functions.deny = {"md5"};
  cfg.segments.emplace("ops", ops_seg);

  config::Segment sales;  // default_schema + bare patterns (as the loader stores them)
  sales.name = "sales";
  sales.policy.default_schema = "sales";
  sales.policy.rules = {rule("bare", {"orders"}, ops({Op::Select}))};
  cfg.segments.emplace("sales", sales);

  config::Segment empty;  // no rules at all
  empty.name = "empty";
  cfg.segments.emplace("empty", empty);

  config::Segment night;
  night.name = "night";
  config::TimeWindow w;
  w.days = 0x1f;  // Mon..Fri
  w.start_minute = 22 * 60;
  w.end_minute = 6 * 60;
  w.timezone = "Europe/Berlin";
  night.policy.windows = {w};
  night.policy.rules = {rule("all-read", {"*.*"}, ops({Op::Select}))};
  cfg.segments.emplace("night", night);
  return cfg;
}

sql::TableRef t(std::string schema, std::string name, TableOp op = TableOp::Select) {
  return sql::TableRef{std::move(schema), std::move(name), true, op};
}

sql::FunctionRef fn(std::string schema, std::string name) {
  return sql::FunctionRef{std::move(schema), std::move(name)};
}

sql::StatementPart part(StatementClass k, std::string command, std::vector<sql::TableRef> tables,
                        std::vector<sql::FunctionRef> functions = {}) {
  sql::StatementPart p;
  p.klass = k;
  p.command = std::move(command);
  p.tables = std::move(tables);
  p.functions = std::move(functions);
  return p;
}

sql::StatementPart dml(std::vector<sql::TableRef> tables, std::vector<sql::FunctionRef> f = {}) {
  return part(StatementClass::Dml, "SELECT", std::move(tables), std::move(f));
}

sql::StatementInfo info(std::vector<sql::StatementPart> parts) {
  sql::StatementInfo i;
  i.parse_ok = true;
  i.statements = std::move(parts);
  return i;
}

sql::StatementPart locking(sql::StatementPart p) {
  p.locks_rows = true;
  return p;
}

struct Case {
  const char* name;
  const char* segment;
  sql::StatementInfo info;
  bool allow;
  const char* rule_id;
  const char* reason_part;  // substring of the reason ("" = not checked)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const std::vector<Case>& cases() {
  static const std::vector<Case> v = {
      // --- tables: specificity and precedence
      {"ExactRuleGrantsSelect", "billing", info({dml({t("public", "orders")})}), true, "orders-rw", ""},
      {"SchemaGlobGrantsWhenNothingMoreSpecificMatches", "billing",
       info({dml({t("public", "products")})}), true, "reads", ""},
      {"MostSpecificRuleDecidesEvenIfItLacksTheOp", "billing",
       info({dml({t("public", "orders", TableOp::Delete)})}), false, "orders-rw",
       "segproxy: segment \"billing\" may not delete from public.orders"},
      {"ExplicitDenyAllBeatsSchemaGlobAllow", "billing",
       info({dml({t("public", "customers_pii")})}), false, "pii",
       "may not select from public.customers_pii"},
      {"ExplicitDenyBeatsMoreSpecificAllow", "billing",
       info({dml({t("public", "orders", TableOp::Truncate)})}), false, "no-truncate",
       "may not truncate public.orders"},
      {"PartialTableGlobBeatsSchemaGlob", "billing",
       info({dml({t("public", "order_archive", TableOp::Delete)})}), true, "order-glob", ""},
      {"ExactNameBeatsPartialTableGlob", "billing",
       info({dml({t("public", "order_items", TableOp::Delete)})}), false, "orders-rw", ""},
      {"DenyOnlyRuleDoesNotShadowLessSpecificGrants", "billing",
       info({dml({t("public", "audit_log")})}), true, "reads", ""},
      {"DenyOnlyRuleStillDeniesItsOps", "billing",
       info({dml({t("public", "audit_log", TableOp::Delete)})}), false, "audit-nodelete", ""},
      {"NoMatchingRuleIsDefaultDeny", "billing", info({dml({t("other", "x")})}), false, "",
       "segproxy: segment \"billing\" may not select from other.x"},
      {"SegmentWithoutRulesDeniesEveryTable", "empty", info({dml({t("public", "orders")})}),
       false, "", "may not select from public.orders"},
      {"SegmentWithoutRulesAllowsTableFreeSelect", "empty", info({dml({}, {fn("", "now")})}),
       true, "", ""},
      {"TableExactWithSchemaGlobBeatsSchemaExactWithTableStar", "ops",
       info({dml({t("reporting", "metrics", TableOp::Insert)})}), true, "metrics-in", ""},
      {"SchemaGlobStarStarIsTheLeastSpecific", "ops", info({dml({t("reporting", "daily")})}),
       true, "reporting", ""},
      {"BarePatternMeansDefaultSchema", "sales", info({dml({t("sales", "orders")})}), true,
       "bare", ""},
      {"BarePatternDoesNotMatchOtherSchemas", "sales", info({dml({t("public", "orders")})}),
       false, "", ""},
      // --- lock, copy, row locks
      {"LockIsGrantedByAnyAllow", "billing",
       info({dml({t("public", "products", TableOp::Lock)})}), true, "reads", ""},
      {"LockWithoutAnyGrantIsDenied", "billing", info({dml({t("other", "x", TableOp::Lock)})}),
       false, "", "may not lock other.x"},
      {"CopyToIsNotImpliedBySelect", "billing",
       info({dml({t("public", "orders", TableOp::CopyTo)})}), false, "orders-rw",
       "may not copy data out of public.orders"},
      {"CopyToGrantedExplicitly", "billing",
       info({dml({t("public", "exports", TableOp::CopyTo)})}), true, "exports", ""},
      {"CopyFromNeedsItsOwnGrant", "billing",
       info({dml({t("public", "orders", TableOp::CopyFrom)})}), false, "orders-rw",
       "may not copy data into public.orders"},
      {"RowLockingSelectNeedsUpdate", "billing",
       info({locking(dml({t("public", "products")}))}), false, "reads",
       "may not lock rows of public.products"},
      {"RowLockingSelectAllowedWithUpdate", "billing",
       info({locking(dml({t("public", "orders")}))}), true, "orders-rw", ""},
      // --- statement classes
      {"ClassNotGrantedIsDenied", "billing",
       info({part(StatementClass::Ddl, "CREATE TABLE", {t("public", "x", TableOp::Alter)})}),
       false, "billing.statements", "segproxy: segment \"billing\" may not run ddl (CREATE TABLE)"},
      {"GrantedClassWithoutTablesIsAllowed", "billing",
       info({part(StatementClass::Transaction, "BEGIN", {})}), true, "", ""},
      {"DdlNeedsClassAndAlterOnTheTable", "ops",
       info({part(StatementClass::Ddl, "CREATE TABLE", {t("scratch", "t1", TableOp::Alter)})}),
       true, "ddl-scratch", ""},
      {"DdlOutsideAlterGrantIsDenied", "ops",
       info({part(StatementClass::Ddl, "DROP TABLE", {t("public", "t1", TableOp::Alter)})}),
       false, "everything-read", "may not alter public.t1"},
      {"AdminNeedsMaintainOnTheTable", "ops",
       info({part(StatementClass::Admin, "VACUUM", {t("public", "t1", TableOp::Maintain)})}),
       false, "everything-read", "may not run maintenance on public.t1"},
      {"ExplainChecksInnerTables", "billing",
       info({part(StatementClass::Explain, "EXPLAIN", {t("public", "orders", TableOp::Delete)})}),
       false, "orders-rw", "may not delete from public.orders"},
      {"ExplainOfAllowedQueryIsAllowed", "billing",
       info({part(StatementClass::Explain, "EXPLAIN", {t("public", "orders")})}), true,
       "orders-rw", ""},
      {"ExplainNotGrantedIsDeniedEvenForAllowedTables", "ops",
       info({part(StatementClass::Explain, "EXPLAIN", {t("public", "x")})}), false,
       "ops.statements", "may not run explain (EXPLAIN)"},
      {"PrepareChecksItsTables", "billing",
       info({part(StatementClass::Prepare, "PREPARE", {t("public", "orders", TableOp::Delete)})}),
       false, "orders-rw", ""},
      {"CursorNotGranted", "billing",
       info({part(StatementClass::Cursor, "DECLARE", {t("public", "orders")})}), false,
       "billing.statements", "may not run cursor (DECLARE)"},
      {"ForbiddenIsDeniedWithItsReason", "ops",
       info({[] {
         auto p = part(StatementClass::Forbidden, "SET ROLE", {});
         p.forbidden_reason = "changes the session role";
         return p;
       }()}),
       false, "", "segproxy: SET ROLE is not allowed: changes the session role"},
      {"UnknownIsDeniedEvenWithoutReason", "ops",
       info({part(StatementClass::Unknown, "", {})}), false, "",
       "statement is not allowed: not understood"},
      // --- multi-statement
      {"EveryStatementMustPassAndTheFirstDeniedIsNamed", "billing",
       info({dml({t("public", "orders")}), dml({t("public", "orders", TableOp::Delete)}),
             part(StatementClass::Ddl, "CREATE TABLE", {})}),
       false, "orders-rw", "may not delete from public.orders"},
      {"AllowedMultiStatementListsEveryRule", "billing",
       info({dml({t("public", "orders")}), dml({t("public", "products")})}), true,
       "orders-rw,reads", "allowed by orders-rw,reads"},
      {"EmptyStatementListIsAllowed", "billing", info({}), true, "", ""},
      // --- functions
      {"SafeBuiltinIsAllowed", "billing", info({dml({}, {fn("", "now"), fn("pg_catalog", "lower")})}),
       true, "", ""},
      {"UnknownFunctionIsDenied", "billing", info({dml({}, {fn("public", "foo")})}), false,
       "billing.functions", "segproxy: function public.foo is not allowed for segment \"billing\""},
      {"SafeNameInAnotherSchemaIsNotTheBuiltin", "billing", info({dml({}, {fn("public", "lower")})}),
       false, "billing.functions", ""},
      {"QualifiedAllowMatchesItsSchema", "billing", info({dml({}, {fn("my_schema", "my_func")})}),
       true, "", ""},
      {"QualifiedAllowDoesNotCoverUnqualifiedCallOutsideDefaultSchema", "billing",
       info({dml({}, {fn("", "my_func")})}), false, "billing.functions", ""},
      {"BareAllowGlobCoversDefaultSchema", "billing",
       info({dml({}, {fn("", "report_daily"), fn("public", "report_x")})}), true, "", ""},
      {"BareAllowGlobDoesNotCoverOtherSchemas", "billing", info({dml({}, {fn("other", "report_x")})}),
       false, "billing.functions", ""},
      {"DenyListedFunctionIsDenied", "billing", info({dml({}, {fn("pg_catalog", "pg_read_file")})}),
       false, "billing.functions.deny", ""},
      {"DenyGlobCoversExtensionFunctions", "billing", info({dml({}, {fn("", "dblink_exec")})}),
       false, "billing.functions.deny", ""},
      {"QualifiedDenyCoversUnqualifiedCall", "billing", info({dml({}, {fn("", "evil")})}), false,
       "billing.functions.deny", ""},
      {"DenyBeatsSafeBuiltin", "ops", info({dml({}, {fn("", "md5")})}), false,
       "ops.functions.deny", ""},
      {"OpaqueFunctionAllowedOnlyByExactEntry", "billing", info({dml({}, {fn("", "nextval")})}),
       true, "", ""},
      {"OpaqueFunctionNotListedIsDenied", "billing", info({dml({}, {fn("", "currval")})}), false,
       "billing.functions", "list it in functions.allow"},
      {"OpaqueFunctionNotUnlockedByAllowGlob", "ops", info({dml({}, {fn("", "query_to_xml")})}),
       false, "ops.functions", ""},
      {"AllowGlobCoversUserFunctions", "ops", info({dml({}, {fn("", "custom_fn")})}), true, "", ""},
      {"SetConfigIsNeverAllowed", "ops", info({dml({}, {fn("", "set_config")})}), false,
       "ops.functions", "(never)"},
      {"PgNotifyNeedsNotifyClass", "billing", info({dml({}, {fn("", "pg_notify")})}), false,
       "billing.functions", ""},
      {"PgNotifyAllowedWithNotifyClass", "ops", info({dml({}, {fn("", "pg_notify")})}), true, "", ""},
  };
  return v;
}

class PolicyEngineCases : public ::testing::TestWithParam<Case> {};

TEST_P(PolicyEngineCases, Decides) {
  static const PolicyEngine engine(make_config());
  const Case& c = GetParam();
  const Decision d = engine.evaluate(c.segment, c.info, utc(2026, 6, 1, 12, 0));
  EXPECT_EQ(d.allow, c.allow) << d.reason;
  EXPECT_EQ(d.rule_id, c.rule_id) << d.reason;
  EXPECT_NE(d.reason.find(c.reason_part), std::string::npos) << d.reason;
  EXPECT_EQ(d.sqlstate, c.allow ? "" : "42501");
}

INSTANTIATE_TEST_SUITE_P(Table, PolicyEngineCases, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PolicyEngine, ParseErrorIsDeniedWith42601AndTheParserMessage) {
  const PolicyEngine engine(make_config());
  sql::StatementInfo i;
  i.parse_ok = false;
  i.parse_error = "syntax error at or near \"SELEC\"";
  const Decision d = engine.evaluate("billing", i, utc(2026, 6, 1));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.sqlstate, "42601");
  EXPECT_EQ(d.reason, "syntax error at or near \"SELEC\"");
}

TEST(PolicyEngine, UnknownSegmentIsDenied) {
  const PolicyEngine engine(make_config());
  const Decision d = engine.evaluate("nope", info({dml({})}), utc(2026, 6, 1));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, "segproxy: unknown segment \"nope\"");
  EXPECT_FALSE(engine.check_window("nope", utc(2026, 6, 1)).allow);
}

TEST(PolicyEngine, OutsideTheWindowEverythingIsDeniedAndTheNextOpeningNamed) {
  const PolicyEngine engine(make_config());
  // Mon 2026-11-23 12:00 CET: outside 22:00-06:00.
  const auto noon = utc(2026, 11, 23, 11, 0);
  const Decision d = engine.evaluate("night", info({dml({t("public", "x")})}), noon);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule_id, "night.windows");
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_EQ(d.reason,
            "segproxy: segment \"night\" is outside its access windows (next opening: "
            "Mon 2026-11-23 22:00 Europe/Berlin)");
  EXPECT_FALSE(engine.check_window("night", noon).allow);
  EXPECT_FALSE(engine.window_end("night", noon).has_value());
  // Parse errors are not even looked at outside the window.
  sql::StatementInfo bad;
  EXPECT_EQ(engine.evaluate("night", bad, noon).sqlstate, "42501");
}

TEST(PolicyEngine, InsideTheWindowRulesApplyAndTheEndIsKnown) {
  const PolicyEngine engine(make_config());
  const auto late = utc(2026, 11, 23, 22, 30);  // Mon 23:30 CET
  EXPECT_TRUE(engine.check_window("night", late).allow);
  EXPECT_TRUE(engine.evaluate("night", info({dml({t("public", "x")})}), late).allow);
  EXPECT_EQ(engine.window_end("night", late), utc(2026, 11, 24, 5, 0));  // Tue 06:00 CET
  EXPECT_FALSE(engine.window_end("billing", late).has_value());  // always open
}

TEST(PolicyEngine, VersionChangesOnEveryConstruction) {
  const auto cfg = make_config();
  const PolicyEngine a(cfg);
  const PolicyEngine b(cfg);
  EXPECT_NE(a.version(), b.version());
  ASSERT_NE(a.policy("billing"), nullptr);
  EXPECT_EQ(a.policy("nope"), nullptr);
}

TEST(PolicyEngine, UnloadableZoneFailsConstruction) {
  auto cfg = make_config();
  cfg.segments.at("night").policy.windows[0].timezone = "Mars/Olympus_Mons";
  EXPECT_THROW(PolicyEngine{cfg}, std::runtime_error);
}

TEST(BuiltinFunctions, TablesAreDisjointAndCoverTheDangerousOnes) {
  for (const char* f : {"now", "count", "lower", "generate_series", "jsonb_build_object",
                        "pg_backend_pid", "date_trunc", "extract", "string_agg"}) {
    EXPECT_TRUE(is_safe_builtin_function(f)) << f;
    EXPECT_FALSE(is_opaque_function(f)) << f;
  }
  for (const char* f : {"nextval", "currval", "setval", "query_to_xml", "table_to_xml",
                        "pg_read_file", "pg_ls_dir", "lo_import", "lo_export", "dblink",
                        "dblink_exec", "ts_stat"}) {
    EXPECT_TRUE(is_opaque_function(f)) << f;
    EXPECT_FALSE(is_safe_builtin_function(f)) << f;
  }
  for (const char* f : {"set_config", "pg_notify", "current_setting", "pg_terminate_backend",
                        "pg_advisory_lock", "pg_reload_conf"}) {
    EXPECT_FALSE(is_safe_builtin_function(f)) << f;
  }
}

}  // namespace
}  // namespace segproxy::authz
