// Client certificate identity (issue 12 item 4.2): a certificate whose mappable field is
// ambiguous (two subject CNs, two SPIFFE URI SANs) is refused with FATAL 28000, and the
// accepted chain depth is explicit: by default a client certificate must be issued
// directly by a CA in client_ca (a client-sent intermediate fails the handshake);
// tls.verify_depth allows intermediates. Certificates are made with the openssl CLI
// from the environment's CA.
#include <gtest/gtest.h>

#include "support/cert_factory.hpp"
#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

class CertIdentity : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }

  std::string MakeCert(const std::string& name, const std::string& subject, const std::string& ext,
                       const std::string& issuer_crt, const std::string& issuer_key) {
    return make_client_cert(dir_, name, subject, ext, issuer_crt, issuer_key);
  }
  std::string Ca(const std::string& f) const { return env().pki + "/" + f; }

  PgConnPtr ConnectWith(const std::string& cert, const std::string& key) const {
    const std::string ci = "host=localhost port=" + std::to_string(port_) + " dbname=" + conninfo_quote(env().db) +
                           " user=whatever sslmode=verify-full sslrootcert=" + conninfo_quote(Ca("ca.crt")) +
                           " sslcert=" + conninfo_quote(cert) + " sslkey=" + conninfo_quote(key) +
                           " connect_timeout=15";
    return pg_connect(ci);
  }
};

constexpr const char* kLeafExt = kClientLeafExt;

TEST_F(CertIdentity, CertificateWithTwoCommonNamesIsRefusedAsAmbiguous) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  // The last CN is the mapped one (reporting-job): it used to be taken and the first ignored.
  const std::string crt = MakeCert("two-cn", "/CN=postgres/CN=reporting-job", kLeafExt, Ca("ca.crt"), Ca("ca.key"));
  PgConnPtr conn = ConnectWith(crt, dir_ + "/two-cn.key");
  ASSERT_NE(PQstatus(conn.get()), CONNECTION_OK) << "a certificate with two CNs was accepted";
  const std::string msg = PQerrorMessage(conn.get());
  EXPECT_NE(msg.find("several subject CN attributes"), std::string::npos) << msg;
  EXPECT_NE(proxy_.log().find("ambiguous certificate identity"), std::string::npos);
  // One CN still works.
  PgConnPtr ok = Connect(ClientCert::Cn);
  ASSERT_PG_CONNECTED(ok);
}

TEST_F(CertIdentity, CertificateWithTwoSpiffeUrisIsRefusedAsAmbiguous) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  // The first URI maps to billing: it used to win.
  const std::string crt =
      MakeCert("two-spiffe", "/CN=two-spiffe",
               std::string(kLeafExt) +
                   "subjectAltName=URI:spiffe://example.org/ns/billing/sa/api,URI:spiffe://example.org/ns/other/sa/x\n",
               Ca("ca.crt"), Ca("ca.key"));
  PgConnPtr conn = ConnectWith(crt, dir_ + "/two-spiffe.key");
  ASSERT_NE(PQstatus(conn.get()), CONNECTION_OK) << "a certificate with two SPIFFE ids was accepted";
  const std::string msg = PQerrorMessage(conn.get());
  EXPECT_NE(msg.find("several SPIFFE URI SANs"), std::string::npos) << msg;
}

TEST_F(CertIdentity, ClientSentIntermediateIsRefusedByDefaultAndAcceptedWithVerifyDepth) {
  // A CA without a path length limit (the environment's CA has pathlen:0, which already
  // forbids intermediates), an intermediate CA it signed (not itself in client_ca), and
  // a billing leaf issued by the intermediate; the client sends leaf + intermediate.
  const std::string root = dir_ + "/root";
  const ProcResult made = run_process(
      {"sh", "-c",
       "set -e; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + root + ".key' 2>&1; "
       "openssl req -x509 -new -sha256 -days 2 -key '" + root + ".key' -subj '/CN=segproxy-it-root' "
       "-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' -out '" +
           root + ".crt' 2>&1"},
      30s);
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  const std::string billing_san = "subjectAltName=URI:spiffe://example.org/ns/billing/sa/api\n";
  const std::string inter =
      MakeCert("inter", "/CN=segproxy-it-intermediate",
               "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n", root + ".crt",
               root + ".key");
  const std::string leaf = MakeCert("via-inter", "/CN=via-inter", std::string(kLeafExt) + billing_san, inter,
                                    dir_ + "/inter.key");
  const std::string direct = MakeCert("direct", "/CN=direct", std::string(kLeafExt) + billing_san, root + ".crt",
                                      root + ".key");
  const std::string chain = dir_ + "/via-inter-chain.crt";
  write_file(chain, read_file(leaf) + read_file(inter));

  ProxyConfigOptions opts;
  opts.client_ca = root + ".crt";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr refused = ConnectWith(chain, dir_ + "/via-inter.key");
  EXPECT_NE(PQstatus(refused.get()), CONNECTION_OK) << "a chain through a client-sent intermediate was accepted";
  PgConnPtr ok = ConnectWith(direct, dir_ + "/direct.key");
  ASSERT_PG_CONNECTED(ok);

  proxy_.stop();
  opts.listener_tls_extra = ", verify_depth: 1";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr accepted = ConnectWith(chain, dir_ + "/via-inter.key");
  ASSERT_PG_CONNECTED(accepted);
  EXPECT_EQ(pg_exec(accepted.get(), "select current_user").value, "billing_rw");
}

}  // namespace
}  // namespace segproxy::it
