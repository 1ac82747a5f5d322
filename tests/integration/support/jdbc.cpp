#include "support/jdbc.hpp"

#include <sys/stat.h>

#include <cstdlib>

namespace segproxy::it {
namespace {

#ifndef SEGPROXY_JDBC_JAVA
#define SEGPROXY_JDBC_JAVA ""
#endif
#ifndef SEGPROXY_JDBC_CLASSES
#define SEGPROXY_JDBC_CLASSES ""
#endif
#ifndef SEGPROXY_JDBC_PGJDBC_JAR
#define SEGPROXY_JDBC_PGJDBC_JAR ""
#endif
#ifndef SEGPROXY_JDBC_MARIADB_JAR
#define SEGPROXY_JDBC_MARIADB_JAR ""
#endif

bool is_file(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Each run is one JVM: a short-lived client, so no JIT tiers beyond C1 and a serial GC.
ProcResult run_probe(const std::string& probe, const std::string& jar, const std::string& scenario,
                     const std::string& url) {
  const JdbcTools& t = jdbc_tools();
  const std::string classpath = t.classes + ":" + jar;
  return run_process({t.java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath, probe,
                      scenario, url},
                     std::chrono::seconds(180));
}

std::string convert(const std::string& script) {
  const ProcResult r = run_process({"sh", "-c", script}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  return r.exit_code == 0 ? "ok" : "";
}

}  // namespace

std::string JdbcTools::problem() const {
  if (java.empty() || classes.empty()) {
    return "JDBC tests not built: CMake found no Java development kit (install default-jdk-headless)";
  }
  if (!is_file(pgjdbc_jar)) return "pgjdbc not found at configure time (install libpostgresql-jdbc-java)";
  if (!is_file(mariadb_jar)) return "MariaDB Connector/J not found at configure time (install libmariadb-java)";
  if (!is_file(classes + "/PgJdbcProbe.class") || !is_file(classes + "/MariaJdbcProbe.class")) {
    return "JDBC probes not compiled in " + classes + " (build target jdbc_probes)";
  }
  return {};
}

const JdbcTools& jdbc_tools() {
  static const JdbcTools tools{SEGPROXY_JDBC_JAVA, SEGPROXY_JDBC_CLASSES, SEGPROXY_JDBC_PGJDBC_JAR,
                               SEGPROXY_JDBC_MARIADB_JAR};
  return tools;
}

std::string make_pk8_key(const std::string& dir) {
  const std::string out = dir + "/client-spiffe.pk8";
  const std::string script = "openssl pkcs8 -topk8 -outform DER -nocrypt -in '" +
                             env().pki_file("client-spiffe.key") + "' -out '" + out + "' 2>&1";
  return convert(script).empty() ? "" : out;
}

std::string make_p12_keystore(const std::string& dir) {
  const std::string out = dir + "/client-spiffe.p12";
  const std::string script = "openssl pkcs12 -export -name client -in '" + env().pki_file("client-spiffe.crt") +
                             "' -inkey '" + env().pki_file("client-spiffe.key") + "' -out '" + out +
                             "' -passout pass:" + kJdbcKeyStorePassword + " 2>&1";
  return convert(script).empty() ? "" : out;
}

std::string pgjdbc_url(std::uint16_t port, const std::string& pk8_key, const std::string& extra) {
  const Env& e = env();
  return "jdbc:postgresql://localhost:" + std::to_string(port) + "/" + e.db +
         "?user=whatever&sslmode=verify-full&sslrootcert=" + e.pki_file("ca.crt") +
         "&sslcert=" + e.pki_file("client-spiffe.crt") + "&sslkey=" + pk8_key + "&connectTimeout=15" + extra;
}

std::string connectorj_url(std::uint16_t port, const std::string& p12, const std::string& extra) {
  const Env& e = env();
  std::string url = "jdbc:mariadb://localhost:" + std::to_string(port) + "/" + e.mydb +
                    "?user=whatever&useSsl=true&serverSslCert=" + e.pki_file("ca.crt") + "&keyStore=file:" + p12 +
                    "&keyStorePassword=" + kJdbcKeyStorePassword + "&keyStoreType=PKCS12&connectTimeout=15000" +
                    extra;
  if (const char* dev = std::getenv("SEGPROXY_TEST_CONNECTORJ_EXTRA"); dev != nullptr) url += dev;
  return url;
}

bool probe_has(const ProcResult& r, const std::string& line) { return probe_count(r, line) > 0; }

int probe_count(const ProcResult& r, const std::string& line) {
  int n = 0;
  std::size_t from = 0;
  const std::string out = "\n" + r.out;
  const std::string needle = "\n" + line + "\n";
  while ((from = out.find(needle, from)) != std::string::npos) {
    ++n;
    from += needle.size() - 1;
  }
  return n;
}

long probe_number(const ProcResult& r, const std::string& key) {
  const std::string out = "\n" + r.out;
  const std::size_t at = out.find("\n" + key + " ");
  if (at == std::string::npos) return -1;
  return std::strtol(out.c_str() + at + key.size() + 2, nullptr, 10);
}

void expect_order_rows(const ProcResult& r) {
  EXPECT_PROBE_OK(r);
  EXPECT_TRUE(probe_has(r, "ROW acme 120.50")) << r.describe();
  EXPECT_TRUE(probe_has(r, "ROW globex 75.00")) << r.describe();
  EXPECT_TRUE(probe_has(r, "ROW initech 12.99")) << r.describe();
}

void expect_denied_twice_then_usable(const ProcResult& r, const std::string& denied_line) {
  EXPECT_PROBE_OK(r);
  EXPECT_EQ(r.out.find("NOT_DENIED"), std::string::npos) << r.describe();
  EXPECT_EQ(probe_count(r, denied_line), 2) << r.describe();
  EXPECT_TRUE(probe_has(r, "AFTER acme")) << r.describe();
}

ProcResult run_pgjdbc(const std::string& scenario, const std::string& url) {
  return run_probe("PgJdbcProbe", jdbc_tools().pgjdbc_jar, scenario, url);
}

ProcResult run_connectorj(const std::string& scenario, const std::string& url) {
  return run_probe("MariaJdbcProbe", jdbc_tools().mariadb_jar, scenario, url);
}

}  // namespace segproxy::it
