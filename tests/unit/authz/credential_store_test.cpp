// Secret (cleansed, move-only) and CredentialStore (password files / env, never leaked).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>

#include "authz/credential_store.hpp"
#include "test_environment.hpp"

namespace segproxy::authz {
namespace {

bool bytes_contain(const void* p, std::size_t n, std::string_view needle) {
  const std::string_view hay(static_cast<const char*>(p), n);
  return hay.find(needle) != std::string_view::npos;
}

// Object representation of a Secret (holds the characters of short, in-object strings).
template <class T>
bool object_contains(const T& obj, std::string_view needle) {
  unsigned char copy[sizeof(T)];
  std::memcpy(copy, static_cast<const void*>(&obj), sizeof(T));
  return bytes_contain(copy, sizeof(T), needle);
}

TEST(Secret, MoveLeavesSourceEmptyAndItsBufferCleansed) {
  Secret a(std::string("hunter2"));
  Secret b(std::move(a));
  EXPECT_EQ(b.reveal(), "hunter2");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from contract
  EXPECT_FALSE(object_contains(a, "hunter2"));
  // The whole buffer of the moved-from string, not only [0, size()).
  EXPECT_FALSE(bytes_contain(a.reveal().data(), a.reveal().capacity(), "hunter2"));
}

TEST(Secret, MoveAssignCleansesOverwrittenValueAndSource) {
  for (const std::string& len : {std::string("short"), std::string(100, 'L')}) {
    const std::string old_value = "old-" + len;
    const std::string new_value = "new-" + len;
    Secret target{std::string(old_value)};
    Secret source{std::string(new_value)};
    target = std::move(source);
    EXPECT_EQ(target.reveal(), new_value);
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(object_contains(source, new_value.substr(0, 8)));
    EXPECT_FALSE(object_contains(target, old_value.substr(0, 8)));
    // libstdc++ may hand the target's old heap buffer to the source: it must be wiped.
    EXPECT_FALSE(bytes_contain(source.reveal().data(), source.reveal().capacity(),
                               old_value.substr(0, 8)));
    EXPECT_FALSE(bytes_contain(target.reveal().data() + target.reveal().size(),
                               target.reveal().capacity() - target.reveal().size(),
                               old_value.substr(4)));
  }
}

TEST(Secret, DestructionCleansesInObjectBytes) {
  alignas(Secret) unsigned char storage[sizeof(Secret)];
  auto* s = new (storage) Secret(std::string("pw-123"));
  ASSERT_TRUE(bytes_contain(storage, sizeof(storage), "pw-123"));  // SSO: value is in-object
  s->~Secret();
  EXPECT_FALSE(bytes_contain(storage, sizeof(storage), "pw-123"));
}

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "segproxy-authz-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

config::Config one_credential(const config::CredentialRef& ref) {
  config::Config cfg;
  config::Segment seg;
  seg.name = "billing";
  seg.databases = {"shop"};
  seg.credentials["pg-main"] = ref;
  cfg.segments["billing"] = seg;
  return cfg;
}

config::CredentialRef file_ref(const std::string& path) {
  config::CredentialRef r;
  r.user = "billing_rw";
  r.password_file = path;
  return r;
}

config::CredentialRef env_ref(const std::string& name) {
  config::CredentialRef r;
  r.user = "billing_rw";
  r.password_env = name;
  return r;
}

TEST(CredentialStore, PasswordFileStripsExactlyOneTrailingNewline) {
  struct Case { std::string content; std::string want; };
  const Case cases[] = {
      {"pw", "pw"},           {"pw\n", "pw"},         {"pw\r\n", "pw"},
      {"pw\n\n", "pw\n"},     {"pw\r\n\r\n", "pw\r\n"}, {"pw\r", "pw\r"},
      {" pw \n", " pw "},     {"\npw", "\npw"},       {std::string("p\0w\n", 4), std::string("p\0w", 3)},
      {std::string(4096, 'x'), std::string(4096, 'x')},
      {std::string(4095, 'x') + "\n", std::string(4095, 'x')},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::vector<std::string> errors;
    const auto store = CredentialStore::load(one_credential(file_ref(dir.write("pw", c.content))), errors, test_process_environment());
    ASSERT_TRUE(errors.empty()) << errors[0];
    ASSERT_NE(store, nullptr);
    const BackendCredential* cred = store->find("billing", "pg-main");
    ASSERT_NE(cred, nullptr);
    EXPECT_EQ(cred->user, "billing_rw");
    EXPECT_EQ(cred->password.reveal(), c.want);
  }
}

TEST(CredentialStore, EmptyPasswordFileIsAnErrorNamingSegmentListenerAndFile) {
  TempDir dir;
  for (const char* content : {"", "\n", "\r\n"}) {
    const std::string path = dir.write("x.pw", content);
    std::vector<std::string> errors;
    EXPECT_EQ(CredentialStore::load(one_credential(file_ref(path)), errors, test_process_environment()), nullptr);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "segment \"billing\" listener \"pg-main\": password file " + path + " is empty");
  }
}

TEST(CredentialStore, PasswordFileLargerThan4KiBIsRefusedWithoutLeakingIt) {
  TempDir dir;
  std::string big;
  while (big.size() <= 4096) big += "TopSecret42-";
  std::vector<std::string> errors;
  EXPECT_EQ(CredentialStore::load(one_credential(file_ref(dir.write("big.pw", big))), errors, test_process_environment()), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("larger than 4 KiB"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[0].find("TopSecret42"), std::string::npos);
  errors.clear();
  EXPECT_EQ(CredentialStore::load(one_credential(file_ref(dir.write("b2.pw", std::string(4097, 'x')))), errors, test_process_environment()),
            nullptr);
  EXPECT_EQ(errors.size(), 1u);
}

TEST(CredentialStore, MissingPasswordFileIsAnError) {
  TempDir dir;
  std::vector<std::string> errors;
  EXPECT_EQ(CredentialStore::load(one_credential(file_ref(dir.path("none.pw"))), errors, test_process_environment()), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("segment \"billing\" listener \"pg-main\": cannot open password file"),
            std::string::npos) << errors[0];
}

TEST(CredentialStore, PasswordFileThatIsADirectoryIsAnError) {
  TempDir dir;
  std::filesystem::create_directory(dir.path("d"));
  std::vector<std::string> errors;
  EXPECT_EQ(CredentialStore::load(one_credential(file_ref(dir.path("d"))), errors, test_process_environment()), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("not a regular file"), std::string::npos) << errors[0];
}

// authz reads password_env only through the lookup it is handed, never the process
// environment: a variable set in the process but absent from the lookup is "not set",
// and the lookup's value wins over the process's.
TEST(CredentialStore, PasswordEnvIsReadThroughTheInjectedLookupNeverTheProcessEnvironment) {
  ::setenv("SEGPROXY_UT_INJECTED", "from-process", 1);
  ::setenv("SEGPROXY_UT_PROCESS_ONLY", "from-process", 1);
  const EnvironmentLookup lookup = [](std::string_view name) -> std::optional<std::string> {
    if (name == "SEGPROXY_UT_INJECTED") return std::string("from-lookup");
    return std::nullopt;
  };
  std::vector<std::string> errors;
  const auto store = CredentialStore::load(one_credential(env_ref("SEGPROXY_UT_INJECTED")), errors, lookup);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->find("billing", "pg-main")->password.reveal(), "from-lookup");
  EXPECT_EQ(CredentialStore::load(one_credential(env_ref("SEGPROXY_UT_PROCESS_ONLY")), errors, lookup), nullptr);
  EXPECT_EQ(CredentialStore::load(one_credential(env_ref("SEGPROXY_UT_INJECTED")), errors, EnvironmentLookup{}),
            nullptr);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("SEGPROXY_UT_PROCESS_ONLY is not set"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("SEGPROXY_UT_INJECTED is not set"), std::string::npos) << errors[1];
  ::unsetenv("SEGPROXY_UT_INJECTED");
  ::unsetenv("SEGPROXY_UT_PROCESS_ONLY");
}

TEST(CredentialStore, PasswordEnvIsReadAndMissingOrEmptyEnvIsAnError) {
  ::setenv("SEGPROXY_UT_PW", "env-Secret-99", 1);
  ::setenv("SEGPROXY_UT_EMPTY", "", 1);
  ::unsetenv("SEGPROXY_UT_UNSET");
  std::vector<std::string> errors;
  const auto store = CredentialStore::load(one_credential(env_ref("SEGPROXY_UT_PW")), errors, test_process_environment());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->find("billing", "pg-main")->password.reveal(), "env-Secret-99");

