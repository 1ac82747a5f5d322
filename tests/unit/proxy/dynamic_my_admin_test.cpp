// Pure pieces of the MySQL admin side of dynamic credentials (daemon/credentials/dynamic_my_admin):
// the locally computed mysql_native_password hash, string literals that do not depend
// on NO_BACKSLASH_ESCAPES, and the per-instance marker role.
#include <gtest/gtest.h>

#include "daemon/credentials/dynamic_my_admin.hpp"

namespace segproxy::proxy {
namespace {

TEST(DynamicMyAdmin, NativePasswordHashMatchesTheServersPasswordFunction) {
  // MariaDB: SELECT PASSWORD('password')
  EXPECT_EQ(mysql_native_password_hash("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
  EXPECT_EQ(mysql_native_password_hash("password").size(), 41u);
}

TEST(DynamicMyAdmin, StringLiteralsDoubleQuotesAndRefuseBackslashesAndNul) {
  EXPECT_EQ(mysql_string_literal("sp_a"), "'sp_a'");
  EXPECT_EQ(mysql_string_literal("it's"), "'it''s'");
  EXPECT_FALSE(mysql_string_literal("a\\b"));
  EXPECT_FALSE(mysql_string_literal(std::string("a\0b", 3)));
}

TEST(DynamicMyAdmin, MarkerRoleNamesTheInstance) {
  EXPECT_EQ(mysql_marker_role("proxy-1").rfind("segproxy_m_", 0), 0u);
  EXPECT_EQ(mysql_marker_role("proxy-1").size(), 19u);
  EXPECT_EQ(mysql_marker_role("proxy-1"), mysql_marker_role("proxy-1"));
  EXPECT_NE(mysql_marker_role("proxy-1"), mysql_marker_role("proxy-2"));
}

TEST(DynamicMyAdmin, ExpiryRoleNamesTheExpiryInUnixSecondsRoundedUp) {
  using std::chrono::system_clock;
  const system_clock::time_point t{std::chrono::seconds(1795000000)};
  EXPECT_EQ(mysql_expiry_role(t), "segproxy_x_1795000000");
  EXPECT_EQ(mysql_expiry_role(t + std::chrono::milliseconds(1)), "segproxy_x_1795000001");  // never earlier
  EXPECT_LE(mysql_expiry_role(t).size(), 32u);  // a MySQL 8 role name fits
}

}  // namespace
}  // namespace segproxy::proxy
