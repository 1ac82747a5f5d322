// ctl/ (segproxyctl's commands) links without the daemon: this binary links segproxy_ctl
// alone (protocols, json, config, tls, authz, audit), never segproxy_core.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "ctl/admin.hpp"
#include "ctl/audit.hpp"
#include "ctl/command_line.hpp"
#include "ctl/config_check.hpp"
#include "ctl/policy.hpp"

namespace segproxy::proxy::ctl {
namespace {

TEST(CtlWithoutDaemon, PolicyExplainRunsAgainstTheTestPolicyLinkingNoDaemonCode) {
  std::ostringstream out, err;
  const int rc = run_policy({"explain", "--config", SEGPROXY_CTL_TESTDATA "/pg_policy.yaml", "--identity",
                             "spiffe://example.org/ns/billing/api", "--database", "shop", "select * from orders"},
                            out, err);
  EXPECT_TRUE(rc == 0 || rc == 1) << err.str();  // a decision, not a usage/config error
  EXPECT_FALSE(out.str().empty());
}

TEST(CtlWithoutDaemon, AuditAndAdminCommandsAreLinkedFromCtlAlone) {
  std::ostringstream out, err;
  EXPECT_EQ(run_audit({}, out, err), 2);
  EXPECT_TRUE(is_admin_command("revoke"));
  EXPECT_FALSE(admin_usage().empty());
}

// `config check` lives in ctl/ too (tls/ reads the TLS material): a missing file is an
// invalid configuration (2), a missing argument a usage error.
TEST(CtlWithoutDaemon, ConfigCheckIsLinkedFromCtlAlone) {
  std::ostringstream out, err;
  const authz::EnvironmentLookup no_env = [](std::string_view) { return std::optional<std::string>(); };
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(run_config_check({"config", "check", "/nonexistent/segproxy.yaml"}, out, err, no_env, now), 2);
  EXPECT_NE(err.str().find("/nonexistent/segproxy.yaml"), std::string::npos) << err.str();
  EXPECT_EQ(run_config_check({"config", "check"}, out, err, no_env, now), kCtlExitUsage);
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace segproxy::proxy::ctl
