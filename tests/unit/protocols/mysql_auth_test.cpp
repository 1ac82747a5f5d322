// Authentication: published scramble vectors (driver test suites), RSA-OAEP full
// authentication, and the AuthClient login state machine.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>

#include "protocols/mysql/auth.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::from_hex;
using test::to_hex;

// Published vectors. mysql_native_password: vertx-mysql-client
// Native41AuthenticatorTest (password "password") and go-sql-driver/mysql auth_test.go
// TestAuthFastNativePassword (password "secret"). caching_sha2_password: go-sql-driver
// TestScrambleSHA256Pass and TestAuthFastCachingSHA256PasswordCached.
TEST(MysqlAuth, NativePasswordScrambleMatchesPublishedVector) {
  EXPECT_EQ(to_hex(native_password_scramble(
                "password", from_hex("18 38 55 7e 3a 77 65 35 34 1f 44 4a 36 60 5d 79 5c 09 6c 08"))),
            "f2671df1862aed0340be809405b30bb93d29142d");
  EXPECT_EQ(to_hex(native_password_scramble(
                "password", from_hex("42 0f 34 68 6f 77 67 18 14 57 3d 04 39 70 1f 46 58 51 49 31"))),
            "cc93fb6f68af2e9446dafc0a1667d015b0a49550");
  const Bytes go_scramble{70, 114, 92, 94, 1, 38, 11, 116, 63, 114, 23, 101, 126, 103, 26, 95, 81, 17, 24, 21};
  const Bytes go_expected{53, 177, 140, 159, 251, 189, 127, 53, 109, 252, 172, 50, 211, 192, 240, 164, 26, 48, 207, 45};
  EXPECT_EQ(native_password_scramble("secret", go_scramble), go_expected);
}

TEST(MysqlAuth, CachingSha2ScrambleMatchesPublishedVector) {
  const Bytes scramble{10, 47, 74, 111, 75, 73, 34, 48, 88, 76, 114, 74, 37, 13, 3, 80, 82, 2, 23, 21};
  EXPECT_EQ(to_hex(caching_sha2_scramble("secret", scramble)),
            "f490e76f66d9d86665ce54d98c78d0acfe2fb0b08b423da807144873d30b312c");
  EXPECT_EQ(to_hex(caching_sha2_scramble("secret2", scramble)),
            "abc3934a012cf342e876071c8ee202de51785b430258a7a0138bc79c4d800bc6");
  const Bytes cached_scramble{90, 105, 74, 126, 30, 48, 37, 56, 3, 23, 115, 127, 69, 22, 41, 84, 32, 123, 43, 118};
  const Bytes cached_expected{102, 32, 5, 35, 143, 161, 140, 241, 171, 232, 56, 139, 43, 14, 107, 196,
                              249, 170, 147, 60, 220, 204, 120, 178, 214, 15, 184, 150, 26, 61, 57, 235};
  EXPECT_EQ(caching_sha2_scramble("secret", cached_scramble), cached_expected);
}

TEST(MysqlAuth, EmptyPasswordGivesEmptyScrambles) {
  const Bytes s(20, 1);
  EXPECT_TRUE(native_password_scramble("", s).empty());
  EXPECT_TRUE(caching_sha2_scramble("", s).empty());
  EXPECT_EQ(cleartext_password(""), Bytes{0});
}

TEST(MysqlAuth, GeneratedScrambleIsTwentySevenBitBytesWithoutNulOrDollar) {
  const Bytes a = generate_scramble();
  const Bytes b = generate_scramble();
  ASSERT_EQ(a.size(), 20u);
  EXPECT_NE(a, b);
  for (auto c : a) {
    EXPECT_LT(c, 0x80);
    EXPECT_NE(c, 0);
    EXPECT_NE(c, '$');
  }
}

// ---- RSA full authentication ----

struct KeyPair {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::string public_pem;
};

KeyPair make_key() {
  KeyPair k;
  k.key.reset(EVP_RSA_gen(2048));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), k.key.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  k.public_pem.assign(data, static_cast<std::size_t>(n));
  return k;
}

Bytes rsa_decrypt(EVP_PKEY* key, const Bytes& in) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY_decrypt_init(ctx.get());
  EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
  std::size_t n = 0;
  EVP_PKEY_decrypt(ctx.get(), nullptr, &n, in.data(), in.size());
  Bytes out(n);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &n, in.data(), in.size()) != 1) return {};
  out.resize(n);
  return out;
}

