// CachedPgVerdict (authz/gate/pg_cached_verdict.hpp): the compact form PgGate's decision
// cache keeps. A cache hit must give the session exactly the verdict that was judged.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "authz/gate/pg_cached_verdict.hpp"

namespace segproxy::proxy {
namespace {

void expect_same(const GateVerdict& a, const GateVerdict& b) {
  EXPECT_EQ(a.decision.allow, b.decision.allow);
  EXPECT_EQ(a.decision.rule_id, b.decision.rule_id);
  EXPECT_EQ(a.decision.reason, b.decision.reason);
  EXPECT_EQ(a.decision.sqlstate, b.decision.sqlstate);
  EXPECT_EQ(a.decision.shadow_deny, b.decision.shadow_deny);
  EXPECT_EQ(a.decision.shadow_rule, b.decision.shadow_rule);
  EXPECT_EQ(a.decision.shadow_reason, b.decision.shadow_reason);
  EXPECT_EQ(a.decision.absolute, b.decision.absolute);
  EXPECT_EQ(a.decision.grant_id, b.decision.grant_id);
  EXPECT_EQ(a.command, b.command);
  EXPECT_EQ(a.ddl, b.ddl);
  EXPECT_EQ(a.ends_transaction, b.ends_transaction);
  EXPECT_EQ(a.tables, b.tables);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.changes_lexing, b.changes_lexing);
  EXPECT_EQ(a.transaction_control, b.transaction_control);
  EXPECT_EQ(a.audit_text, b.audit_text);
  EXPECT_EQ(a.write_class.klass, b.write_class.klass);
  EXPECT_EQ(a.write_class.ends_transaction_only, b.write_class.ends_transaction_only);
  EXPECT_EQ(a.write_class.transaction_control, b.write_class.transaction_control);
  EXPECT_EQ(a.write_class.reason, b.write_class.reason);
  EXPECT_EQ(a.wal_prepares.size(), b.wal_prepares.size());
  EXPECT_EQ(a.wal_cursors.size(), b.wal_cursors.size());
  EXPECT_EQ(a.wal_deallocates, b.wal_deallocates);
  EXPECT_EQ(a.wal_deallocates_all, b.wal_deallocates_all);
}

// Every string distinct (an order mix-up shows), some longer than the short-string
// buffer, one with an embedded NUL, every flag set.
GateVerdict everything_set() {
  GateVerdict v;
  v.decision = authz::Decision{true, "rule-a,rule-b", "segproxy: a reason longer than sixteen bytes", "42501"};
  v.decision.shadow_deny = true;
  v.decision.shadow_rule = "shadow-rule";
  v.decision.shadow_reason = std::string("shadow\0reason", 13);
  v.decision.absolute = true;
  v.decision.grant_id = "grant-7";
  v.command = "SELECT";
  v.ddl = true;
  v.ends_transaction = true;
  v.tables = {{"public.pgbench_accounts", "select"}, {"s.t", "update"}, {"", ""}};
  v.fingerprint = 0xfedcba9876543210u;
  v.changes_lexing = true;
  v.transaction_control = true;
  v.audit_text = "select E'\\x01' from t";
  v.write_class.klass = authz::wal::WriteClass::CommitPoint;
  v.write_class.ends_transaction_only = true;
  v.write_class.transaction_control = true;
  v.write_class.reason = "COMMIT";
  return v;
}

TEST(PgCachedVerdict, UnpackGivesBackEveryFieldOfTheVerdictPacked) {
  const GateVerdict v = everything_set();
  expect_same(CachedPgVerdict(v).unpack(), v);
}

TEST(PgCachedVerdict, UnpackGivesBackADefaultVerdictUnchanged) {
  const GateVerdict v;
  expect_same(CachedPgVerdict(v).unpack(), v);
}

// One flag at a time: each is packed into its own bit (a shared or lost bit shows).
TEST(PgCachedVerdict, EachFlagSurvivesAloneWithTheOthersClear) {
  using Set = void (*)(GateVerdict&);
  const Set setters[] = {
      [](GateVerdict& v) { v.decision.allow = true; },
      [](GateVerdict& v) { v.decision.shadow_deny = true; },
      [](GateVerdict& v) { v.decision.absolute = true; },
      [](GateVerdict& v) { v.ddl = true; },
      [](GateVerdict& v) { v.ends_transaction = true; },
      [](GateVerdict& v) { v.changes_lexing = true; },
      [](GateVerdict& v) { v.transaction_control = true; },
      [](GateVerdict& v) { v.write_class.ends_transaction_only = true; },
      [](GateVerdict& v) { v.write_class.transaction_control = true; },
      [](GateVerdict& v) { v.write_class.klass = authz::wal::WriteClass::ReadOnly; },
  };
  for (std::size_t i = 0; i < std::size(setters); ++i) {
    SCOPED_TRACE(i);
    GateVerdict v;
    setters[i](v);
    expect_same(CachedPgVerdict(v).unpack(), v);
  }
}

// unpack_into writes every field, whatever the verdict held before (issue 15: PgGate
// judges a thread's statements into one reused verdict): a verdict with every field set
// and with PREPARE bookkeeping (a miss leaves that) becomes the packed one exactly, and
// the other way round.
TEST(PgCachedVerdict, UnpackIntoAReusedVerdictLeavesNothingOfWhatItHeld) {
  GateVerdict used = everything_set();
  used.wal_prepares.emplace_back("p1", authz::wal::MessageClass::empty());
  used.wal_cursors.emplace_back("c1", authz::wal::MessageClass::empty());
  used.wal_deallocates.push_back("p2");
  used.wal_deallocates_all = true;
  used.tables.push_back({"public.more_tables_than_the_packed_one", "delete"});
  const GateVerdict plain;
  CachedPgVerdict(plain).unpack_into(used);
  expect_same(used, plain);

  const GateVerdict full = everything_set();
  CachedPgVerdict(full).unpack_into(used);
  expect_same(used, full);
  CachedPgVerdict(full).unpack_into(used);  // again, into itself as it now is
  expect_same(used, full);
}

TEST(PgCachedVerdict, AVerdictWithPrepareBookkeepingIsNotPackable) {
  GateVerdict prepares;
  prepares.wal_prepares.emplace_back("p1", authz::wal::MessageClass::empty());
  GateVerdict cursors;
  cursors.wal_cursors.emplace_back("c1", authz::wal::MessageClass::empty());
  GateVerdict deallocates;
  deallocates.wal_deallocates.push_back("p1");
  GateVerdict deallocates_all;
  deallocates_all.wal_deallocates_all = true;
  for (const GateVerdict* v : {&prepares, &cursors, &deallocates, &deallocates_all}) {
    EXPECT_FALSE(CachedPgVerdict::packable(*v));
    EXPECT_THROW(CachedPgVerdict{*v}, std::logic_error);
  }
  EXPECT_TRUE(CachedPgVerdict::packable(everything_set()));
}

}  // namespace
}  // namespace segproxy::proxy
