// daemon/control/admin_server on a real Unix socket: file mode, access control by SO_PEERCRED,
// line handling (malformed kept open, oversized closed), caps, stale-socket handling.
#include "daemon/control/admin_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "admin_test_support.hpp"

namespace segproxy::proxy {
namespace {

using namespace admin_testing;
using namespace std::chrono_literals;
namespace admin = protocols::admin;

AdminServerOptions options_for(const fs::path& sock) {
  AdminServerOptions o;
  o.socket_path = sock;
  return o;
}

TEST(AdminServer, SocketFileIsMode0600EvenUnderAPermissiveUmask) {
  TempDir dir;
  FakeHandler handler;
  const mode_t old = ::umask(0);
  RunningServer server(options_for(dir / "admin.sock"), handler);
  ::umask(old);
  ASSERT_TRUE(server.started()) << server.error();
  struct stat st {};
  ASSERT_EQ(::lstat((dir / "admin.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AdminServer, RequestIsDispatchedWithPeerCredentialsAndAnsweredOnOneLine) {
  TempDir dir;
  FakeHandler handler;
  RunningServer server(options_for(dir / "admin.sock"), handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("{\"cmd\":\"status\"}\n"));
  const auto line = c.read_line();
  ASSERT_TRUE(line);
  std::string error;
  const auto env = admin::decode_envelope(*line, error);
  ASSERT_TRUE(env) << error;
  EXPECT_TRUE(env->ok);
  admin::StatusInfo s;
  ASSERT_TRUE(admin::decode_response(env->body, s, error)) << error;
  EXPECT_EQ(s.version, "test");
  ASSERT_EQ(handler.peers().size(), 1u);
  EXPECT_EQ(handler.peers()[0].uid, ::geteuid());
  EXPECT_EQ(handler.peers()[0].pid, ::getpid());
  EXPECT_TRUE(handler.refusals().empty());
}

TEST(AdminServer, SeveralRequestsInOneWriteAreAnsweredInOrder) {
  TempDir dir;
  FakeHandler handler;
  RunningServer server(options_for(dir / "admin.sock"), handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  ASSERT_TRUE(c.send("{\"cmd\":\"status\"}\r\n{\"cmd\":\"reload\"}\n"));
  const auto first = c.read_line();
  const auto second = c.read_line();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->rfind("{\"ok\":true,", 0), 0u) << *first;
  EXPECT_EQ(*second, admin::encode_error("not implemented in the fake"));
  const auto reqs = handler.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<admin::ReloadRequest>(reqs[1]));
}

TEST(AdminServer, MalformedLineGetsAnErrorAndTheConnectionStaysOpen) {
  TempDir dir;
  FakeHandler handler;
  RunningServer server(options_for(dir / "admin.sock"), handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  ASSERT_TRUE(c.send("{\"cmd\":\n"));
  EXPECT_EQ(c.read_line(), admin::encode_error("invalid JSON at byte 7: unexpected end of input"));
  ASSERT_TRUE(c.send("{\"cmd\":\"drop-tables\"}\n"));
  EXPECT_EQ(c.read_line(), admin::encode_error("unknown cmd \"drop-tables\""));
  ASSERT_TRUE(c.send("{\"cmd\":\"status\"}\n"));
  const auto ok = c.read_line();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->rfind("{\"ok\":true,", 0), 0u);
  EXPECT_EQ(handler.requests().size(), 1u);  // only the valid one reached the handler
}

TEST(AdminServer, OversizedLineIsAnsweredThenTheConnectionClosed) {
  TempDir dir;
  FakeHandler handler;
  auto opts = options_for(dir / "admin.sock");
  opts.max_line = 128;
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  ASSERT_TRUE(c.send(std::string(300, 'x')));  // no newline in sight
  EXPECT_EQ(c.read_line(), admin::encode_error("request line longer than 128 bytes"));
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(handler.requests().empty());
}

TEST(AdminServer, DefaultLineCapIs64KiB) {
  TempDir dir;
  FakeHandler handler;
  RunningServer server(options_for(dir / "admin.sock"), handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  ASSERT_TRUE(c.send(std::string(70 * 1024, 'x')));
  EXPECT_EQ(c.read_line(), admin::encode_error("request line longer than 65536 bytes"));
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(AdminServer, UidNotAllowedIsRefusedReportedAndClosed) {
  TempDir dir;
  FakeHandler handler;
  auto opts = options_for(dir / "admin.sock");
  opts.allowed_uids = {::geteuid() + 1};  // everyone but us
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  ASSERT_TRUE(c.connected());
  c.send("{\"cmd\":\"status\"}\n");
  EXPECT_EQ(c.read_line(), R"({"ok":false,"error":"permission denied"})");
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(handler.requests().empty());
  const auto refusals = handler.refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].first.uid, ::geteuid());
  EXPECT_EQ(refusals[0].second, "uid " + std::to_string(::geteuid()) + " is not in admin.allowed_uids");
}

TEST(AdminServer, ExplicitAllowListIncludingOurUidAdmits) {
  TempDir dir;
  FakeHandler handler;
  auto opts = options_for(dir / "admin.sock");
  opts.allowed_uids = {::geteuid() + 1, ::geteuid()};
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  c.send("{\"cmd\":\"status\"}\n");
  const auto line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("{\"ok\":true,", 0), 0u);
}

TEST(AdminServer, ConnectionsBeyondTheCapAreTurnedAway) {
  TempDir dir;
  FakeHandler handler;
  auto opts = options_for(dir / "admin.sock");
  opts.max_connections = 1;
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient first(dir / "admin.sock");
  first.send("{\"cmd\":\"status\"}\n");
  ASSERT_TRUE(first.read_line());  // the first connection is registered and idle
  LineClient second(dir / "admin.sock");
  EXPECT_EQ(second.read_line(), admin::encode_error("too many admin connections"));
  EXPECT_TRUE(second.closed_by_peer());
}

TEST(AdminServer, IdleConnectionIsClosedAfterTheReadTimeout) {
  TempDir dir;
  FakeHandler handler;
  auto opts = options_for(dir / "admin.sock");
  opts.read_timeout = 100ms;
  RunningServer server(opts, handler);
  ASSERT_TRUE(server.started()) << server.error();
  LineClient c(dir / "admin.sock");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST(AdminServer, StaleSocketIsReplacedButALiveOneOrAFileIsNot) {
  TempDir dir;
  const fs::path sock = dir / "admin.sock";
  {
    // A socket file nobody listens on (a crashed proxy's leftover).
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  FakeHandler handler;
  RunningServer first(options_for(sock), handler);
  ASSERT_TRUE(first.started()) << first.error();

  asio::io_context ctx;
  AdminServer second(ctx, options_for(sock), handler);
  std::string error;
  EXPECT_FALSE(second.start(error));
  EXPECT_EQ(error, "admin socket " + sock.string() + " is in use (another segproxy running?)");
  LineClient still(sock);  // the first server is untouched
  still.send("{\"cmd\":\"status\"}\n");
  EXPECT_TRUE(still.read_line());

  const fs::path plain = dir / "not-a-socket";
  std::ofstream(plain) << "data";
  AdminServer third(ctx, options_for(plain), handler);
  EXPECT_FALSE(third.start(error));
  EXPECT_EQ(error, "admin socket " + plain.string() + " exists and is not a socket; refusing to replace it");
  EXPECT_TRUE(fs::is_regular_file(plain));
}

TEST(AdminServer, StopRemovesTheSocketFile) {
  TempDir dir;
  FakeHandler handler;
  RunningServer server(options_for(dir / "admin.sock"), handler);
  ASSERT_TRUE(server.started()) << server.error();
  EXPECT_TRUE(fs::exists(dir / "admin.sock"));
  server.stop();
  EXPECT_FALSE(fs::exists(dir / "admin.sock"));
}

}  // namespace
}  // namespace segproxy::proxy