TEST(MysqlAuth, RsaFullAuthEncryptsPasswordNulXorScrambleWithOaep) {
  const KeyPair k = make_key();
  const Bytes scramble{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  const std::string password = "a-password-longer-than-twenty-bytes";
  std::string error;
  const auto enc = rsa_encrypt_password(password, scramble, k.public_pem, error);
  ASSERT_TRUE(enc.has_value()) << error;
  EXPECT_EQ(enc->size(), 256u);
  const Bytes plain = rsa_decrypt(k.key.get(), *enc);
  ASSERT_EQ(plain.size(), password.size() + 1);
  for (std::size_t i = 0; i < plain.size(); ++i) {
    const std::uint8_t expected = i < password.size() ? static_cast<std::uint8_t>(password[i]) : 0;
    EXPECT_EQ(plain[i] ^ scramble[i % scramble.size()], expected) << i;
  }
}

TEST(MysqlAuth, PublishedServerPublicKeyParses) {
  // The RSA public key served in go-sql-driver/mysql auth_test.go (serverPubKey).
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3HsxS5P/HaXPvm3m2ADn\n"
      "bu6GQfpSGo7h2gh81pmaxkCnDCwf6mmeH7LKhsnYnN4Q0cz1QE/bhdPu6js+VaY4\n"
      "CcMubPN1gOKaYvNcgEWptICi2XTttB7uh+vCMjLvjAMd6/DmxdbUB0zPGqDOgiLD\n"
      "KROO5qd7shb71R/XJEFvLxGXEF0ZthHeNo9fEvxFQomb1kZ9J8nBwte5SF5YlqV2\n"
      "BB5qlaz+3QSNvmC1iWfljXbY5k3/a6mkM/LaWhauN5PR3sCx5Uu1MfdsVik5fXMM\n"
      "dxkfF+X3chkAnwI3Fuww2WGmWOGbKtmIeUm3bIRmdFUqalQiFhqeZ2ikjhgVI9pL\n"
      "wQIDAQAB\n-----END PUBLIC KEY-----\n";
  std::string error;
  const auto enc = rsa_encrypt_password("secret", Bytes(20, 7), pem, error);
  ASSERT_TRUE(enc.has_value()) << error;
  EXPECT_EQ(enc->size(), 256u);
}

TEST(MysqlAuth, GarbageKeyAndOverlongPasswordAreErrors) {
  std::string error;
  EXPECT_FALSE(rsa_encrypt_password("x", Bytes(20, 1), "not a key", error).has_value());
  EXPECT_FALSE(error.empty());
  const KeyPair k = make_key();
  error.clear();
  EXPECT_FALSE(rsa_encrypt_password(std::string(300, 'p'), Bytes(20, 1), k.public_pem, error).has_value());
  EXPECT_FALSE(error.empty());
}

// ---- AuthClient ----

const Bytes kScramble{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

OkPacket ok_packet() {
  OkPacket ok;
  ok.status = 2;
  return ok;
}

TEST(MysqlAuthClient, NativePasswordLoginIsOneRoundTrip) {
  AuthClient c("secret", "mysql_native_password", kScramble, false);
  EXPECT_EQ(c.initial_response(), native_password_scramble("secret", kScramble));
  const auto a = c.on_reply(AuthReply{ok_packet()});
  EXPECT_EQ(a.kind, AuthAction::Kind::Done);
  EXPECT_EQ(a.ok.status, 2);
}

TEST(MysqlAuthClient, CachingSha2FastAuthWaitsForOk) {
  AuthClient c("secret", "caching_sha2_password", kScramble, false);
  EXPECT_EQ(c.initial_response(), caching_sha2_scramble("secret", kScramble));
  EXPECT_EQ(c.on_reply(AuthReply{AuthMoreData{{kCachingSha2FastAuthOk}}}).kind, AuthAction::Kind::Wait);
  EXPECT_EQ(c.on_reply(AuthReply{ok_packet()}).kind, AuthAction::Kind::Done);
}

TEST(MysqlAuthClient, CachingSha2FullAuthOverTlsSendsClearPassword) {
  AuthClient c("secret", "caching_sha2_password", kScramble, true);
  c.initial_response();
  const auto a = c.on_reply(AuthReply{AuthMoreData{{kCachingSha2PerformFullAuth}}});
  ASSERT_EQ(a.kind, AuthAction::Kind::Send);
  EXPECT_EQ(a.payload, cleartext_password("secret"));
}

TEST(MysqlAuthClient, CachingSha2FullAuthWithoutTlsRequestsKeyThenEncrypts) {
  const KeyPair k = make_key();
  AuthClient c("secret", "caching_sha2_password", kScramble, false);
  c.initial_response();
  const auto req = c.on_reply(AuthReply{AuthMoreData{{kCachingSha2PerformFullAuth}}});
  ASSERT_EQ(req.kind, AuthAction::Kind::Send);
  EXPECT_EQ(req.payload, Bytes{kCachingSha2RequestPublicKey});
  const auto enc = c.on_reply(AuthReply{AuthMoreData{Bytes(k.public_pem.begin(), k.public_pem.end())}});
  ASSERT_EQ(enc.kind, AuthAction::Kind::Send) << enc.error;
  const Bytes plain = rsa_decrypt(k.key.get(), enc.payload);
  ASSERT_EQ(plain.size(), 7u);
  EXPECT_EQ(plain[0] ^ kScramble[0], 's');
  EXPECT_EQ(plain[6] ^ kScramble[6], 0);
  EXPECT_EQ(c.on_reply(AuthReply{ok_packet()}).kind, AuthAction::Kind::Done);
}

TEST(MysqlAuthClient, Sha256PasswordSendsClearOverTlsElseRequestsTheKey) {
  AuthClient tls("secret", "sha256_password", kScramble, true);
  EXPECT_EQ(tls.initial_response(), cleartext_password("secret"));
  const KeyPair k = make_key();
  AuthClient plain("secret", "sha256_password", kScramble, false);
  EXPECT_EQ(plain.initial_response(), Bytes{kSha256RequestPublicKey});
  const auto enc = plain.on_reply(AuthReply{AuthMoreData{Bytes(k.public_pem.begin(), k.public_pem.end())}});
  ASSERT_EQ(enc.kind, AuthAction::Kind::Send) << enc.error;
  EXPECT_EQ(rsa_decrypt(k.key.get(), enc.payload).size(), 7u);
  AuthClient configured("secret", "sha256_password", kScramble, false, k.public_pem);
  EXPECT_EQ(rsa_decrypt(k.key.get(), configured.initial_response()).size(), 7u);
  EXPECT_EQ(configured.on_reply(AuthReply{ok_packet()}).kind, AuthAction::Kind::Done);
}

TEST(MysqlAuthClient, AuthSwitchToNativeUsesTheNewScramble) {
  AuthClient c("secret", "caching_sha2_password", kScramble, false);
  c.initial_response();
  Bytes data(20, 9);
  data.push_back(0);
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"mysql_native_password", data}});
  ASSERT_EQ(a.kind, AuthAction::Kind::Send);
  EXPECT_EQ(a.payload, native_password_scramble("secret", Bytes(20, 9)));
  EXPECT_EQ(c.plugin(), "mysql_native_password");
  EXPECT_EQ(c.on_reply(AuthReply{AuthSwitchRequest{"mysql_native_password", data}}).kind, AuthAction::Kind::Fail);
}

