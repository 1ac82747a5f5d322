// Emergency grants (authz/grants, docs/admin.md "Break-glass grants"): whom a grant
// matches, the TTL bound, the scope words (the policy vocabulary), and the decision
// (PolicyEngine::evaluate_granted) on what the real classifiers report.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "authz/gate/mysql_gate.hpp"
#include "authz/gate/pg_gate.hpp"
#include "authz/grants/grant.hpp"
#include "authz/grants/grant_list.hpp"
#include "authz/grants/session_grants.hpp"
#include "authz/policy_engine.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "policy_test_util.hpp"

namespace segproxy::authz {
namespace {

using namespace std::chrono_literals;
using Op = config::TableOperation;
const auto kNow = test::utc(2026, 12, 7, 3, 0, 0);

ClientIdentity spiffe(std::string id) {
  ClientIdentity c;
  c.spiffe_id = std::move(id);
  return c;
}

Grant grant(std::string id, GrantKind kind, std::string value, std::string tables, std::string ops,
            std::string statements = "") {
  std::string error;
  Grant g;
  g.id = std::move(id);
  g.kind = kind;
  g.value = std::move(value);
  auto scope = parse_grant_scope(tables, ops, statements, error);
  EXPECT_TRUE(scope) << error;
  if (scope) g.scope = *scope;
  g.reason = "INC-42";
  g.created_at = kNow;
  g.expires_at = kNow + 30min;
  return g;
}

// ---- matching -------------------------------------------------------------------------

TEST(GrantMatching, IdentityGrantMatchesOnlyThatIdentityInAnySegment) {
  const Grant g = grant("a1", GrantKind::Identity, "spiffe://td/ns/billing/sa/api", "orders", "select");
  EXPECT_TRUE(grant_matches(g, spiffe("spiffe://td/ns/billing/sa/api"), "billing"));
  EXPECT_TRUE(grant_matches(g, spiffe("spiffe://td/ns/billing/sa/api"), "reporting"));
  EXPECT_FALSE(grant_matches(g, spiffe("spiffe://td/ns/billing/sa/api2"), "billing"));
  EXPECT_FALSE(grant_matches(g, spiffe("spiffe://td/ns/other"), "billing"));
}

TEST(GrantMatching, SpiffePrefixGrantMatchesWholePathSegmentsOnly) {
  const Grant g = grant("a2", GrantKind::SpiffePrefix, "spiffe://td/ns/billing", "orders", "select");
  EXPECT_TRUE(grant_matches(g, spiffe("spiffe://td/ns/billing/sa/api"), "billing"));
  EXPECT_FALSE(grant_matches(g, spiffe("spiffe://td/ns/billingx/sa/api"), "billing"));
  EXPECT_FALSE(grant_matches(g, ClientIdentity{}, "billing"));
}

TEST(GrantMatching, SegmentGrantMatchesEveryIdentityOfThatSegmentOnly) {
  const Grant g = grant("a3", GrantKind::Segment, "billing", "orders", "select");
  EXPECT_TRUE(grant_matches(g, spiffe("spiffe://td/x"), "billing"));
  EXPECT_FALSE(grant_matches(g, spiffe("spiffe://td/x"), "reporting"));
  EXPECT_FALSE(grant_matches(g, spiffe("spiffe://td/x"), ""));
}

// ---- TTL bound ------------------------------------------------------------------------

TEST(GrantTtl, MissingZeroOrLongerThanTheMaximumIsRefused) {
  EXPECT_NE(check_grant_ttl(std::nullopt, 4h), "");
  EXPECT_NE(check_grant_ttl(0s, 4h), "");
  EXPECT_NE(check_grant_ttl(-5s, 4h), "");
  EXPECT_NE(check_grant_ttl(4h + 1s, 4h), "");
  EXPECT_NE(check_grant_ttl(2h, 1h).find("max_grant_ttl"), std::string::npos);
}

TEST(GrantTtl, OneSecondUpToTheMaximumIsAccepted) {
  EXPECT_EQ(check_grant_ttl(1s, 4h), "");
  EXPECT_EQ(check_grant_ttl(4h, 4h), "");
}

// ---- scope words ----------------------------------------------------------------------

TEST(GrantScope, UsesThePolicyVocabulary) {
  std::string error;
  auto s = parse_grant_scope("orders, audit.* ", "SELECT,update", "ddl,explain", error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->tables, (std::vector<std::string>{"orders", "audit.*"}));
  EXPECT_EQ(s->ops, config::op_bit(Op::Select) | config::op_bit(Op::Update));
  EXPECT_EQ(statement_class_names(s->statements), "ddl,explain");
  auto all = parse_grant_scope("orders", "all", "", error);
  ASSERT_TRUE(all) << error;
  EXPECT_EQ(all->ops, config::kAllOperations);
}

TEST(GrantScope, RefusesWhatARuleWouldRefuse) {
  std::string error;
  EXPECT_FALSE(parse_grant_scope("", "select", "", error));
  EXPECT_FALSE(parse_grant_scope("orders", "", "", error));
  EXPECT_FALSE(parse_grant_scope("a.b.c", "select", "", error));
  EXPECT_FALSE(parse_grant_scope("orders,,items", "select", "", error));
  EXPECT_FALSE(parse_grant_scope("orders", "selcet", "", error));
  EXPECT_NE(error.find("selcet"), std::string::npos) << error;
  EXPECT_FALSE(parse_grant_scope("orders", "select", "superuser", error));
  std::string many;
  for (std::size_t i = 0; i <= kMaxGrantTables; ++i) many += "t" + std::to_string(i) + ",";
  many.pop_back();
  EXPECT_FALSE(parse_grant_scope(many, "select", "", error));
}

// ---- file and list --------------------------------------------------------------------

TEST(GrantFile, RoundTripsAndRejectsDuplicateIds) {
  const Grant g = grant("0123456789ab", GrantKind::SpiffePrefix, "spiffe://td/ns", "orders,audit.*", "select,delete",
                       "ddl");
  const std::string line = encode_grant_line(g) + "\n";
  std::string error;
  auto back = decode_grant_file(line, error);
  ASSERT_TRUE(back) << error;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ(back->front(), g);
  EXPECT_FALSE(decode_grant_file(line + line, error));
  EXPECT_NE(error.find("duplicate"), std::string::npos) << error;
  EXPECT_FALSE(decode_grant_file(encode_grant_line(g), error)) << "a truncated file (no final newline) is an error";
}

TEST(GrantList, ChangesMoveTheGenerationAndSurviveAReload) {
  const std::string file = ::testing::TempDir() + "/grant_list_test.json";
  std::remove(file.c_str());
  GrantList list(file);
  std::string error;
  ASSERT_TRUE(list.load(error)) << error;
  const auto g0 = list.generation();
  ASSERT_TRUE(list.add(grant("aaaaaaaaaaaa", GrantKind::Segment, "billing", "orders", "select")).ok);
  EXPECT_NE(list.generation(), g0);
  EXPECT_FALSE(list.add(grant("aaaaaaaaaaaa", GrantKind::Segment, "billing", "orders", "select")).ok);
  GrantList reloaded(file);
  ASSERT_TRUE(reloaded.load(error)) << error;
  ASSERT_EQ(reloaded.snapshot()->size(), 1u);
  EXPECT_EQ(reloaded.matching(spiffe("spiffe://td/x"), "billing", kNow).size(), 1u);
  EXPECT_TRUE(reloaded.matching(spiffe("spiffe://td/x"), "billing", kNow + 30min).empty())
      << "an expired grant matches nothing even before it is pruned";
  const auto g1 = reloaded.generation();
  const auto pruned = reloaded.prune_expired(kNow + 31min);
  ASSERT_TRUE(pruned.ok);
  EXPECT_EQ(pruned.changed.size(), 1u);
  EXPECT_NE(reloaded.generation(), g1);
  EXPECT_EQ(reloaded.active_count(kNow), 0u);
  std::remove(file.c_str());
}

// ---- the decision ---------------------------------------------------------------------

class GrantDecision : public ::testing::Test {
 protected:
  GrantDecision() : engine_(make()) {}

