// SCRAM-SHA-256-PLUS (issue 12 item 4.3): with channel binding the gs2 header names
// tls-server-end-point and the client-final message carries header + binding data, so
// the proof is bound to the backend certificate the proxy saw.
#include <gtest/gtest.h>

#include "protocols/pg/scram_client.hpp"

namespace segproxy::protocols::pg {
namespace {

constexpr const char* kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
// RFC 7677's client-final without channel binding.
constexpr const char* kUnboundProof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

TEST(PgScramPlus, ChannelBindingDataIsSentInTheGs2HeaderAndBindsTheProof) {
  const std::string cert_hash(32, '\x5a');
  ScramSha256Client c("", "pencil", kClientNonce, ChannelBinding{"tls-server-end-point", cert_hash});
  EXPECT_EQ(c.client_first_message(), "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO");
  const auto step = c.handle_server_first(kServerFirst);
  ASSERT_TRUE(step.ok) << step.error;
  const std::string expected_c = "c=" + base64_encode("p=tls-server-end-point,," + cert_hash) + ",";
  EXPECT_EQ(step.message.substr(0, expected_c.size()), expected_c) << step.message;
  EXPECT_EQ(step.message.find(kUnboundProof), std::string::npos) << "the binding must enter the proof";
}

TEST(PgScramPlus, DifferentCertificateHashesGiveDifferentProofs) {
  ScramSha256Client a("", "pencil", kClientNonce, ChannelBinding{"tls-server-end-point", std::string(32, 'a')});
  ScramSha256Client b("", "pencil", kClientNonce, ChannelBinding{"tls-server-end-point", std::string(32, 'b')});
  const auto sa = a.handle_server_first(kServerFirst);
  const auto sb = b.handle_server_first(kServerFirst);
  ASSERT_TRUE(sa.ok && sb.ok);
  EXPECT_NE(sa.message.substr(sa.message.find(",p=")), sb.message.substr(sb.message.find(",p=")));
}

TEST(PgScramPlus, EmptyBindingDataMeansNoChannelBinding) {
  ScramSha256Client c("", "pencil", kClientNonce, ChannelBinding{"tls-server-end-point", ""});
  EXPECT_EQ(c.client_first_message().substr(0, 3), "n,,");
}

}  // namespace
}  // namespace segproxy::protocols::pg
