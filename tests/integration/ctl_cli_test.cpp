// segproxyctl's global options written before the command (docs/admin.md "segproxyctl"),
// against a real proxy: `segproxyctl --socket S --json revoke ...` revokes, and a real
// libpq client is then refused; the same command with the options after it lifts it.
// Its time arguments keep to the configuration's years (issue 20).
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

// Issue 20: segproxyctl's time arguments (--since / --until / --at) follow the
// configuration's rule through the one RFC 3339 reader: years 1970..2200. Through the
// real binary, on the audit log and configuration of a real proxy: values inside the
// range work (offsets +14:00 / -12:00, the 2028 leap day), a year outside it is a usage
// error (exit 2) naming the range, before any log, store or configuration is read.
TEST_F(CtlCliTest, TimeArgumentsOutsideYears1970To2200ExitTwoNamingTheRange) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy());
  {
    auto c = Connect();
    ASSERT_PG_CONNECTED(c);
  }
  proxy_.stop();  // the log is complete and still
  const std::string& bin = env().segproxyctl_bin;
  const auto run = [](const std::vector<std::string>& argv) { return run_process(argv, std::chrono::seconds(60)); };

  const ProcResult all = run({bin, "audit", "export", audit_dir_, "--since", "1970-01-01T00:00:00+14:00", "--until",
                              "2200-12-31T23:59:59-12:00"});
  ASSERT_EQ(all.exit_code, 0) << all.describe();
  EXPECT_NE(all.out.find("session.open"), std::string::npos) << all.describe();
  const ProcResult leap = run({bin, "policy", "explain", "--config", config_path_, "--identity", "reporting-job",
                               "--database", env().db, "--at", "2028-02-29T08:00:00+14:00", "select 1"});
  EXPECT_TRUE(leap.exit_code == 0 || leap.exit_code == 1) << leap.describe();
  EXPECT_NE(leap.out.find("at:       2028-02-28T18:00:00Z"), std::string::npos) << leap.describe();

  const std::string range = "is out of range (years 1970 to 2200)";
  const std::vector<std::vector<std::string>> refused = {
      {bin, "audit", "export", audit_dir_, "--since", "0226-12-02T00:00:00Z"},
      {bin, "audit", "export", audit_dir_, "--until", "2201-01-01"},
      {bin, "audit", "verify", "--postgres", "host=/nonexistent dbname=none", "--since", "1969-12-31T23:59:59Z"},
      {bin, "audit", "export", "--postgres", "host=/nonexistent dbname=none", "--until", "9999-12-31"},
      {bin, "policy", "replay", "--config", config_path_, "--since", "0226-12-02", audit_dir_},
      {bin, "policy", "explain", "--config", config_path_, "--identity", "reporting-job", "--database", env().db,
       "--at", "2201-01-01T00:00:00+14:00", "select 1"},
  };
  for (const auto& argv : refused) {
    const ProcResult r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_NE(r.err.find(range), std::string::npos) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
  }
}

}  // namespace
}  // namespace segproxy::it
