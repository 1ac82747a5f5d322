// segproxyctl admin subcommands: argument parsing (usage errors exit 64), and the whole
// client against a real AdminServer with a fake handler (exit 0 / 1 / 2, human and
// --json output).
#include "ctl/admin.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "admin_test_support.hpp"

namespace segproxy::proxy::ctl {
namespace {

using namespace admin_testing;
using namespace std::chrono_literals;
namespace admin = protocols::admin;

struct CtlRun {
  int rc;
  std::string out;
  std::string err;
};

CtlRun run(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int rc = run_admin(args, out, err);
  return {rc, out.str(), err.str()};
}

std::optional<admin::Request> parsed(std::vector<std::string> args) {
  std::string error;
  auto inv = parse_admin_args(args, error);
  if (!inv) return std::nullopt;
  return inv->request;
}

std::string usage_error(std::vector<std::string> args) {
  std::string error;
  EXPECT_FALSE(parse_admin_args(args, error));
  return error;
}

TEST(CtlAdminArgs, SubcommandsBuildTheMatchingRequests) {
  EXPECT_EQ(parsed({"status"}), admin::Request{admin::StatusRequest{}});
  EXPECT_EQ(parsed({"sessions", "--segment", "billing", "--identity=cn-x"}),
            (admin::Request{admin::SessionsRequest{"billing", "cn-x"}}));
  EXPECT_EQ(parsed({"kill", "42"}), admin::Request{admin::KillRequest{"42"}});
  EXPECT_EQ(parsed({"revoke", "--spiffe-prefix", "spiffe://td/ns/a", "--reason", "incident 7", "--ttl", "2h"}),
            (admin::Request{admin::RevokeRequest{{admin::SelectorKind::SpiffePrefix, "spiffe://td/ns/a"}, "incident 7", 2h}}));
  EXPECT_EQ(parsed({"unrevoke", "--cert-serial", "0A:1B"}),
            (admin::Request{admin::UnrevokeRequest{{admin::SelectorKind::CertSerial, "0A:1B"}}}));
  EXPECT_EQ(parsed({"audit-checkpoint"}), admin::Request{admin::AuditCheckpointRequest{}});
  std::string error;
  const auto inv = parse_admin_args({"reload", "--socket", "/tmp/x.sock", "--json"}, error);
  ASSERT_TRUE(inv) << error;
  EXPECT_EQ(inv->socket_path, "/tmp/x.sock");
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(parse_admin_args({"status"}, error)->socket_path, "/run/segproxy/admin.sock");
}

// Issue 12 item 4.9b: a revoke that matches no identity seen is refused unless --force.
TEST(CtlAdminArgs, RevokeForceIsSentOnlyWhenGiven) {
  EXPECT_EQ(parsed({"revoke", "--identity", "CN=postgres", "--force"}),
            (admin::Request{admin::RevokeRequest{{admin::SelectorKind::Identity, "CN=postgres"}, "", std::nullopt, true}}));
  EXPECT_EQ(parsed({"revoke", "--identity", "CN=postgres"}),
            (admin::Request{admin::RevokeRequest{{admin::SelectorKind::Identity, "CN=postgres"}, "", std::nullopt, false}}));
  EXPECT_EQ(usage_error({"unrevoke", "--identity", "x", "--force"}), "unknown option --force for unrevoke");
}

TEST(CtlAdminArgs, UsageErrorsAreCaughtBeforeConnecting) {
  EXPECT_EQ(usage_error({"revoke"}), "revoke needs exactly one of --identity, --spiffe-prefix, --cert-serial, --segment");
  EXPECT_EQ(usage_error({"revoke", "--identity", "a", "--segment", "b"}),
            "revoke needs exactly one of --identity, --spiffe-prefix, --cert-serial, --segment");
  EXPECT_EQ(usage_error({"revoke", "--segment", "b", "--ttl", "forever"}),
            "invalid --ttl forever: want a number and one unit s|m|h|d (e.g. 90m), at most 365d");
  EXPECT_EQ(usage_error({"revoke", "--spiffe-prefix", "td/x"}), "spiffe_prefix must start with spiffe://<trust domain>");
  EXPECT_EQ(usage_error({"unrevoke", "--identity", "a", "--reason", "x"}), "unknown option --reason for unrevoke");
  EXPECT_EQ(usage_error({"kill"}), "kill needs a SESSION_ID");
  EXPECT_EQ(usage_error({"kill", "1", "2"}), "unexpected argument 2");
  EXPECT_EQ(usage_error({"status", "--socket"}), "--socket needs a value");
  EXPECT_EQ(usage_error({"sessions", "--cert-serial", "1"}), "--cert-serial is not an option of sessions");
  const auto r = run({"status", "--bogus"});
  EXPECT_EQ(r.rc, kAdminExitUsage);
  EXPECT_NE(r.err.find("unknown option --bogus for status"), std::string::npos);
}

TEST(CtlAdmin, NoProxyListeningIsExit2WithAClearMessage) {
  TempDir dir;
  const auto r = run({"status", "--socket", (dir / "absent.sock").string()});
  EXPECT_EQ(r.rc, kAdminExitNoAnswer);
  EXPECT_NE(r.err.find("cannot connect to the admin socket"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is segproxy running"), std::string::npos) << r.err;
}

TEST(CtlAdmin, StatusPrintsHumanReadableAndJsonPrintsTheRawLine) {
  TempDir dir;
  FakeHandler handler;
  AdminServerOptions opts;
  opts.socket_path = dir / "admin.sock";
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  const std::string sock = opts.socket_path.string();

  auto r = run({"status", "--socket", sock});
  EXPECT_EQ(r.rc, kAdminExitOk) << r.err;
  EXPECT_NE(r.out.find("version      test\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sessions     3 active\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  billing    3\n"), std::string::npos) << r.out;

  r = run({"status", "--socket", sock, "--json"});
  EXPECT_EQ(r.rc, kAdminExitOk);
  EXPECT_EQ(r.out.rfind("{\"ok\":true,\"version\":\"test\",", 0), 0u) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
}

TEST(CtlAdmin, ProxyRefusalIsExit1WithTheProxysMessage) {
  TempDir dir;
  FakeHandler handler;
  AdminServerOptions opts;
  opts.socket_path = dir / "admin.sock";
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  const auto r = run({"kill", "99", "--socket", opts.socket_path.string()});
  EXPECT_EQ(r.rc, kAdminExitFailed);
  EXPECT_EQ(r.err, "segproxyctl: not implemented in the fake\n");
}

TEST(CtlAdmin, NotAllowedUidSeesPermissionDeniedAsExit1) {
  TempDir dir;
  FakeHandler handler;
  AdminServerOptions opts;
  opts.socket_path = dir / "admin.sock";
  opts.allowed_uids = {::geteuid() + 1};
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  const auto r = run({"revocations", "--socket", opts.socket_path.string()});
  EXPECT_EQ(r.rc, kAdminExitFailed);
  EXPECT_EQ(r.err, "segproxyctl: permission denied\n");
}

TEST(CtlAdmin, SessionsAndRevocationsPrintAlignedTablesWithControlCharactersDefused) {
  TempDir dir;
  FakeHandler handler;
  handler.answer = [](const admin::Request& req) -> std::string {
    if (std::holds_alternative<admin::SessionsRequest>(req)) {
      admin::SessionInfo s;
      s.id = "7";
      s.identity = "evil\x1b[2Jcn";  // a terminal escape in a certificate CN
      s.segment = "billing";
      s.client_addr = "10.0.0.1:5000";
      s.database = "shop";
      s.backend_user = "ro";
      s.started = *admin::parse_time("2026-11-22T13:00:00Z");
      s.current_statement = "select\n1";
      return admin::encode_response(admin::SessionsResult{{s}});
    }
    admin::RevocationInfo r{"abc123", admin::SelectorKind::Segment, "billing", "incident",
                            *admin::parse_time("2026-11-22T13:00:00Z"), std::nullopt, 0};
    return admin::encode_response(admin::RevocationsResult{{r}});
  };
  AdminServerOptions opts;
  opts.socket_path = dir / "admin.sock";
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();

  auto r = run({"sessions", "--socket", opts.socket_path.string(), "--segment", "billing"});
  ASSERT_EQ(r.rc, kAdminExitOk) << r.err;
  EXPECT_EQ(r.out,
            "ID  IDENTITY    SEGMENT  CLIENT         DATABASE  BACKEND_USER  STARTED               BYTES_IN  "
            "BYTES_OUT  STATEMENT\n"
            "7   evil?[2Jcn  billing  10.0.0.1:5000  shop      ro            2026-11-22T13:00:00Z  0         "
            "0          select 1\n");
  const auto reqs = handler.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0], (admin::Request{admin::SessionsRequest{"billing", std::nullopt}}));

  r = run({"revocations", "--socket", opts.socket_path.string()});
  ASSERT_EQ(r.rc, kAdminExitOk) << r.err;
  EXPECT_EQ(r.out,
            "ID      KIND     VALUE    EXPIRES  CREATED               UID  REASON\n"
            "abc123  segment  billing  never    2026-11-22T13:00:00Z  0    incident\n");
}

}  // namespace
}  // namespace segproxy::proxy::ctl
