#pragma once
// The integration-test environment contract (set by scripts/test.sh through
// scripts/lib/testenv.sh): where PostgreSQL and MariaDB run, the PKI, the secrets, the
// binaries.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace segproxy::it {

struct Env {
  bool present = false;   // SEGPROXY_TEST_PGPORT is set
  bool required = false;  // SEGPROXY_REQUIRE_INTEGRATION=1
  std::string test_dir;   // scratch dir (SEGPROXY_TEST_DIR, default /tmp)
  std::string pghost;
  std::string pgport;
  std::string pgsockdir;
  std::string pgsuperuser;
  std::string pki;
  std::string secrets;
  std::string db;
  std::string segproxy_bin;
  std::string segproxyctl_bin;
  // MariaDB (scripts/lib/testenv-mariadb.sh). Passwords: <secrets>/<user>.my.pw.
  bool my_present = false;  // SEGPROXY_TEST_MYPORT is set
  std::string myhost;       // SEGPROXY_TEST_MYHOST (127.0.0.1)
  std::string myport;       // SEGPROXY_TEST_MYPORT
  std::string mysock;       // SEGPROXY_TEST_MYSOCK: unix socket (root logs in here)
  std::string mysuperuser;  // SEGPROXY_TEST_MYSUPERUSER (root, socket only, no password)
  std::string mydb;         // SEGPROXY_TEST_MYDB (shop)

  std::string pki_file(std::string_view name) const { return pki + "/" + std::string(name); }
  std::string secret_file(std::string_view name) const {
    return secrets + "/" + std::string(name);
  }
  // <secrets>/<user>.my.pw: the MariaDB password of `user`.
  std::string my_secret_file(std::string_view user) const {
    return secrets + "/" + std::string(user) + ".my.pw";
  }
  // Conninfo for the superuser over the unix socket (bypasses the proxy; for setup and
  // for observing the backend side).
  std::string superuser_conninfo() const;
};

const Env& env();

// Human-readable reason the environment is unusable, empty if it is usable.
std::string env_problem();

// The same for the MariaDB part (needs no segproxy binary: direct-to-MariaDB tests use
// it alone; proxy tests use both macros).
std::string mysql_env_problem();

}  // namespace segproxy::it

// Skips the test (or fails it when SEGPROXY_REQUIRE_INTEGRATION=1) when the
// environment is missing. Use at the start of SetUp() or a TEST body.
#define SEGPROXY_IT_REQUIRE_ENV()                                                        \
  do {                                                                                   \
    const ::segproxy::it::Env& segproxy_it_env_ = ::segproxy::it::env();                 \
    if (!segproxy_it_env_.present) {                                                     \
      if (segproxy_it_env_.required) {                                                   \
        GTEST_FAIL() << "SEGPROXY_TEST_PGPORT is unset but SEGPROXY_REQUIRE_INTEGRATION=1" \
                        " (run through scripts/test.sh)";                                \
      } else {                                                                           \
        GTEST_SKIP() << "integration environment not set up (SEGPROXY_TEST_PGPORT unset);" \
                        " run through scripts/test.sh";                                  \
      }                                                                                  \
    }                                                                                    \
    const std::string segproxy_it_problem_ = ::segproxy::it::env_problem();              \
    if (!segproxy_it_problem_.empty()) {                                                 \
      GTEST_FAIL() << "integration environment unusable: " << segproxy_it_problem_;      \
    }                                                                                    \
  } while (0)

// Skips the test (or fails it when SEGPROXY_REQUIRE_INTEGRATION=1) when the MariaDB
// environment is missing; fails when it is present but unusable.
#define SEGPROXY_IT_REQUIRE_MYSQL_ENV()                                                  \
  do {                                                                                   \
    const ::segproxy::it::Env& segproxy_it_env_ = ::segproxy::it::env();                 \
    if (!segproxy_it_env_.my_present) {                                                  \
      if (segproxy_it_env_.required) {                                                   \
        GTEST_FAIL() << "SEGPROXY_TEST_MYPORT is unset but SEGPROXY_REQUIRE_INTEGRATION=1" \
                        " (run through scripts/test.sh)";                                \
      } else {                                                                           \
        GTEST_SKIP() << "MariaDB test environment not set up (SEGPROXY_TEST_MYPORT unset);" \
                        " run through scripts/test.sh";                                  \
      }                                                                                  \
    }                                                                                    \
    const std::string segproxy_it_problem_ = ::segproxy::it::mysql_env_problem();        \
    if (!segproxy_it_problem_.empty()) {                                                 \
      GTEST_FAIL() << "MariaDB test environment unusable: " << segproxy_it_problem_;     \
    }                                                                                    \
  } while (0)