TEST(MysqlAuthClient, UnsupportedPluginsFailWithAClearError) {
  AuthClient c("secret", "mysql_native_password", kScramble, false);
  c.initial_response();
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"auth_gssapi_client", Bytes(32, 1)}});
  EXPECT_EQ(a.kind, AuthAction::Kind::Fail);
  EXPECT_NE(a.error.find("auth_gssapi_client"), std::string::npos);
  AuthClient clear("secret", "mysql_native_password", kScramble, false);
  clear.initial_response();
  EXPECT_EQ(clear.on_reply(AuthReply{AuthSwitchRequest{"mysql_clear_password", {}}}).kind, AuthAction::Kind::Fail);
}

TEST(MysqlAuthClient, ErrReplyFailsWithTheBackendError) {
  AuthClient c("bad", "mysql_native_password", kScramble, false);
  c.initial_response();
  const auto a = c.on_reply(AuthReply{ErrPacket{1045, "28000", "Access denied"}});
  EXPECT_EQ(a.kind, AuthAction::Kind::Fail);
  ASSERT_TRUE(a.err.has_value());
  EXPECT_EQ(a.err->code, 1045);
}

TEST(MysqlAuthClient, UnknownGreetingPluginFallsBackToNative) {
  AuthClient c("secret", "auth_gssapi_client", kScramble, false);
  EXPECT_EQ(c.initial_response(), native_password_scramble("secret", kScramble));
  EXPECT_EQ(c.plugin(), "mysql_native_password");
}

}  // namespace
}  // namespace segproxy::protocols::mysql
