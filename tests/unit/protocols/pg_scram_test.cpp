// SCRAM-SHA-256 client against RFC 7677's test vector, its refusals, MD5 and base64.
#include <gtest/gtest.h>

#include "protocols/pg/scram_client.hpp"

namespace segproxy::protocols::pg {
namespace {

constexpr const char* kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr const char* kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char* kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

TEST(PgScram, Rfc7677TestVectorProducesTheExpectedMessages) {
  ScramSha256Client c("user", "pencil", kClientNonce);
  EXPECT_EQ(c.client_first_message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  const auto step = c.handle_server_first(kServerFirst);
  ASSERT_TRUE(step.ok) << step.error;
  EXPECT_EQ(step.message, kClientFinal);
  const auto fin = c.verify_server_final(kServerFinal);
  EXPECT_TRUE(fin.ok) << fin.error;
  EXPECT_TRUE(fin.message.empty());
}

TEST(PgScram, WrongServerSignatureIsRejected) {
  ScramSha256Client c("user", "pencil", kClientNonce);
  ASSERT_TRUE(c.handle_server_first(kServerFirst).ok);
  const auto fin = c.verify_server_final("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  EXPECT_FALSE(fin.ok);
  EXPECT_FALSE(fin.error.empty());
  EXPECT_FALSE(c.verify_server_final("v=AAAA").ok);       // wrong length
  EXPECT_FALSE(c.verify_server_final("v=!!!!").ok);       // not base64
  EXPECT_FALSE(c.verify_server_final("").ok);
}

TEST(PgScram, WrongPasswordGivesADifferentProofAndFailsVerification) {
  ScramSha256Client c("user", "pencil2", kClientNonce);
  const auto step = c.handle_server_first(kServerFirst);
  ASSERT_TRUE(step.ok);
  EXPECT_NE(step.message, kClientFinal);
  EXPECT_FALSE(c.verify_server_final(kServerFinal).ok);
}

TEST(PgScram, ServerNonceMustStrictlyExtendTheClientNonce) {
  const std::vector<std::string> bad = {
      "r=XOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // not extended
      "r=rOprNGfw,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",  // wrong order
  };
  for (const auto& msg : bad) {
    ScramSha256Client c("user", "pencil", kClientNonce);
    const auto step = c.handle_server_first(msg);
    EXPECT_FALSE(step.ok) << msg;
    EXPECT_TRUE(step.message.empty());
    EXPECT_FALSE(step.error.empty());
  }
}

TEST(PgScram, IterationCountOutsideOneToTenMillionIsRejected) {
  for (const char* i : {"0", "10000001", "99999999999999999999", "-1", "", "4096x", "0100"}) {
    ScramSha256Client c("user", "pencil", kClientNonce);
    const std::string msg = std::string("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=") + i;
    EXPECT_FALSE(c.handle_server_first(msg).ok) << i;
  }
  ScramSha256Client one("user", "pencil", kClientNonce);
  EXPECT_TRUE(one.handle_server_first("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1").ok);
}

TEST(PgScram, InvalidSaltIsRejected) {
  for (const char* s : {"", "W22ZaJ0SNY7soEsUEjb6gQ=", "W22Z!J0SNY7soEsUEjb6gQ==", "===="}) {
    ScramSha256Client c("user", "pencil", kClientNonce);
    const std::string msg = std::string("r=rOprNGfwEbeRWgbNEkqOabc,s=") + s + ",i=4096";
    EXPECT_FALSE(c.handle_server_first(msg).ok) << s;
  }
}

TEST(PgScram, ServerErrorsAreReportedAsErrors) {
  ScramSha256Client c("user", "pencil", kClientNonce);
  const auto first = c.handle_server_first("e=other-error");
  EXPECT_FALSE(first.ok);
  EXPECT_NE(first.error.find("other-error"), std::string::npos);

  ScramSha256Client d("user", "pencil", kClientNonce);
  ASSERT_TRUE(d.handle_server_first(kServerFirst).ok);
  const auto fin = d.verify_server_final("e=invalid-proof");
  EXPECT_FALSE(fin.ok);
  EXPECT_NE(fin.error.find("invalid-proof"), std::string::npos);
}

TEST(PgScram, OutOfOrderStepsAreRejected) {
  ScramSha256Client c("user", "pencil", kClientNonce);
  EXPECT_FALSE(c.verify_server_final(kServerFinal).ok);
  ASSERT_TRUE(c.handle_server_first(kServerFirst).ok);
  EXPECT_FALSE(c.handle_server_first(kServerFirst).ok);
}

TEST(PgScram, UserNameIsEscapedInClientFirst) {
  ScramSha256Client c("a,b=c", "x", "nonce");
  EXPECT_EQ(c.client_first_message(), "n,,n=a=2Cb=3Dc,r=nonce");
  ScramSha256Client empty("", "x", "nonce");
  EXPECT_EQ(empty.client_first_message(), "n,,n=,r=nonce");
}

TEST(PgMd5, ResponseMatchesAnIndependentlyComputedValue) {
  // python3: "md5" + md5(md5(b"secret"+b"postgres").hexdigest().encode() + b"\x01\x02\x03\x04").hexdigest()
  EXPECT_EQ(md5_password_response("postgres", "secret", std::string("\x01\x02\x03\x04", 4)),
            "md5bb41a296aab6baccb36ff243a562abff");
  EXPECT_EQ(md5_password_response("user", "pencil", "\xde\xad\xbe\xef"), "md50f5b636d891e9860623ac8ca91fc9dfc");
}

TEST(PgBase64, RoundTripsAndRejectsNonCanonicalText) {
  for (std::string raw : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                          std::string("foob"), std::string("\0\xff\x10", 3)}) {
    std::string back;
    ASSERT_TRUE(base64_decode(base64_encode(raw), back));
    EXPECT_EQ(back, raw);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  std::string out;
  EXPECT_FALSE(base64_decode("Zm9", out));
  EXPECT_FALSE(base64_decode("Zm=v", out));
  EXPECT_FALSE(base64_decode("Zm9v====", out));
  EXPECT_FALSE(base64_decode("Zh==", out));  // non-zero unused bits
  EXPECT_FALSE(base64_decode("Zm 9v", out));
}

}  // namespace
}  // namespace segproxy::protocols::pg
