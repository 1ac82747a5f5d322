// CredentialStore with dynamic credentials (issue 7): the admin secret is loaded with
// the static rules, the entry says it is dynamic and carries no session login.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "authz/credential_store.hpp"
#include "test_environment.hpp"

namespace segproxy::authz {
namespace {

config::Config dynamic_config(const config::DynamicCredentialConfig& d) {
  config::Config cfg;
  config::Segment seg;
  seg.name = "billing";
  seg.databases = {"shop"};
  config::CredentialRef ref;
  ref.dynamic = d;
  seg.credentials["pg-main"] = ref;
  config::CredentialRef stat;
  stat.user = "static_user";
  stat.password_env = "SEGPROXY_UT_DYN_STATIC";
  seg.credentials["pg-other"] = stat;
  cfg.segments["billing"] = seg;
  return cfg;
}

TEST(DynamicCredentialStore, LoadsTheAdminSecretAndTellsDynamicFromStatic) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("segproxy-dyn-" + std::to_string(::getpid()) + ".pw")).string();
  std::ofstream(path) << "AdminSecret-42\n";
  ::setenv("SEGPROXY_UT_DYN_STATIC", "static-pw", 1);
  config::DynamicCredentialConfig d;
  d.admin_user = "segproxy_admin";
  d.admin_password_file = path;
  d.grant_roles = {"billing_rw"};
  std::vector<std::string> errors;
  const auto store = CredentialStore::load(dynamic_config(d), errors, test_process_environment());
  std::filesystem::remove(path);
  ASSERT_TRUE(errors.empty()) << errors[0];
  ASSERT_NE(store, nullptr);
  const BackendCredential* dyn = store->find("billing", "pg-main");
  ASSERT_NE(dyn, nullptr);
  EXPECT_TRUE(dyn->is_dynamic());
  EXPECT_TRUE(dyn->user.empty());        // never a session login
  EXPECT_TRUE(dyn->password.empty());
  EXPECT_EQ(dyn->admin_user, "segproxy_admin");
  EXPECT_EQ(dyn->admin_password.reveal(), "AdminSecret-42");
  EXPECT_EQ(dyn->dynamic->grant_roles, std::vector<std::string>{"billing_rw"});
  const BackendCredential* stat = store->find("billing", "pg-other");
  ASSERT_NE(stat, nullptr);
  EXPECT_FALSE(stat->is_dynamic());
  EXPECT_EQ(stat->password.reveal(), "static-pw");
}

TEST(DynamicCredentialStore, MissingAdminSecretFailsTheWholeLoad) {
  ::setenv("SEGPROXY_UT_DYN_STATIC", "static-pw", 1);
  ::unsetenv("SEGPROXY_UT_DYN_ADMIN");
  config::DynamicCredentialConfig d;
  d.admin_user = "segproxy_admin";
  d.admin_password_env = "SEGPROXY_UT_DYN_ADMIN";
  std::vector<std::string> errors;
  EXPECT_EQ(CredentialStore::load(dynamic_config(d), errors, test_process_environment()), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("segment \"billing\" listener \"pg-main\": dynamic admin: environment variable "
                           "SEGPROXY_UT_DYN_ADMIN is not set"),
            std::string::npos)
      << errors[0];
}

}  // namespace
}  // namespace segproxy::authz
