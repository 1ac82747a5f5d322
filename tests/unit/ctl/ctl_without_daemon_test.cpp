// ctl/ (segproxyctl's commands) links without the daemon: this binary links segproxy_ctl
// alone (protocols, json, config, authz, audit), never segproxy_core.
#include <gtest/gtest.h>

#include <sstream>

#include "ctl/admin.hpp"
#include "ctl/audit.hpp"
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

}  // namespace
}  // namespace segproxy::proxy::ctl
