// backend.auth for MySQL listeners (issue 12 item 4.3): the proxy answers only the
// authentication plugins it is configured to accept. A backend (or a machine in the
// middle of an unverified TLS connection) that switches to mysql_clear_password, or
// greets with it, does not get the password in cleartext.
#include <gtest/gtest.h>

#include "protocols/mysql/auth.hpp"

namespace segproxy::protocols::mysql {
namespace {

const Bytes kScramble{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
const std::vector<std::string> kDefault{"mysql_native_password", "caching_sha2_password", "client_ed25519"};

TEST(MysqlAuthPinning, SwitchToClearPasswordOverTlsFailsWhenBackendAuthDoesNotAcceptIt) {
  AuthClient c("secret", "mysql_native_password", kScramble, /*secure_transport=*/true, {}, kDefault);
  c.initial_response();
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"mysql_clear_password", {}}});
  ASSERT_EQ(a.kind, AuthAction::Kind::Fail);
  EXPECT_TRUE(a.payload.empty());
  EXPECT_NE(a.error.find("backend asked for mysql_clear_password authentication, which backend.auth does not accept "
                         "(mysql_native_password, caching_sha2_password, client_ed25519)"),
            std::string::npos)
      << a.error;
}

TEST(MysqlAuthPinning, ClearPasswordGreetingIsNotAnsweredInCleartext) {
  AuthClient c("secret", "mysql_clear_password", kScramble, /*secure_transport=*/true, {}, kDefault);
  const Bytes r = c.initial_response();
  EXPECT_EQ(c.plugin(), "mysql_native_password");
  EXPECT_EQ(r, native_password_scramble("secret", kScramble));
}

TEST(MysqlAuthPinning, SwitchToAnAcceptedPluginIsAnswered) {
  AuthClient c("secret", "caching_sha2_password", kScramble, false, {}, kDefault);
  c.initial_response();
  Bytes data(20, 9);
  data.push_back(0);
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"mysql_native_password", data}});
  ASSERT_EQ(a.kind, AuthAction::Kind::Send) << a.error;
  EXPECT_EQ(a.payload, native_password_scramble("secret", Bytes(20, 9)));
}

TEST(MysqlAuthPinning, SwitchToNativeFailsWhenOnlyEd25519IsAccepted) {
  AuthClient c("secret", "client_ed25519", Bytes(32, 3), false, {}, {"client_ed25519"});
  c.initial_response();
  Bytes data(20, 9);
  data.push_back(0);
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"mysql_native_password", data}});
  EXPECT_EQ(a.kind, AuthAction::Kind::Fail);
  EXPECT_NE(a.error.find("mysql_native_password"), std::string::npos);
}

TEST(MysqlAuthPinning, ClearPasswordIsAnsweredOverTlsWhenAccepted) {
  AuthClient c("secret", "mysql_native_password", kScramble, true, {}, {"mysql_native_password", "mysql_clear_password"});
  c.initial_response();
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"mysql_clear_password", {}}});
  ASSERT_EQ(a.kind, AuthAction::Kind::Send) << a.error;
  EXPECT_EQ(a.payload, cleartext_password("secret"));
}

}  // namespace
}  // namespace segproxy::protocols::mysql
