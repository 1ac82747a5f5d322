#pragma once
// JDBC drivers through segproxy: the Java probes (tests/integration/jdbc/*.java, compiled
// by CMake when javac and the Debian jars are found) run as child processes, one
// scenario per run, and print "KEY value" lines that the tests assert on.
#include <chrono>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "support/env.hpp"
#include "support/process.hpp"

namespace segproxy::it {

// What the build found (compile definitions from tests/integration/CMakeLists.txt).
struct JdbcTools {
  std::string java;         // the java launcher
  std::string classes;      // directory with PgJdbcProbe.class and MariaJdbcProbe.class
  std::string pgjdbc_jar;   // pgjdbc (postgresql.jar)
  std::string mariadb_jar;  // MariaDB Connector/J (mariadb-java-client.jar)
  // Empty when usable, else why not (names the Debian packages to install).
  std::string problem() const;
};
const JdbcTools& jdbc_tools();

// Client key material for the drivers, converted from SEGPROXY_TEST_PKI's
// client-spiffe.{crt,key} into `dir` with the openssl CLI (a gtest failure when it fails):
// pgjdbc 42.5 reads the key as unencrypted PKCS#8 DER; Connector/J 2.7 takes a PKCS12
// key store (password kJdbcKeyStorePassword).
inline constexpr const char* kJdbcKeyStorePassword = "segproxy-test";
std::string make_pk8_key(const std::string& dir);
std::string make_p12_keystore(const std::string& dir);

// jdbc:postgresql://localhost:<port>/<db>?sslmode=verify-full&... with the client
// certificate; `extra` ("&k=v...") is appended.
std::string pgjdbc_url(std::uint16_t port, const std::string& pk8_key, const std::string& extra = "");
// jdbc:mariadb://localhost:<port>/<db>?useSsl=true&serverSslCert=...&keyStore=... with the
// driver's DEFAULT options otherwise; `extra` is appended. For local development only,
// SEGPROXY_TEST_CONNECTORJ_EXTRA (e.g. "&jdbcCompliantTruncation=false") is appended too.
std::string connectorj_url(std::uint16_t port, const std::string& p12, const std::string& extra = "");

// Runs `java -cp <classes>:<jar> <probe> <scenario> <url>` (bounded: a hang fails the
// test via timed_out, never a timing assertion).
ProcResult run_pgjdbc(const std::string& scenario, const std::string& url);
ProcResult run_connectorj(const std::string& scenario, const std::string& url);

// Probe output: whether `line` is one of its lines; how many times; the number after
// "KEY " (-1 when absent).
bool probe_has(const ProcResult& r, const std::string& line);
int probe_count(const ProcResult& r, const std::string& line);
long probe_number(const ProcResult& r, const std::string& key);

// The checks of the scenarios both probes share (tests/integration/jdbc/JdbcProbe.java),
// as gtest expectations on a probe run `r` that also had to finish (EXPECT_PROBE_OK):
// "prepared": the three order rows; "denied": `denied_line` twice (prepared and plain)
// and no NOT_DENIED, then the connection still reads orders.
void expect_order_rows(const ProcResult& r);
void expect_denied_twice_then_usable(const ProcResult& r, const std::string& denied_line);

}  // namespace segproxy::it

// A probe run that finished its scenario (exit 0, "DONE", no timeout).
#define EXPECT_PROBE_OK(r)                                                  \
  do {                                                                      \
    EXPECT_FALSE((r).timed_out) << (r).describe();                          \
    EXPECT_EQ((r).exit_code, 0) << (r).describe();                          \
    EXPECT_NE((r).out.find("DONE\n"), std::string::npos) << (r).describe(); \
  } while (0)

// Skips the test when javac or the driver jars were not found at configure time (fails
// it when SEGPROXY_REQUIRE_INTEGRATION=1, as CI sets: CI installs the packages).
#define SEGPROXY_IT_REQUIRE_JDBC()                                                      \
  do {                                                                                  \
    const std::string segproxy_jdbc_problem_ = ::segproxy::it::jdbc_tools().problem();  \
    if (!segproxy_jdbc_problem_.empty()) {                                              \
      if (::segproxy::it::env().required) {                                             \
        GTEST_FAIL() << segproxy_jdbc_problem_ << " (SEGPROXY_REQUIRE_INTEGRATION=1)";   \
      } else {                                                                          \
        GTEST_SKIP() << segproxy_jdbc_problem_;                                         \
      }                                                                                 \
    }                                                                                   \
  } while (0)
