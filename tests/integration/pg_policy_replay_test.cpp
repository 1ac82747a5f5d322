// `segproxyctl policy replay` and `policy suggest` (docs/policy.md "Replay",
// "Suggestions") on an audit log recorded through the proxy from pgbench (TPC-B-like,
// simple protocol; select-only, extended protocol) and a psql session (\dt, a read, a
// refused DELETE), with the default audit.statement_text: normalized. Replaying the
// recording configuration changes nothing and judges every record (the normalized text
// classifies again); a candidate deny rule fails the CI gate (exit 1) naming the rule
// with examples; a candidate grant shows as deny -> allow; the suggested policy, pasted
// in, replays with no allow -> deny and grants nothing the segment did not run.
#include <gtest/gtest.h>

#include <regex>

#include "support/audit_support.hpp"
#include "support/policy_lifecycle.hpp"

namespace segproxy::it {
namespace {

// The recording policy; candidates add a rule between its rules and its statements.
const std::string kBenchRules =
    "    catalog: metadata\n"
    "    rules:\n"
    "      - {id: bench, tables: [\"public.pgbench_*\"], allow: [select, insert, update]}\n";
const std::string kBenchStatements = "    statements: [transaction, session_safe]\n";
const std::string kBenchPolicy = kBenchRules + kBenchStatements;

ProcResult pgbench(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"pgbench"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(120));
}

class PgReplay : public PolicyTest {
 protected:
  void SetUp() override {
    PolicyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const ProcResult init = pgbench({"-i", "-s", "1", "-q", env().superuser_conninfo()});
    ASSERT_EQ(init.exit_code, 0) << init.describe();
    initialised_ = true;
    for (const char* t : {"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"}) {
      ASSERT_NO_FATAL_FAILURE(Su(std::string("GRANT ALL ON public.") + t + " TO billing_rw"));
    }
    audit_dir_ = dir_ + "/audit";
    ProxyConfigOptions opts;
    opts.billing_policy = kBenchPolicy;
    opts.extra_yaml = audit_yaml(audit_dir_);
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
    ASSERT_NO_FATAL_FAILURE(Record());
    proxy_.stop();
    base_config_ = read_text(config_path_);
  }
  void TearDown() override {
    proxy_.stop();
    if (initialised_) pgbench({"-i", "-I", "d", env().superuser_conninfo()});
    PolicyTest::TearDown();
  }

  void Record() {
    const ProcResult tpcb = pgbench({"-M", "simple", "-n", "-c", "2", "-j", "1", "-T", "2", Conninfo()});
    ASSERT_EQ(tpcb.exit_code, 0) << tpcb.describe();
    const ProcResult sel = pgbench({"-M", "extended", "-S", "-n", "-c", "1", "-t", "20", Conninfo()});
    ASSERT_EQ(sel.exit_code, 0) << sel.describe();
    const std::string script = dir_ + "/session.sql";
    write_text(script,
               "\\dt pgbench_*\n"
               "SELECT count(*) FROM pgbench_tellers WHERE tid > 3 AND tid <> 42;\n"
               "DELETE FROM pgbench_history WHERE mtime < now() - interval '1 day';\n");
    const ProcResult psql =
        run_process({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=0", "-f", script, Conninfo()}, std::chrono::seconds(60));
    ASSERT_EQ(psql.exit_code, 0) << psql.describe();
    ASSERT_NE(psql.err.find("may not delete from public.pgbench_history"), std::string::npos) << psql.describe();
  }

  // `replay --json` of the log under `policy` (billing's policy lines).
  ProcResult Replay(const std::string& policy) {
    const std::string path = dir_ + "/candidate.yaml";
    write_text(path, swap_policy(base_config_, kBenchPolicy, policy));
    return run_policy_tool({"replay", "--config", path, "--json", audit_dir_});
  }

  bool initialised_ = false;
  std::string audit_dir_;
  std::string base_config_;
};

long json_count(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\":(\\d+)");
  std::smatch m;
  return std::regex_search(json, m, re) ? std::stol(m[1].str()) : -1;
}

TEST_F(PgReplay, ReplayingTheRecordingPolicyChangesNothingAndJudgesEveryNormalizedStatement) {
  const ProcResult r = Replay(kBenchPolicy);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("\"allow_to_deny\":[]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"deny_to_allow\":[]"), std::string::npos) << r.out;
  EXPECT_GT(json_count(r.out, "records"), 50) << r.out;
  EXPECT_EQ(json_count(r.out, "judged"), json_count(r.out, "records")) << "every record judged:\n" << r.out;
  EXPECT_EQ(r.out.find("unparseable"), std::string::npos) << r.out;
}

TEST_F(PgReplay, CandidateDenyRuleFailsTheGateGroupedByRuleWithExamples) {
  const ProcResult r =
      Replay(kBenchRules + "      - {id: no-teller-updates, tables: [public.pgbench_tellers], deny: [update]}\n" +
             kBenchStatements);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.out.find("{\"segment\":\"billing\",\"rule\":\"no-teller-updates\",\"count\":"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"examples\":[\"UPDATE pgbench_tellers SET tbalance = tbalance + "), std::string::npos)
      << r.out;
  // Text output: the same change, for a person.
  const std::string path = dir_ + "/candidate.yaml";
  const ProcResult text = run_policy_tool({"replay", "--config", path, audit_dir_});
  EXPECT_EQ(text.exit_code, 1) << text.describe();
  EXPECT_NE(text.out.find("segment billing, rule no-teller-updates:"), std::string::npos) << text.out;
}

TEST_F(PgReplay, CandidateGrantShowsAsDenyToAllowAndPassesTheGate) {
  const ProcResult r = Replay(
      kBenchRules + "      - {id: history-delete, tables: [public.pgbench_history], allow: [select, insert, delete]}\n" +
      kBenchStatements);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("\"deny_to_allow\":[{\"segment\":\"billing\",\"rule\":\"history-delete\",\"count\":1,"),
            std::string::npos)
      << r.out;
}

TEST_F(PgReplay, SuggestedPolicyReplaysWithoutAllowToDenyAndGrantsOnlyWhatRan) {
  const ProcResult s = run_policy_tool({"suggest", "--segment", "billing", "--config", config_path_, audit_dir_});
  ASSERT_EQ(s.exit_code, 0) << s.describe();
  const std::string& yaml = s.out;
  EXPECT_NE(yaml.find("tables: [\"public.pgbench_tellers\"]"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("allow: [select, update]"), std::string::npos) << yaml;  // tellers (and branches)
  EXPECT_NE(yaml.find("tables: [\"public.pgbench_history\"]\n    allow: [insert]"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("statements: [transaction"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("delete"), std::string::npos) << "the refused DELETE did not run:\n" << yaml;
  const ProcResult r = Replay(indent(yaml, 4));
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nsuggestion:\n" << yaml;
  EXPECT_NE(r.out.find("\"allow_to_deny\":[]"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace segproxy::it
