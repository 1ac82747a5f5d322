// PgGate follows the session's lexing settings (issue 12 item 2.2): the same bytes
// are judged under the client_encoding / standard_conforming_strings the backend
// reported, and a decision made under one setting never answers under another.
#include <gtest/gtest.h>

#include <chrono>

#include "authz/gate/pg_gate.hpp"

namespace segproxy::proxy {
namespace {

config::Config make_config() {
  config::Config cfg;
  config::Segment billing;
  billing.name = "billing";
  billing.databases = {"shop"};
  config::PolicyRule read;
  read.id = "public-read";
  read.tables = {"public.*"};
  read.allow = config::op_bit(config::TableOperation::Select);
  billing.policy.rules = {read};
  cfg.segments.emplace("billing", billing);
  return cfg;
}

const auto kNow = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56);

// 表 is 0x95 0x5C in SJIS; as raw bytes the 0x5C escapes the quote.
const std::string kTrail = "SELECT E'\x95\x5c'; DELETE FROM orders; --'";

TEST(StatementGateLexing, ADecisionMadeUnderOneClientEncodingNeverAnswersUnderAnother) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  gate.on_parameter_status("client_encoding", "SJIS");
  EXPECT_FALSE(gate.check(kTrail, kNow).decision.allow);  // SJIS: the DELETE is code
  const auto kanji = gate.check("SELECT E'\x95\x5c' AS k", kNow);
  EXPECT_TRUE(kanji.decision.allow) << kanji.decision.reason;
  EXPECT_EQ(kanji.audit_text, "SELECT E'\xe8\xa1\xa8' AS k");  // audited as UTF-8
  gate.on_parameter_status("client_encoding", "UTF8");
  const auto utf8 = gate.check("SELECT E'\x95\x5c' AS k", kNow);  // not UTF-8: never the SJIS answer
  EXPECT_FALSE(utf8.decision.allow);
  EXPECT_EQ(utf8.decision.sqlstate, "22021");
  // LATIN1: 0x95 is a character of its own and 0x5C a backslash escaping the quote: one
  // string, allowed, where the SJIS decision on the same bytes was a deny.
  gate.on_parameter_status("client_encoding", "LATIN1");
  EXPECT_TRUE(gate.check(kTrail, kNow).decision.allow);
  gate.on_parameter_status("client_encoding", "SJIS");
  EXPECT_FALSE(gate.check(kTrail, kNow).decision.allow);
}

TEST(StatementGateLexing, StandardConformingStringsOffDecidesWhereAStringEnds) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  const std::string text = "SELECT 'a\\'; DELETE FROM orders; --'";
  EXPECT_FALSE(gate.check(text, kNow).decision.allow);  // on: 'a\' then a DELETE
  gate.on_parameter_status("standard_conforming_strings", "off");
  EXPECT_TRUE(gate.check(text, kNow).decision.allow);  // off: one string
  // Audited as the server reads it, so the audit normaliser hides the whole literal.
  EXPECT_EQ(gate.check(text, kNow).audit_text, "SELECT  E'a\\'; DELETE FROM orders; --'");
  gate.on_parameter_status("standard_conforming_strings", "on");
  EXPECT_FALSE(gate.check(text, kNow).decision.allow);
}

TEST(StatementGateLexing, LexingChangesAndTransactionControlAreFlaggedForTheRelay) {
  const authz::PolicyEngine engine(make_config());
  PgGate gate(engine, "billing", "shop");
  EXPECT_TRUE(gate.check("SET client_encoding = 'LATIN1'", kNow).changes_lexing);
  EXPECT_TRUE(gate.check("RESET standard_conforming_strings", kNow).changes_lexing);
  EXPECT_FALSE(gate.check("SELECT 1", kNow).changes_lexing);
  EXPECT_TRUE(gate.check("ROLLBACK", kNow).transaction_control);
}

}  // namespace
}  // namespace segproxy::proxy