  static config::Config make() {
    config::Config cfg;
    config::Segment s;
    s.name = "billing";
    s.databases = {"shop"};
    config::PolicyRule read;
    read.id = "read-orders";
    read.tables = {"public.orders"};
    read.allow = config::op_bit(Op::Select);
    config::PolicyRule no_delete;
    no_delete.id = "no-delete";
    no_delete.tables = {"public.*"};
    no_delete.deny = config::op_bit(Op::Delete);
    config::PolicyRule no_delete_shop;  // the same explicit deny for MySQL tables
    no_delete_shop.id = "no-delete-shop";
    no_delete_shop.tables = {"shop.*"};
    no_delete_shop.deny = config::op_bit(Op::Delete);
    s.policy.rules = {read, no_delete, no_delete_shop};
    s.policy.statements = config::class_bit(config::StatementClassGrant::Transaction);
    cfg.segments.emplace("billing", s);
    // "night": its only access window closed an hour before kNow.
    config::Segment night = s;
    night.name = "night";
    config::TimeWindow past;
    past.kind = config::TimeWindow::Kind::OneOff;
    past.from = kNow - 2h;
    past.until = kNow - 1h;
    night.policy.windows = {past};
    cfg.segments.emplace("night", night);
    return cfg;
  }

  Decision my(const std::string& sql, const std::vector<Grant>& grants, const std::string& segment = "billing") const {
    sql::MysqlClassifierOptions o;
    o.current_database = "shop";
    return engine_.evaluate_granted(segment, sql::classify_mysql(sql, o), kNow, grants);
  }

