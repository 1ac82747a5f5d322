// segproxyctl's global options written before the command (docs/admin.md "segproxyctl"),
// against a real proxy: `segproxyctl --socket S --json revoke ...` revokes, and a real
// libpq client is then refused; the same command with the options after it lifts it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/admin_fixture.hpp"

namespace segproxy::it {
namespace {

class CtlCliTest : public AdminTest {
 protected:
  // segproxyctl with the global options FIRST (AdminTest::ctl appends --socket last).
  ProcResult ctl_globals_first(std::vector<std::string> args) const {
    std::vector<std::string> argv{env().segproxyctl_bin, "--socket", socket_, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, std::chrono::seconds(30));
  }
};

TEST_F(CtlCliTest, GlobalOptionsBeforeTheCommandReachTheRunningProxy) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy());
  const ProcResult revoke =
      ctl_globals_first({"revoke", "--identity", "reporting-job", "--reason", "cli-order", "--force"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.describe();
  EXPECT_EQ(revoke.out.rfind("{", 0), 0u) << "--json before the command must select JSON output: "
                                         << revoke.describe();
  auto refused = Connect(ClientCert::Cn);
  EXPECT_NE(PQstatus(refused.get()), CONNECTION_OK);

  const ProcResult list = ctl_globals_first({"revocations"});
  ASSERT_EQ(list.exit_code, 0) << list.describe();
  EXPECT_NE(list.out.find("cli-order"), std::string::npos) << list.describe();

  ASSERT_EQ(ctl({"unrevoke", "--identity", "reporting-job"}).exit_code, 0);
  auto ok = Connect(ClientCert::Cn);
  ASSERT_PG_CONNECTED(ok);
}

TEST_F(CtlCliTest, HelpNeverContactsTheProxy) {
  // `CMD --help` answers from the binary, even with a socket that does not exist.
  const ProcResult help =
      run_process({env().segproxyctl_bin, "--socket", "/nonexistent/x.sock", "revoke", "--help"},
                  std::chrono::seconds(30));
  EXPECT_EQ(help.exit_code, 0) << help.describe();
  EXPECT_NE(help.out.find("usage: segproxyctl revoke"), std::string::npos) << help.describe();
}

}  // namespace
}  // namespace segproxy::it
