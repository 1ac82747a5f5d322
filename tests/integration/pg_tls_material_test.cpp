// TLS material the operator has to watch: the daemon's segproxy_crl_next_update_seconds
// gauge (issue 19: the CRL close to expiry alert) and `segproxyctl config check`, which
// reads certificates, keys and CRLs itself (tls/material_check) without linking the daemon
// (issue 13). docs/deploy.md "Alerts", docs/using.md.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/admin_fixture.hpp"
#include "support/cert_factory.hpp"
#include "support/metrics_scrape.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;
constexpr const char* kCrlSeries = "segproxy_crl_next_update_seconds{listener=\"pg-main\"}";
constexpr double kDay = 86400;

// The CRL a listener loaded: the gauge counts down to its nextUpdate (2 days out, less the
// few seconds since it was made), and a reload with a fresher CRL moves it (5 days).
TEST_F(AdminTest, CrlNextUpdateGaugeShowsTheSecondsToTheLoadedCrlsNextUpdateAndFollowsAReload) {
  const std::string ca_dir = dir_ + "/ca";
  const std::string crl = dir_ + "/ca.crl";
  make_crl(ca_dir, env().pki_file("ca.crt"), env().pki_file("ca.key"), crl, 2);
  ProxyConfigOptions opts;
  opts.listener_tls_extra = ", crl: \"" + crl + "\"";
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy(opts));
  const std::string m = body_of(http_get(metrics_port_, "/metrics"));
  const double before = sample(m, kCrlSeries);
  EXPECT_GT(before, 2 * kDay - 600) << m;
  EXPECT_LE(before, 2 * kDay) << m;

  make_crl(ca_dir, env().pki_file("ca.crt"), env().pki_file("ca.key"), crl, 5);
  ASSERT_EQ(ctl({"reload"}).exit_code, 0);
  const std::string after = body_of(http_get(metrics_port_, "/metrics"));
  EXPECT_GT(sample(after, kCrlSeries), 5 * kDay - 600) << after;
  EXPECT_LE(sample(after, kCrlSeries), 5 * kDay) << after;
}

TEST_F(AdminTest, CrlNextUpdateGaugeHasNoSampleForAListenerWithoutACrl) {
  ASSERT_NO_FATAL_FAILURE(StartAdminProxy());
  const std::string m = body_of(http_get(metrics_port_, "/metrics"));
  EXPECT_NE(m.find("# TYPE segproxy_crl_next_update_seconds gauge"), std::string::npos) << m;
  EXPECT_EQ(m.find("segproxy_crl_next_update_seconds{"), std::string::npos) << m;
}

class CtlConfigCheck : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }
  // Writes the usual config, with the listener's certificate and key replaced when given.
  std::string WriteConfig(const ProxyConfigOptions& opts, const std::string& cert = "", const std::string& key = "") {
    std::string yaml = render_config(free_port(), opts);
    if (!cert.empty()) replace(yaml, env().pki_file("server.crt"), cert);
    if (!key.empty()) replace(yaml, env().pki_file("server.key"), key);
    const std::string path = dir_ + "/check.yaml";
    write_file(path, yaml);
    return path;
  }
  static void replace(std::string& s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
  }
  static ProcResult Check(const std::string& path) {
    return run_process({env().segproxyctl_bin, "config", "check", path}, 30s);
  }
};

TEST_F(CtlConfigCheck, ValidConfigPassesAndACrlNearItsNextUpdateIsAWarning) {
  const std::string crl = dir_ + "/ca.crl";
  make_crl(dir_ + "/ca", env().pki_file("ca.crt"), env().pki_file("ca.key"), crl, 2);
  ProxyConfigOptions opts;
  opts.listener_tls_extra = ", crl: \"" + crl + "\"";
  const ProcResult r = Check(WriteConfig(opts));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("is valid: 1 listener(s)"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("CRL " + crl + ": nextUpdate"), std::string::npos) << r.describe();
}

TEST_F(CtlConfigCheck, KeyThatDoesNotMatchTheCertificateIsAnError) {
  const ProcResult r = Check(WriteConfig({}, "", env().pki_file("client-spiffe.key")));
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("listener pg-main: key " + env().pki_file("client-spiffe.key") + " does not match certificate"),
            std::string::npos)
      << r.describe();
}

TEST_F(CtlConfigCheck, ExpiredServerCertificateIsAnError) {
  const std::string cert = make_server_cert_valid_between(dir_ + "/ca", "expired", env().pki_file("ca.crt"),
                                                          env().pki_file("ca.key"), "20200101000000Z", "20200102000000Z");
  const ProcResult r = Check(WriteConfig({}, cert, dir_ + "/ca/expired.key"));
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("certificate " + cert + " expired at 2020-01-02T00:00:00Z"), std::string::npos) << r.describe();
}

// A client_ca file that exists (so validation passes) but holds no certificate, and a
// CRL file that holds no CRL: what only reading the material finds.
TEST_F(CtlConfigCheck, ClientCaWithoutACertificateAndCrlWithoutACrlAreErrors) {
  ProxyConfigOptions opts;
  opts.client_ca = dir_ + "/not-a-ca.crt";
  write_file(opts.client_ca, "not a certificate\n");
  const std::string crl = dir_ + "/not-a.crl";
  write_file(crl, "not a CRL\n");
  opts.listener_tls_extra = ", crl: \"" + crl + "\"";
  const ProcResult r = Check(WriteConfig(opts));
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("listener pg-main: client_ca " + opts.client_ca + ": unreadable or no certificate in it"),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find("no CRL (\"-----BEGIN X509 CRL-----\") found in " + crl), std::string::npos) << r.describe();
}

TEST_F(CtlConfigCheck, UnknownKeyIsReportedWithFileAndLine) {
  const std::string path = dir_ + "/broken.yaml";
  write_file(path, render_config(free_port(), {}) + "frobnicate: 1\n");
  const ProcResult r = Check(path);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find(path + ":"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace segproxy::it
