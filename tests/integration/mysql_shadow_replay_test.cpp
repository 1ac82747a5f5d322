// Shadow mode, replay and suggestions on the MySQL path (docs/policy.md "Shadow mode",
// "Replay", "Suggestions"), on a log recorded from sysbench (oltp_read_write over the text
// protocol, oltp_point_select with server-side prepared statements) through the proxy with
// audit.statement_text: normalized, and a mariadb CLI session (a read, a refused SELECT).
// A shadow rule that would deny sysbench's DELETEs forwards them (sysbench runs without
// errors) and records shadow_decision: deny; replaying the recording policy judges every
// record and changes nothing; with the rule enforced the gate fails naming it; a
// candidate grant shows as deny -> allow; the suggestion (which includes the shadow
// denials, not the refused SELECT) replays with no allow -> deny.
#include <gtest/gtest.h>

#include <regex>

#include "support/audit_support.hpp"
#include "support/mysql_fixture.hpp"
#include "support/policy_lifecycle.hpp"

namespace segproxy::it {
namespace {

// The recording policy: sysbench's grants and a shadow rule; candidates swap the rule.
const std::string kSysbenchRules =
    "    rules:\n"
    "      - {id: sysbench, tables: [\"shop.sbtest*\"], allow: [all]}\n";
const std::string kShadowRule = "      - {id: no-deletes, tables: [\"shop.sbtest*\"], deny: [delete], shadow: true}\n";
const std::string kSysbenchStatements = "    statements: [transaction, session_safe, prepare, ddl]\n";
const std::string kRecordingPolicy = kSysbenchRules + kShadowRule + kSysbenchStatements;

long json_count(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\":(\\d+)");
  std::smatch m;
  return std::regex_search(json, m, re) ? std::stol(m[1].str()) : -1;
}

class MysqlShadowReplay : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    audit_dir_ = dir_ + "/audit";
    MysqlProxyOptions opts;
    opts.billing_policy = kRecordingPolicy;
    opts.log_level = "info";
    opts.extra_yaml = audit_yaml(audit_dir_);
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
    ASSERT_NO_FATAL_FAILURE(Record());
    proxy_.stop();
    base_config_ = read_text(config_path_);
  }

  void Run(const std::string& test, const std::string& ps_mode, const std::string& command) {
    SysbenchOptions o;
    o.test = test;
    o.table_size = 100;
    o.threads = 2;
    o.time_s = 2;
    o.ps_mode = ps_mode;
    o.command = command;
    const ProcResult r = run_sysbench(Target(ClientCert::Spiffe), o);
    ASSERT_EQ(r.exit_code, 0) << test << " " << command << "\n" << r.describe();
    if (command == "run") {
      EXPECT_GT(parse_sysbench(r.out).transactions, 0) << r.out;
    }
  }
  void Record() {
    SysbenchOptions o;
    o.command = "cleanup";
    run_sysbench(Target(ClientCert::Spiffe), o);
    ASSERT_NO_FATAL_FAILURE(Run("oltp_read_write", "disable", "prepare"));
    ASSERT_NO_FATAL_FAILURE(Run("oltp_read_write", "disable", "run"));
    ASSERT_NO_FATAL_FAILURE(Run("oltp_point_select", "auto", "run"));
    // An interactive session (the twin of the PostgreSQL test's psql): a read with
    // literals and a refused statement (--force: the CLI goes on after the error).
    const ProcResult cli = run_mariadb_cli(Target(ClientCert::Spiffe), {"--batch", "--force"},
                                           "SELECT count(*) FROM sbtest1 WHERE id > 3 AND id <> 42;\n"
                                           "SELECT count(*) FROM customers_pii WHERE id > 0;\n");
    ASSERT_FALSE(cli.timed_out) << cli.describe();
    ASSERT_NE(cli.err.find("ERROR 1142 (42000)"), std::string::npos) << cli.describe();
    ASSERT_FALSE(cli.out.empty()) << "the read ran:\n" << cli.describe();
    ASSERT_NO_FATAL_FAILURE(Run("oltp_read_write", "disable", "cleanup"));
  }
  ProcResult Replay(const std::string& policy) {
    const std::string path = dir_ + "/candidate.yaml";
    write_text(path, swap_policy(base_config_, kRecordingPolicy, policy));
    return run_policy_tool({"replay", "--config", path, "--json", audit_dir_});
  }

  std::string audit_dir_;
  std::string base_config_;
};

TEST_F(MysqlShadowReplay, ShadowRuleForwardsSysbenchDeletesAndRecordsShadowDecision) {
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.intact()) << log.result.summary();
  const auto deletes = records_where(log, [](const audit::AuditRecord& r) {
    return r.event == "statement.decision" && r.statement.rfind("DELETE FROM sbtest1", 0) == 0;
  });
  ASSERT_FALSE(deletes.empty());
  for (const auto& r : deletes) {
    EXPECT_EQ(r.decision, "allow") << r.statement;
    EXPECT_EQ(r.shadow_decision, "deny") << r.statement;
    EXPECT_EQ(r.shadow_rule, "no-deletes") << r.statement;
  }
}

TEST_F(MysqlShadowReplay, ReplayWithTheRecordingPolicyChangesNothing) {
  const ProcResult r = Replay(kRecordingPolicy);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("\"allow_to_deny\":[]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"deny_to_allow\":[]"), std::string::npos) << r.out;
  EXPECT_GT(json_count(r.out, "records"), 50) << r.out;
  EXPECT_EQ(json_count(r.out, "judged"), json_count(r.out, "records")) << "every record judged:\n" << r.out;
  EXPECT_NE(r.out.find("\"shadow_denials\":[{\"segment\":\"billing\",\"rule\":\"no-deletes\""), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("unparseable"), std::string::npos) << r.out;
}

TEST_F(MysqlShadowReplay, EnforcingTheShadowRuleFailsTheGateNamingIt) {
  const ProcResult r = Replay(kSysbenchRules + "      - {id: no-deletes, tables: [\"shop.sbtest*\"], deny: [delete]}\n" +
                              kSysbenchStatements);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.out.find("\"allow_to_deny\":[{\"segment\":\"billing\",\"rule\":\"no-deletes\""), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("DELETE FROM sbtest1 WHERE id=?"), std::string::npos) << r.out;
}

TEST_F(MysqlShadowReplay, CandidateGrantShowsAsDenyToAllowAndPassesTheGate) {
  const ProcResult r = Replay(kSysbenchRules + "      - {id: pii-read, tables: [shop.customers_pii], allow: [select]}\n" +
                              kShadowRule + kSysbenchStatements);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("\"deny_to_allow\":[{\"segment\":\"billing\",\"rule\":\"pii-read\",\"count\":1,"),
            std::string::npos)
      << r.out;
}

TEST_F(MysqlShadowReplay, SuggestionIncludesShadowDenialsAndReplaysWithoutAllowToDeny) {
  const ProcResult s = run_policy_tool({"suggest", "--segment", "billing", audit_dir_});
  ASSERT_EQ(s.exit_code, 0) << s.describe();
  const std::string& yaml = s.out;
  EXPECT_NE(yaml.find("tables: [\"shop.sbtest1\"]"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("delete"), std::string::npos) << "shadow-denied deletes ran:\n" << yaml;
  EXPECT_NE(yaml.find("transaction"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("customers_pii"), std::string::npos) << "the refused SELECT did not run:\n" << yaml;
  const ProcResult r = Replay(indent(yaml, 4));
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nsuggestion:\n" << yaml;
  EXPECT_NE(r.out.find("\"allow_to_deny\":[]"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace segproxy::it
