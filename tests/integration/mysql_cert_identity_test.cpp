// Client certificate identity on MySQL listeners (issue 12 item 4.2): a certificate
// whose mappable identity is ambiguous is refused with ERR 1045 (Connector/C++).
#include <gtest/gtest.h>

#include "support/cert_factory.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

class MysqlCertIdentity : public MysqlProxyTest {};

TEST_F(MysqlCertIdentity, CertificateWithTwoSpiffeUrisIsRefusedWith1045) {
  // The first URI maps to billing: it used to win.
  const std::string crt = make_client_cert(
      dir_, "two-spiffe", "/CN=two-spiffe",
      std::string(kClientLeafExt) +
          "subjectAltName=URI:spiffe://example.org/ns/billing/sa/api,URI:spiffe://example.org/ns/other/sa/x\n",
      env().pki_file("ca.crt"), env().pki_file("ca.key"));
  MyTarget t = Target(ClientCert::Spiffe);
  t.tls.cert = crt;
  t.tls.key = dir_ + "/two-spiffe.key";
  MyError err;
  EXPECT_FALSE(mysql_connect(t, &err)) << "a certificate with two SPIFFE ids was accepted";
  EXPECT_EQ(err.code, 1045) << err.describe();
  EXPECT_NE(err.message.find("several SPIFFE URI SANs"), std::string::npos) << err.describe();
  MyError ok_err;
  EXPECT_TRUE(Connect(ClientCert::Spiffe, &ok_err)) << ok_err.describe();
}

TEST_F(MysqlCertIdentity, CertificateWithTwoCommonNamesIsRefusedWith1045) {
  const std::string crt = make_client_cert(dir_, "two-cn", "/CN=postgres/CN=reporting-job", kClientLeafExt,
                                           env().pki_file("ca.crt"), env().pki_file("ca.key"));
  MyTarget t = Target(ClientCert::Spiffe);
  t.tls.cert = crt;
  t.tls.key = dir_ + "/two-cn.key";
  MyError err;
  EXPECT_FALSE(mysql_connect(t, &err)) << "a certificate with two CNs was accepted";
  EXPECT_EQ(err.code, 1045) << err.describe();
  EXPECT_NE(err.message.find("several subject CN attributes"), std::string::npos) << err.describe();
}

}  // namespace
}  // namespace segproxy::it