  EXPECT_EQ(CredentialStore::load(one_credential(env_ref("SEGPROXY_UT_UNSET")), errors, test_process_environment()), nullptr);
  EXPECT_EQ(CredentialStore::load(one_credential(env_ref("SEGPROXY_UT_EMPTY")), errors, test_process_environment()), nullptr);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "segment \"billing\" listener \"pg-main\": environment variable SEGPROXY_UT_UNSET is not set");
  EXPECT_EQ(errors[1], "segment \"billing\" listener \"pg-main\": environment variable SEGPROXY_UT_EMPTY is empty");
  ::unsetenv("SEGPROXY_UT_PW");
  ::unsetenv("SEGPROXY_UT_EMPTY");
}

TEST(CredentialStore, BothOrNeitherPasswordSourceIsAnError) {
  TempDir dir;
  config::CredentialRef both = file_ref(dir.write("p", "pw"));
  both.password_env = "X";
  config::CredentialRef neither;
  neither.user = "u";
  for (const auto& ref : {both, neither}) {
    std::vector<std::string> errors;
    EXPECT_EQ(CredentialStore::load(one_credential(ref), errors, test_process_environment()), nullptr);
    EXPECT_EQ(errors.size(), 1u);
  }
}

TEST(CredentialStore, FindReturnsNullptrWhenAbsent) {
  TempDir dir;
  std::vector<std::string> errors;
  const auto store = CredentialStore::load(one_credential(file_ref(dir.write("p", "pw\n"))), errors, test_process_environment());
  ASSERT_NE(store, nullptr);
  EXPECT_NE(store->find("billing", "pg-main"), nullptr);
  EXPECT_EQ(store->find("billing", "mysql-main"), nullptr);
  EXPECT_EQ(store->find("ops", "pg-main"), nullptr);
  EXPECT_EQ(store->find("", ""), nullptr);
}

