// `segproxy --check-config`: a valid file passes, a broken one is reported as
// file:line and exits 2.
#include <gtest/gtest.h>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

class ConfigCheck : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }
};

TEST_F(ConfigCheck, ValidConfigPasses) {
  const std::string path = dir_ + "/good.yaml";
  write_file(path, render_config(free_port(), {}));
  const ProcResult r =
      run_process({env().segproxy_bin, "--check-config", path}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
}

TEST_F(ConfigCheck, UnknownKeyIsReportedWithFileAndLine) {
  std::string yaml = render_config(free_port(), {});
  // Insert an unknown key as a new line right after the listener's `protocol:` line.
  const std::string anchor = "    protocol: postgres\n";
  const std::size_t at = yaml.find(anchor);
  ASSERT_NE(at, std::string::npos);
  yaml.insert(at + anchor.size(), "    frobnicate: yes\n");
  int line = 1;
  for (std::size_t i = 0; i < at + anchor.size(); ++i) line += yaml[i] == '\n' ? 1 : 0;

  const std::string path = dir_ + "/broken.yaml";
  write_file(path, yaml);
  const ProcResult r =
      run_process({env().segproxy_bin, "--check-config", path}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find(path + ":" + std::to_string(line)), std::string::npos)
      << "expected " << path << ":" << line << " in\n" << r.describe();
  EXPECT_NE(all.find("frobnicate"), std::string::npos) << r.describe();
}

// Issue 12 leftovers, item 6: a rule naming a system schema by wildcard (or a relation
// that is never granted) grants nothing; the check says so with file:line and the
// configuration stays valid.
TEST_F(ConfigCheck, RulesThatGrantNothingAreWarnedWithFileAndLine) {
  ProxyConfigOptions opts;
  opts.billing_policy =
      "    rules:\n"
      "      - {id: ok, tables: [\"*.*\", pg_catalog.pg_class], allow: [select]}\n"
      "      - {id: pgcat, tables: [\"pg_catalog.*\"], allow: [select]}\n"
      "      - {id: mysys, tables: [\"performance_schema.*\", \"sys.*\"], allow: [select]}\n"
      "      - {id: secrets, tables: [pg_catalog.pg_authid], allow: [select]}\n"
      "      - {id: denyonly, tables: [\"information_schema.*\"], deny: [select]}\n";
  const std::string yaml = render_config(free_port(), opts);
  const auto line_of = [&](const std::string& needle) {
    const std::size_t at = yaml.find(needle);
    int line = 1;
    for (std::size_t i = 0; i < at; ++i) line += yaml[i] == '\n' ? 1 : 0;
    return at == std::string::npos ? -1 : line;
  };
  const std::string path = dir_ + "/dead_rules.yaml";
  write_file(path, yaml);
  const ProcResult r = run_process({env().segproxy_bin, "--check-config", path}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  const std::string all = r.out + r.err;
  for (const char* id : {"id: pgcat", "id: mysys", "id: secrets"}) {
    const std::string where = path + ":" + std::to_string(line_of(id)) + ": config.rule_grants_nothing";
    EXPECT_NE(all.find(where), std::string::npos) << "expected " << where << " in\n" << r.describe();
  }
  EXPECT_NE(all.find("\"pg_catalog.*\""), std::string::npos) << r.describe();
  EXPECT_NE(all.find("\"sys.*\""), std::string::npos) << r.describe();
  EXPECT_NE(all.find("pg_catalog.pg_authid"), std::string::npos) << r.describe();
  EXPECT_EQ(all.find("rule ok,"), std::string::npos) << r.describe();
  EXPECT_EQ(all.find("denyonly"), std::string::npos) << r.describe();
}

TEST_F(ConfigCheck, ProxyRefusesToStartWithBrokenConfig) {
  const std::string path = dir_ + "/broken.yaml";
  write_file(path, "listeners: [\n");
  const ProcResult r = run_process({env().segproxy_bin, "--config", path}, std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(r.timed_out) << "segproxy kept running with an unparsable config";
}

}  // namespace
}  // namespace segproxy::it
