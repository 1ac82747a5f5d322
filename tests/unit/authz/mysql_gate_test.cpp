// MysqlGate (authz/gate/mysql_gate.hpp), the MySQL session's decision point, and the
// DecisionCache both gates share: what a cached verdict must never outlive.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "authz/gate/decision_cache.hpp"
#include "authz/gate/mysql_errors.hpp"
#include "authz/gate/mysql_gate.hpp"

namespace segproxy::proxy {
namespace {

config::Config make_config(bool allow_reads = true) {
  config::Config cfg;
  config::Segment billing;
  billing.name = "billing";
  billing.databases = {"shop", "archive"};
  config::PolicyRule read;
  read.id = "shop-read";
  read.tables = {"shop.*"};
  read.allow = allow_reads ? config::op_bit(config::TableOperation::Select) : 0;
  billing.policy.rules = {read};
  billing.policy.statements = config::class_bit(config::StatementClassGrant::Prepare) |
                              config::class_bit(config::StatementClassGrant::SessionSafe);
  cfg.segments.emplace("billing", billing);
  return cfg;
}

const auto kNow = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56);

MysqlGate make_gate(const authz::PolicyEngine& engine, const config::Config& cfg) {
  authz::sql::MysqlClassifierOptions options;
  options.current_database = "shop";
  return MysqlGate(engine, "billing", cfg.segments.at("billing").databases, options);
}

TEST(DecisionCache, NeverGrowsPastItsBoundAndFindsWithoutBuildingAKey) {
  DecisionCache<int> cache(2);
  cache.put("a", 1);
  cache.put("b", 2);
  ASSERT_NE(cache.find(std::string_view("a")), nullptr);
  EXPECT_EQ(*cache.find(std::string_view("b")), 2);
  cache.put("c", 3);  // full: emptied first
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("a"), nullptr);
  EXPECT_EQ(*cache.find("c"), 3);
  cache.clear();
  EXPECT_EQ(cache.find("c"), nullptr);
}

TEST(MysqlGate, AVerdictCachedUnderOneDatabaseNeverAnswersUnderAnother) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  MysqlGate gate = make_gate(engine, cfg);
  EXPECT_TRUE(gate.check("select * from orders", false, "shop", kNow).allow);
  EXPECT_TRUE(gate.check("select * from orders", false, "shop", kNow).allow);  // cached
  // The same text (same fingerprint: names are kept, unqualified) means archive.orders now.
  const MysqlVerdict v = gate.check("select * from orders", false, "archive", kNow);
  EXPECT_FALSE(v.allow);
  EXPECT_EQ(v.code, ER_TABLEACCESS_DENIED);
  EXPECT_TRUE(gate.check("select * from orders", false, "shop", kNow).allow);
}

TEST(MysqlGate, UseIsJudgedAgainstTheSegmentsDatabasesAndCannotBePrepared) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  MysqlGate gate = make_gate(engine, cfg);
  const MysqlVerdict use = gate.check("use archive", false, "shop", kNow);
  EXPECT_TRUE(use.allow);
  EXPECT_EQ(use.use_database, "archive");
  const MysqlVerdict other = gate.check("use mysql", false, "shop", kNow);
  EXPECT_FALSE(other.allow);
  EXPECT_EQ(other.code, ER_DBACCESS_DENIED);
  const MysqlVerdict prepared = gate.check("use archive", true, "shop", kNow);
  EXPECT_FALSE(prepared.allow);
  EXPECT_EQ(prepared.code, ER_NOT_SUPPORTED);
  EXPECT_FALSE(gate.check_database("mysql").allow);
  EXPECT_TRUE(gate.check_database("shop").allow);
}

TEST(MysqlGate, ExecuteOfANameNotPreparedThroughTheGateIsRefusedEvenWhenItsTextIsCached) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  MysqlGate gate = make_gate(engine, cfg);
  EXPECT_FALSE(gate.check("execute s", false, "shop", kNow).allow);
  const MysqlVerdict prepare = gate.check("prepare s from 'select * from orders'", false, "shop", kNow);
  ASSERT_TRUE(prepare.allow) << prepare.message;
  gate.note_forwarded(prepare);
  EXPECT_TRUE(gate.check("execute s", false, "shop", kNow).allow);
  gate.forget_prepared_names();  // COM_RESET_CONNECTION
  const MysqlVerdict again = gate.check("execute s", false, "shop", kNow);
  EXPECT_FALSE(again.allow);
  EXPECT_EQ(again.code, ER_SPECIFIC_ACCESS_DENIED);
}

TEST(MysqlGate, RebindDropsCachedVerdictsAndPreparedNamesOfTheOldPolicy) {
  const config::Config open_cfg = make_config(true);
  const config::Config closed_cfg = make_config(false);
  const authz::PolicyEngine open_engine(open_cfg);
  const authz::PolicyEngine closed_engine(closed_cfg);
  MysqlGate gate = make_gate(open_engine, open_cfg);
  ASSERT_TRUE(gate.check("select * from orders", false, "shop", kNow).allow);
  const MysqlVerdict prepare = gate.check("prepare s from 'select 1'", false, "shop", kNow);
  ASSERT_TRUE(prepare.allow) << prepare.message;
  gate.note_forwarded(prepare);
  gate.rebind(closed_engine, closed_cfg.segments.at("billing").databases, {});
  EXPECT_FALSE(gate.check("select * from orders", false, "shop", kNow).allow);
  EXPECT_FALSE(gate.check("execute s", false, "shop", kNow).allow);
}