TEST(CredentialStore, AnyErrorFailsTheWholeLoadAndNoErrorContainsASecret) {
  TempDir dir;
  ::setenv("SEGPROXY_UT_GOOD", "EnvSecret-77", 1);
  config::Config cfg = one_credential(file_ref(dir.write("good.pw", "FileSecret-11\n")));
  config::Segment ops;
  ops.name = "ops";
  ops.databases = {"db"};
  ops.credentials["pg-main"] = env_ref("SEGPROXY_UT_GOOD");
  ops.credentials["mysql-main"] = file_ref(dir.write("huge.pw", std::string(5000, 'Z') + "FileSecret-11"));
  ops.credentials["other"] = file_ref(dir.write("empty.pw", "\n"));
  cfg.segments["ops"] = ops;
  std::vector<std::string> errors = {"earlier error kept"};
  EXPECT_EQ(CredentialStore::load(cfg, errors, test_process_environment()), nullptr);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "earlier error kept");
  for (const auto& e : errors) {
    EXPECT_EQ(e.find("FileSecret-11"), std::string::npos) << e;
    EXPECT_EQ(e.find("EnvSecret-77"), std::string::npos) << e;
    EXPECT_EQ(e.find("ZZZZ"), std::string::npos) << e;
  }
  ::unsetenv("SEGPROXY_UT_GOOD");
}

}  // namespace
}  // namespace segproxy::authz