  Decision pg(const std::string& sql, const std::vector<Grant>& grants, const std::string& segment = "billing") const {
    sql::ClassifierOptions o;
    return engine_.evaluate_granted(segment, sql::classify_pg(sql, o), kNow, grants);
  }

  PolicyEngine engine_;
};

TEST_F(GrantDecision, GrantAllowsWhatTheRulesDenyAndNamesItself) {
  const std::vector<Grant> g = {grant("g1", GrantKind::Segment, "billing", "orders", "update")};
  EXPECT_FALSE(pg("UPDATE orders SET total = 1", {}).allow);
  const Decision d = pg("UPDATE orders SET total = 1", g);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.grant_id, "g1");
  EXPECT_EQ(d.rule_id, "grant:g1");
}

TEST_F(GrantDecision, StatementTheRulesAllowCarriesNoGrantId) {
  const std::vector<Grant> g = {grant("g1", GrantKind::Segment, "billing", "orders", "select")};
  const Decision d = pg("SELECT * FROM orders", g);
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(d.grant_id, "");
  EXPECT_EQ(d.rule_id, "read-orders");
}

TEST_F(GrantDecision, GrantCoversOnlyItsTablesAndOperations) {
  const std::vector<Grant> g = {grant("g1", GrantKind::Segment, "billing", "orders", "update")};
  EXPECT_FALSE(pg("UPDATE items SET n = 1", g).allow);
  EXPECT_FALSE(pg("INSERT INTO orders VALUES (1)", g).allow);
  // Every table of the statement must pass: one uncovered table refuses the whole.
  const Decision d = pg("UPDATE orders SET total = 1 FROM items WHERE items.id = orders.id", g);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.grant_id, "");
}

// Deliberate (docs/policy.md "Emergency grants"): a grant is judged after the rules and
// overrides an explicit rule deny of what it covers, on both protocols.
TEST_F(GrantDecision, GrantOverridesAnExplicitRuleDeny) {
  const std::vector<Grant> g = {grant("g2", GrantKind::Segment, "billing", "public.orders", "delete")};
  const Decision plain = pg("DELETE FROM orders", {});
  EXPECT_FALSE(plain.allow);
  EXPECT_EQ(plain.rule_id, "no-delete") << "refused by the explicit deny, not by the default deny";
  const Decision d = pg("DELETE FROM orders", g);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.grant_id, "g2");
}

TEST_F(GrantDecision, MysqlGrantOverridesAnExplicitRuleDeny) {
  const std::vector<Grant> g = {grant("g2m", GrantKind::Segment, "billing", "shop.orders", "delete")};
  // No WHERE: a WHERE would read the table too (select, which no rule grants on shop).
  const Decision plain = my("DELETE FROM orders", {});
  EXPECT_FALSE(plain.allow);
  EXPECT_EQ(plain.rule_id, "no-delete-shop") << "refused by the explicit deny, not by the default deny";
  const Decision d = my("DELETE FROM orders", g);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.grant_id, "g2m");
  EXPECT_FALSE(my("DELETE FROM order_items", g).allow) << "the explicit deny stands where no grant covers";
  EXPECT_FALSE(my("DELETE FROM orders WHERE id = 1", g).allow) << "the WHERE reads orders: select is not granted";
}

