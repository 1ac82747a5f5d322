// segproxyctl policy explain/test: the pure helpers and the exit codes.
#include "ctl/policy.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace segproxy::proxy::ctl {
namespace {

const std::string kData = SEGPROXY_POLICY_TESTDATA;
const std::string kConfig = kData + "/pg_policy.yaml";
const std::string kBilling = "spiffe://example.org/ns/billing/api";

int run(std::vector<std::string> args, std::string* out_text = nullptr) {
  std::ostringstream out, err;
  const int rc = run_policy(args, out, err);
  if (out_text) *out_text = out.str() + err.str();
  return rc;
}

TEST(CtlPolicyIdentity, SpiffeCnAndAttributes) {
  std::string why;
  auto a = parse_identity_spec("spiffe://example.org/ns/billing/api", why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->spiffe_id, "spiffe://example.org/ns/billing/api");
  EXPECT_TRUE(a->cn.empty());
  auto b = parse_identity_spec("reporting-job", why);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->cn, "reporting-job");
  auto c = parse_identity_spec("CN=reporting-job;ou=Analytics;dns=a.example;dns=b.example;sha256=AB", why);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cn, "reporting-job");
  EXPECT_EQ(c->ou, std::vector<std::string>{"Analytics"});
  EXPECT_EQ(c->dns_sans, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(c->sha256_hex, "ab");
  EXPECT_FALSE(parse_identity_spec("cn=x;bogus=1", why));
  EXPECT_FALSE(parse_identity_spec("cn=", why));
  EXPECT_FALSE(parse_identity_spec("", why));
}

TEST(CtlPolicyCases, EscapesAndExpectations) {
  std::string why;
  EXPECT_EQ(unescape_sql_column("a\\tb\\nc\\\\d", why), std::optional<std::string>("a\tb\nc\\d"));
  EXPECT_FALSE(unescape_sql_column("E'\\q'", why));  // must be written E'\\q'
  // \xNN is one byte (issue 12 item 2.2: text in other client encodings); SQL's own
  // E'\x41' must be written E'\\x41'.
  EXPECT_EQ(unescape_sql_column("E'\\x95\\x5c'", why), std::optional<std::string>("E'\x95\x5c'"));
  EXPECT_EQ(unescape_sql_column("E'\\\\x41'", why), std::optional<std::string>("E'\\x41'"));
  EXPECT_FALSE(unescape_sql_column("\\xZ1", why));
  EXPECT_FALSE(unescape_sql_column("\\x4", why));
  EXPECT_FALSE(unescape_sql_column("trailing\\", why));
  auto e = parse_expectation("deny:42601");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->allow);
  EXPECT_EQ(e->sqlstate, "42601");
  EXPECT_TRUE(parse_expectation("ALLOW")->allow);
  EXPECT_FALSE(parse_expectation("deny:4260"));
  EXPECT_FALSE(parse_expectation("maybe"));
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
}

TEST(CtlPolicyExplain, ExitCodes) {
  const std::vector<std::string> common = {"explain", "--config", kConfig, "--at", "2026-11-23T10:00:00Z"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = common;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  std::string text;
  EXPECT_EQ(run(with({"--identity", kBilling, "--database", "shop", "select * from orders"}), &text), 0);
  EXPECT_NE(text.find("decision: ALLOW"), std::string::npos) << text;
  EXPECT_EQ(run(with({"--identity", kBilling, "--database", "shop", "select * from customers_pii"}), &text), 1);
  EXPECT_NE(text.find("rule:     pii-deny"), std::string::npos) << text;
  EXPECT_EQ(run(with({"--identity", kBilling, "--database", "postgres", "select 1"}), &text), 1);
  EXPECT_NE(text.find("not permitted for segment"), std::string::npos) << text;
  EXPECT_EQ(run(with({"--identity", "cn=nobody", "--database", "shop", "select 1"})), 1);
  EXPECT_EQ(run(with({"--json", "--identity", "cn=reporting-job", "--database", "shop", "select 1"}), &text), 0);
  EXPECT_EQ(text.rfind("{\"identity\":\"CN=reporting-job\",\"segment\":\"reporting\"", 0), 0u) << text;
  EXPECT_EQ(run(with({"--identity", kBilling, "select 1"})), 2);  // no --database
  EXPECT_EQ(run({"explain", "--config", kData + "/missing.yaml", "--identity", "x", "--database", "shop", "select 1"}), 2);
  EXPECT_EQ(run(with({"--bogus"})), 2);
}

TEST(CtlPolicyTest, ReportsMismatchesAndSummary) {
  const std::string path = ::testing::TempDir() + "ctl_policy_cases.tsv";
  {
    std::ofstream f(path);
    f << "# comment\n\n"
      << kBilling << "\tshop\tselect * from orders\tallow\n"
      << kBilling << "\tshop\tselect * from customers_pii\tallow\n"        // mismatch
      << kBilling << "\tshop\tselect 1;\\nselect 2 from\tdeny:42601\n"
      << kBilling << "\tshop\tselect 1\n";                                  // malformed
  }
  std::string text;
  EXPECT_EQ(run({"test", "--config", kConfig, "--at", "2026-11-23T10:00:00Z", path}, &text), 1);
  EXPECT_NE(text.find(":4: MISMATCH"), std::string::npos) << text;
  EXPECT_NE(text.find(":6: malformed row"), std::string::npos) << text;
  EXPECT_NE(text.find("\n2 passed, 2 failed\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace segproxy::proxy::ctl
