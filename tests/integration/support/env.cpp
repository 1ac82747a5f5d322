#include "support/env.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace segproxy::it {
namespace {

std::string get(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string(fallback);
}

Env load() {
  Env e;
  e.present = !get("SEGPROXY_TEST_PGPORT").empty();
  e.required = get("SEGPROXY_REQUIRE_INTEGRATION") == "1";
  e.test_dir = get("SEGPROXY_TEST_DIR", "/tmp");
  e.pghost = get("SEGPROXY_TEST_PGHOST", "127.0.0.1");
  e.pgport = get("SEGPROXY_TEST_PGPORT");
  e.pgsockdir = get("SEGPROXY_TEST_PGSOCKDIR");
  e.pgsuperuser = get("SEGPROXY_TEST_PGSUPERUSER", "postgres");
  e.pki = get("SEGPROXY_TEST_PKI");
  e.secrets = get("SEGPROXY_TEST_SECRETS");
  e.db = get("SEGPROXY_TEST_DB", "shop");
  e.my_present = !get("SEGPROXY_TEST_MYPORT").empty();
  e.myhost = get("SEGPROXY_TEST_MYHOST", "127.0.0.1");
  e.myport = get("SEGPROXY_TEST_MYPORT");
  e.mysock = get("SEGPROXY_TEST_MYSOCK");
  e.mysuperuser = get("SEGPROXY_TEST_MYSUPERUSER", "root");
  e.mydb = get("SEGPROXY_TEST_MYDB", "shop");
#ifdef SEGPROXY_IT_DEFAULT_BIN
  e.segproxy_bin = get("SEGPROXY_BIN", SEGPROXY_IT_DEFAULT_BIN);
#else
  e.segproxy_bin = get("SEGPROXY_BIN");
#endif
#ifdef SEGPROXY_IT_DEFAULT_CTL_BIN
  e.segproxyctl_bin = get("SEGPROXYCTL_BIN", SEGPROXY_IT_DEFAULT_CTL_BIN);
#else
  e.segproxyctl_bin = get("SEGPROXYCTL_BIN");
#endif
  return e;
}

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

const Env& env() {
  static const Env e = load();
  return e;
}

std::string Env::superuser_conninfo() const {
  const std::string host = pgsockdir.empty() ? pghost : pgsockdir;
  return "host=" + host + " port=" + pgport + " dbname=" + db + " user=" + pgsuperuser +
         " sslmode=disable connect_timeout=10";
}

std::string env_problem() {
  const Env& e = env();
  if (!e.present) return "SEGPROXY_TEST_PGPORT unset";
  if (e.pki.empty()) return "SEGPROXY_TEST_PKI unset";
  if (e.secrets.empty()) return "SEGPROXY_TEST_SECRETS unset";
  if (e.segproxy_bin.empty()) return "SEGPROXY_BIN unset";
  if (::access(e.segproxy_bin.c_str(), X_OK) != 0) {
    return "SEGPROXY_BIN=" + e.segproxy_bin + " is not an executable file";
  }
  for (const char* f : {"ca.crt", "server.crt", "server.key", "client-spiffe.crt",
                        "client-spiffe.key", "client-cn.crt", "client-cn.key"}) {
    if (!is_file(e.pki_file(f))) return "missing " + e.pki_file(f);
  }
  return {};
}

std::string mysql_env_problem() {
  const Env& e = env();
  if (!e.my_present) return "SEGPROXY_TEST_MYPORT unset";
  if (e.pki.empty()) return "SEGPROXY_TEST_PKI unset";
  if (e.secrets.empty()) return "SEGPROXY_TEST_SECRETS unset";
  for (const char* f : {"ca.crt", "client-spiffe.crt", "client-spiffe.key", "client-cn.crt",
                        "client-cn.key"}) {
    if (!is_file(e.pki_file(f))) return "missing " + e.pki_file(f);
  }
  if (::access(e.my_secret_file("billing_rw").c_str(), R_OK) != 0) {
    return "missing " + e.my_secret_file("billing_rw");
  }
  struct stat st {};
  if (!e.mysock.empty() && (::stat(e.mysock.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))) {
    return "SEGPROXY_TEST_MYSOCK=" + e.mysock + " is not a socket (is MariaDB running?)";
  }
  return {};
}

}  // namespace segproxy::it
