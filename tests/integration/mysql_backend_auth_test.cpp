// backend.auth on a MySQL listener (issue 12 item 4.3) against the real MariaDB: an
// authentication switch to a plugin the listener does not accept ends the login with
// ERR 1045 naming the plugin, and the password is never answered for it.
#include <gtest/gtest.h>

#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

class MysqlBackendAuth : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
};

// billing_ed25519 is an ed25519 user: MariaDB greets with mysql_native_password and
// then switches the proxy to client_ed25519.
TEST_F(MysqlBackendAuth, SwitchToAPluginOutsideBackendAuthEndsTheLoginWith1045) {
  MysqlProxyOptions opts;
  opts.billing_user = "billing_ed25519";
  opts.backend_extra = "      auth: [mysql_native_password]\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  MyError err;
  EXPECT_FALSE(Connect(ClientCert::Spiffe, &err)) << "logged in through a plugin backend.auth does not accept";
  EXPECT_EQ(err.code, 1045) << err.describe();
  EXPECT_NE(err.message.find("backend asked for client_ed25519 authentication, which backend.auth does not accept "
                             "(mysql_native_password)"),
            std::string::npos)
      << err.describe();
}

TEST_F(MysqlBackendAuth, DefaultBackendAuthAcceptsEd25519) {
  MysqlProxyOptions opts;
  opts.billing_user = "billing_ed25519";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  MyError err;
  auto conn = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(conn) << err.describe();
  EXPECT_EQ(mysql_exec(conn.get(), "SELECT CURRENT_USER()").value(), "billing_ed25519@%");
}

}  // namespace
}  // namespace segproxy::it