TEST(MysqlGate, ALexingChangeIsFollowedAndAnUnfollowableSqlModeIsReported) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  MysqlGate gate = make_gate(engine, cfg);
  EXPECT_TRUE(gate.apply_lexing_settings("ANSI_QUOTES", "UTF8MB4"));
  EXPECT_TRUE(gate.options().ansi_quotes);
  EXPECT_EQ(gate.options().charset, "utf8mb4");
  EXPECT_FALSE(gate.apply_lexing_settings("ORACLE", "utf8mb4"));
  EXPECT_FALSE(gate.options().unfollowable_sql_mode.empty());
  EXPECT_FALSE(gate.check("select * from orders", false, "shop", kNow).allow);  // every statement refused
}

// Issue 12 (PyMySQL test_nextset_error): text the server cannot parse gets the server's
// own answer, ERROR 1064 (42000), single or anywhere in a multi-statement string (the
// whole string is refused, nothing of it runs); statements that are understood and
// refused by policy, or understood but not supported by the analyzer, keep 1142 / 1227.
TEST(MysqlGate, UnparseableTextIsRefusedWith1064AndPolicyRefusalsKeepTheirCodes) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  MysqlGate gate = make_gate(engine, cfg);
  for (const char* sql : {"xyzzy", "SELECT 0; xyzzy;", "xyzzy; SELECT 0", "SELEC * FROM orders", "42",
                          "'a string'", "DELIMITER //", "select * from orders; frobnicate orders"}) {
    const MysqlVerdict v = gate.check(sql, false, "shop", kNow);
    EXPECT_FALSE(v.allow) << sql;
    EXPECT_EQ(v.code, ER_PARSE) << sql << ": " << v.message;
    EXPECT_EQ(v.sqlstate, "42000") << sql;
  }
  const MysqlVerdict prepared = gate.check("xyzzy", true, "shop", kNow);  // COM_STMT_PREPARE
  EXPECT_FALSE(prepared.allow);
  EXPECT_EQ(prepared.code, ER_PARSE);
  // Understood and refused by policy.
  EXPECT_EQ(gate.check("delete from orders", false, "shop", kNow).code, ER_TABLEACCESS_DENIED);
  EXPECT_EQ(gate.check("SET GLOBAL general_log = 1", false, "shop", kNow).code, ER_SPECIFIC_ACCESS_DENIED);
  EXPECT_EQ(gate.check("SET ROLE r", false, "shop", kNow).code, ER_SPECIFIC_ACCESS_DENIED);
  EXPECT_EQ(gate.check("SELECT 0; SHUTDOWN", false, "shop", kNow).code, ER_SPECIFIC_ACCESS_DENIED);
  // A statement keyword the analyzer does not support: refused as unsupported, not as a
  // syntax error (the server would run it).
  EXPECT_EQ(gate.check("HELP 'contents'", false, "shop", kNow).code, ER_SPECIFIC_ACCESS_DENIED);
  // The session stays usable.
  EXPECT_TRUE(gate.check("select * from orders", false, "shop", kNow).allow);
}

// Issue 12 item 4.5, review finding: the gate finds bytes that are not UTF-8 outside
// string literals in the same lexing pass as the cache key (no lexing of its own in the
// session): ER_INVALID_CHARACTER_STRING 1300, never cached, while the same bytes inside a
// `_binary'...'` literal pass; over limits.max_statement_length the length refusal answers
// (the text is not lexed at all).
TEST(MysqlGate, BytesThatAreNotUtf8OutsideLiteralsGet1300FromTheGateAndInsideALiteralPass) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  MysqlGate gate = make_gate(engine, cfg);
  const std::string raw = "\xff\xfe\x80";
  const MysqlVerdict bad = gate.check("select * from orders /* " + raw + " */", false, "shop", kNow);
  EXPECT_FALSE(bad.allow);
  EXPECT_TRUE(bad.invalid_text);
  EXPECT_EQ(bad.code, ER_INVALID_CHARACTER_STRING);
  EXPECT_EQ(bad.sqlstate, "HY000");
  EXPECT_EQ(bad.command, "COM_QUERY");
  EXPECT_TRUE(gate.check("select * from orders", false, "shop", kNow).allow);  // cached now
  EXPECT_TRUE(gate.check("select * from orders /* " + raw + " */", false, "shop", kNow).invalid_text);
  EXPECT_EQ(gate.check("select `caf\xe9` from orders", true, "shop", kNow).command, "COM_STMT_PREPARE");
  const MysqlVerdict binary = gate.check("select * from orders where id = _binary'" + raw + "'", false, "shop", kNow);
  EXPECT_TRUE(binary.allow) << binary.message;
  EXPECT_FALSE(binary.invalid_text);
}

TEST(MysqlGate, TextOverTheStatementLengthLimitIsRefusedForItsLengthNotLexedFor1300) {
  const config::Config cfg = make_config();
  const authz::PolicyEngine engine(cfg);
  authz::sql::MysqlClassifierOptions options;
  options.current_database = "shop";
  options.limits.max_statement_length = 64;
  MysqlGate gate(engine, "billing", cfg.segments.at("billing").databases, options);
  const MysqlVerdict v =
      gate.check("select * from orders /* \xff */" + std::string(100, ' '), false, "shop", kNow);
  EXPECT_FALSE(v.allow);
  EXPECT_FALSE(v.invalid_text);
  EXPECT_EQ(v.code, 1162) << v.message;
}

}  // namespace
}  // namespace segproxy::proxy
