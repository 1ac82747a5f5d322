// segproxyctl command line conventions (proxy/ctl_command_line.hpp): global options
// before the command reach the command's own parser, help per command, and what is
// refused before the command (anything not global) stays a usage error.
#include "ctl/command_line.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ctl/admin.hpp"

namespace segproxy::proxy::ctl {
namespace {

using Words = std::vector<std::string>;

Words hoist(const Words& in) {
  std::string error;
  auto out = hoist_global_options(in, error);
  EXPECT_TRUE(out.has_value()) << error;
  return out.value_or(Words{});
}

std::string hoist_error(const Words& in) {
  std::string error;
  EXPECT_FALSE(hoist_global_options(in, error).has_value());
  return error;
}

TEST(CtlCommandLine, SocketBeforeTheCommandReachesTheAdminParser) {
  const Words args = hoist({"--socket", "/tmp/s.sock", "revoke", "--identity", "cn=x"});
  EXPECT_EQ(args, (Words{"revoke", "--socket", "/tmp/s.sock", "--identity", "cn=x"}));
  std::string error;
  const auto inv = parse_admin_args(args, error);
  ASSERT_TRUE(inv.has_value()) << error;
  EXPECT_EQ(inv->socket_path, "/tmp/s.sock");
}

TEST(CtlCommandLine, GlobalOptionsBeforeAndAfterTheCommandMeanTheSame) {
  std::string e1, e2;
  const auto before = parse_admin_args(hoist({"--json", "--socket=/a", "sessions", "--segment", "billing"}), e1);
  const auto after = parse_admin_args(hoist({"sessions", "--segment", "billing", "--json", "--socket", "/a"}), e2);
  ASSERT_TRUE(before && after) << e1 << e2;
  EXPECT_EQ(before->socket_path, after->socket_path);
  EXPECT_TRUE(before->json);
  EXPECT_TRUE(after->json);
}

TEST(CtlCommandLine, GlobalsGoAfterBothWordsOfATwoWordCommand) {
  EXPECT_EQ(hoist({"--config", "f.yaml", "--json", "policy", "explain", "--identity", "cn=a", "SELECT 1"}),
            (Words{"policy", "explain", "--config", "f.yaml", "--json", "--identity", "cn=a", "SELECT 1"}));
  EXPECT_EQ(hoist({"--config=f.yaml", "config", "check"}), (Words{"config", "check", "--config=f.yaml"}));
  EXPECT_EQ(hoist({"--json", "audit", "verify", "dir"}), (Words{"audit", "verify", "--json", "dir"}));
  // A lone "policy" keeps its globals right after it (its own usage error follows).
  EXPECT_EQ(hoist({"--json", "policy"}), (Words{"policy", "--json"}));
}

TEST(CtlCommandLine, ArgumentsAfterTheCommandAreNeverReordered) {
  const Words in{"revoke", "--identity", "--socket", "--reason", "x"};
  EXPECT_EQ(hoist(in), in);
}

TEST(CtlCommandLine, OnlyGlobalOptionsMayPrecedeTheCommand) {
  EXPECT_NE(hoist_error({"--identity", "x", "revoke"}).find("--identity"), std::string::npos);
  EXPECT_NE(hoist_error({"--socket"}).find("needs a value"), std::string::npos);
  EXPECT_NE(hoist_error({"--json"}).find("no command"), std::string::npos);
}

TEST(CtlCommandLine, EveryCommandHasItsOwnHelp) {
  for (const char* cmd : {"status", "sessions", "kill", "revoke", "unrevoke", "revocations", "reload",
                          "audit-checkpoint", "policy", "audit", "config", "version", "help"}) {
    const auto text = command_help(cmd);
    ASSERT_TRUE(text.has_value()) << cmd;
    EXPECT_NE(text->find(std::string("segproxyctl ") + cmd), std::string::npos) << *text;
  }
  EXPECT_NE(command_help("revoke")->find("--force"), std::string::npos);
  EXPECT_NE(command_help("revoke")->find("exit codes"), std::string::npos);
  EXPECT_FALSE(command_help("nosuch").has_value());
}

TEST(CtlCommandLine, HelpFlagAnywhereAfterTheCommandAsksForHelp) {
  EXPECT_TRUE(asks_for_help({"revoke", "--identity", "x", "--help"}));
  EXPECT_TRUE(asks_for_help({"sessions", "-h"}));
  EXPECT_FALSE(asks_for_help({"revoke", "--identity", "x"}));
  EXPECT_FALSE(asks_for_help({"--help"}));  // the general help, not a command's
}

TEST(CtlCommandLine, GeneralUsageDocumentsGlobalOptionsAndExitCodes) {
  const std::string u = general_usage();
  for (const char* want : {"--socket PATH", "--json", "--config FILE", "exit codes", "64", "help [COMMAND]"}) {
    EXPECT_NE(u.find(want), std::string::npos) << want;
  }
}

}  // namespace
}  // namespace segproxy::proxy::ctl