// Deliberate: a grant never opens a closed access window (a window is a schedule, not a
// rule), on either protocol, at the decision point and through both gates with the
// session's grants; nor does it pass the window-close grace of a PostgreSQL session.
TEST_F(GrantDecision, GrantNeverOpensAClosedAccessWindowOnEitherProtocol) {
  const std::vector<Grant> g = {grant("g10", GrantKind::Segment, "night", "*.*", "all", "ddl,admin")};
  for (const Decision& d : {pg("SELECT * FROM orders", g, "night"), my("SELECT * FROM orders", g, "night")}) {
    EXPECT_FALSE(d.allow);
    EXPECT_EQ(d.rule_id, "night.windows") << d.reason;
    EXPECT_EQ(d.grant_id, "");
  }
  GrantList list("");
  ASSERT_TRUE(list.add(grant("g11", GrantKind::Segment, "night", "*.*", "all")).ok);
  proxy::PgGate pg_gate(engine_, "night", "shop");
  pg_gate.set_grants(SessionGrants(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a"))));
  const auto pv = pg_gate.check("SELECT * FROM orders", kNow);
  EXPECT_FALSE(pv.decision.allow);
  EXPECT_EQ(pv.decision.rule_id, "night.windows");
  const std::vector<std::string> dbs = {"shop"};
  sql::MysqlClassifierOptions o;
  o.current_database = "shop";
  proxy::MysqlGate my_gate(engine_, "night", dbs, o);
  my_gate.set_grants(SessionGrants(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a"))));
  const auto mv = my_gate.check("SELECT * FROM orders", false, "shop", kNow);
  EXPECT_FALSE(mv.allow);
  EXPECT_EQ(mv.rule_id, "night.windows");
  // The same grant works in its window: the refusal above is the window's.
  ASSERT_TRUE(list.add(grant("g12", GrantKind::Segment, "billing", "orders", "update")).ok);
  proxy::PgGate open_gate(engine_, "billing", "shop");
  open_gate.set_grants(SessionGrants(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a"))));
  ASSERT_TRUE(open_gate.check("UPDATE orders SET total = 1", kNow).decision.allow);
  open_gate.set_window_grace(true);  // finish_transaction after the close: COMMIT / ROLLBACK only
  EXPECT_FALSE(open_gate.check("UPDATE orders SET total = 1", kNow).decision.allow) << "a grant outlived the window";
  EXPECT_TRUE(open_gate.check("COMMIT", kNow).decision.allow);
}

TEST_F(GrantDecision, GrantNeverAllowsWhatIsNeverAllowed) {
  const std::vector<Grant> g = {grant("g3", GrantKind::Segment, "billing", "*.*", "all",
                                      "transaction,session_safe,ddl,admin,procedural,notify,prepare,cursor,explain,"
                                      "large_objects,anonymous_code")};
  EXPECT_FALSE(pg("SET ROLE postgres", g).allow);
  EXPECT_FALSE(pg("COPY orders TO PROGRAM 'id'", g).allow);
  EXPECT_FALSE(pg("SELECT * FROM pg_catalog.pg_authid", g).allow) << "credential catalogs are never granted";
  EXPECT_FALSE(pg("SELECT * FROM pg_catalog.pg_class", g).allow) << "a glob never reaches a system relation";
  EXPECT_FALSE(pg("SELECT pg_read_file('/etc/passwd')", g).allow) << "functions are not granted";
  EXPECT_FALSE(pg("SELEC 1", g).allow);
}

TEST_F(GrantDecision, MysqlGrantNeverAllowsWhatIsNeverAllowed) {
  const std::vector<Grant> g = {grant("g3m", GrantKind::Segment, "billing", "*.*", "all",
                                      "transaction,session_safe,ddl,admin,procedural,notify,prepare,cursor,explain,"
                                      "large_objects,anonymous_code")};
  for (const char* sql : {"SHUTDOWN", "GRANT ALL ON *.* TO u", "CREATE USER u", "INSTALL PLUGIN p SONAME 'x.so'",
                          "LOAD DATA INFILE '/etc/passwd' INTO TABLE orders", "SELECT * FROM orders INTO OUTFILE '/tmp/x'",
                          "SELECT * FROM mysql.user", "SELECT load_file('/etc/passwd')", "SET GLOBAL general_log = 1",
                          "DROP DATABASE shop", "xyzzy", "SELECT 'unterminated"}) {
    const Decision d = my(sql, g);
    EXPECT_FALSE(d.allow) << sql;
    EXPECT_EQ(d.grant_id, "") << sql;
  }
  EXPECT_TRUE(my("SELECT * FROM products", g).allow) << "the grant itself is in force";
}

TEST_F(GrantDecision, GrantAddsStatementClasses) {
  const std::vector<Grant> g = {grant("g4", GrantKind::Segment, "billing", "orders", "alter", "ddl")};
  EXPECT_FALSE(pg("ALTER TABLE orders ADD COLUMN note text", {}).allow);
  const Decision d = pg("ALTER TABLE orders ADD COLUMN note text", g);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.grant_id, "g4");
}

TEST_F(GrantDecision, MysqlStatementsAreGrantedTheSameWay) {
  const std::vector<Grant> g = {grant("g5", GrantKind::Segment, "billing", "shop.orders", "update")};
  sql::MysqlClassifierOptions o;
  o.current_database = "shop";
  const auto info = sql::classify_mysql("UPDATE orders SET total = 1", o);
  EXPECT_FALSE(engine_.evaluate("billing", info, kNow).allow);
  const Decision d = engine_.evaluate_granted("billing", info, kNow, g);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.grant_id, "g5");
}

TEST_F(GrantDecision, SessionGrantsStopApplyingAtTheGrantsExpiry) {
  GrantList list("");
  ASSERT_TRUE(list.add(grant("g6", GrantKind::Identity, "spiffe://td/a", "orders", "update")).ok);
  SessionGrants mine(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a")));
  SessionGrants other(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/b")));
  sql::ClassifierOptions o;
  const auto info = sql::classify_pg("UPDATE orders SET total = 1", o);
  const auto w = PolicyEngine::Windows::Check;
  EXPECT_TRUE(mine.decide(engine_, "billing", info, kNow, "", w).allow);
  EXPECT_FALSE(other.decide(engine_, "billing", info, kNow, "", w).allow) << "a grant adds to matching identities only";
  EXPECT_FALSE(mine.decide(engine_, "billing", info, kNow + 30min, "", w).allow) << "expired at expires_at";
}

TEST_F(GrantDecision, SessionGrantsReportAChangedListOnce) {
  GrantList list("");
  SessionGrants s(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a")));
  EXPECT_FALSE(s.changed());
  ASSERT_TRUE(list.add(grant("g7", GrantKind::Segment, "billing", "orders", "update")).ok);
  EXPECT_TRUE(s.changed());
  EXPECT_FALSE(s.changed());
  ASSERT_TRUE(list.remove("g7").ok);
  EXPECT_TRUE(s.changed());
}

// The decision caches (both gates): a grant's allowance is never kept past the grant,
// and a refusal cached before a grant is voided when the grant arrives.
TEST_F(GrantDecision, PgGateCacheNeitherOutlivesAGrantNorHidesANewOne) {
  GrantList list("");
  proxy::PgGate gate(engine_, "billing", "shop");
  gate.set_grants(SessionGrants(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a"))));
  const std::string sql = "UPDATE orders SET total = 1";
  EXPECT_FALSE(gate.check(sql, kNow).decision.allow);
  EXPECT_FALSE(gate.check(sql, kNow).decision.allow);  // now cached
  ASSERT_TRUE(list.add(grant("g8", GrantKind::Identity, "spiffe://td/a", "orders", "update")).ok);
  const auto v = gate.check(sql, kNow);
  EXPECT_TRUE(v.decision.allow) << v.decision.reason;
  EXPECT_EQ(v.decision.grant_id, "g8");
  EXPECT_TRUE(gate.check(sql, kNow + 29min).decision.allow);
  ASSERT_TRUE(list.remove("g8").ok);
  EXPECT_FALSE(gate.check(sql, kNow + 29min).decision.allow) << "ungranted: refused at the next statement";
  ASSERT_TRUE(list.add(grant("g8b", GrantKind::Identity, "spiffe://td/a", "orders", "update")).ok);
  EXPECT_TRUE(gate.check(sql, kNow + 29min).decision.allow) << "a cached refusal hid a new grant";
  EXPECT_FALSE(gate.check(sql, kNow + 30min).decision.allow) << "the grant expired: no cached allowance";
}

TEST_F(GrantDecision, MysqlGateCacheNeitherOutlivesAGrantNorHidesANewOne) {
  GrantList list("");
  const std::vector<std::string> dbs = {"shop"};
  sql::MysqlClassifierOptions o;
  o.current_database = "shop";
  proxy::MysqlGate gate(engine_, "billing", dbs, o);
  gate.set_grants(SessionGrants(&list, std::make_shared<const ClientIdentity>(spiffe("spiffe://td/a"))));
  const std::string sql = "UPDATE orders SET total = 1";
  EXPECT_FALSE(gate.check(sql, false, "shop", kNow).allow);
  EXPECT_FALSE(gate.check(sql, false, "shop", kNow).allow);
  ASSERT_TRUE(list.add(grant("g9", GrantKind::Identity, "spiffe://td/a", "shop.orders", "update")).ok);
  const auto v = gate.check(sql, false, "shop", kNow);
  EXPECT_TRUE(v.allow) << v.message;
  EXPECT_EQ(v.grant_id, "g9");
  EXPECT_FALSE(gate.check(sql, false, "shop", kNow + 30min).allow) << "the grant expired: no cached allowance";
}

}  // namespace
}  // namespace segproxy::authz
