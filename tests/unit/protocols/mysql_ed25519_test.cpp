// Ed25519 with an expanded secret (MariaDB client_ed25519): checked against RFC 8032's
// first test vector, against OpenSSL's own Ed25519 for seed-derived secrets, and against
// the public key a real MariaDB 10.11 stored for `IDENTIFIED VIA ed25519 USING
// PASSWORD('secret')`.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "protocols/mysql/auth.hpp"
#include "protocols/mysql/ed25519.hpp"
#include "protocols/mysql/handshake.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::from_hex;
using test::to_hex;

std::array<std::uint8_t, 64> sha512(const Bytes& in) {
  std::array<std::uint8_t, 64> h{};
  unsigned int n = 0;
  EVP_Digest(in.data(), in.size(), h.data(), &n, EVP_sha512(), nullptr);
  return h;
}

Bytes to_bytes(std::span<const std::uint8_t> s) { return Bytes(s.begin(), s.end()); }

TEST(MysqlEd25519, Rfc8032TestVector1) {
  const auto h = sha512(from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  const auto pub = ed25519_public_key_expanded(h);
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(to_hex(to_bytes(*pub)), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const auto sig = ed25519_sign_expanded(h, {});
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(to_hex(to_bytes(*sig)),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(MysqlEd25519, MatchesOpenSslForSeedDerivedSecrets) {
  for (int i = 0; i < 8; ++i) {
    Bytes seed(32), msg(static_cast<std::size_t>(i * 13));
    RAND_bytes(seed.data(), static_cast<int>(seed.size()));
    if (!msg.empty()) RAND_bytes(msg.data(), static_cast<int>(msg.size()));
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()), EVP_PKEY_free);
    ASSERT_TRUE(key);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()), 1);
    Bytes expected(64);
    std::size_t n = expected.size();
    ASSERT_EQ(EVP_DigestSign(ctx.get(), expected.data(), &n, msg.data(), msg.size()), 1);
    Bytes expected_pub(32);
    n = 32;
    ASSERT_EQ(EVP_PKEY_get_raw_public_key(key.get(), expected_pub.data(), &n), 1);

    const auto h = sha512(seed);
    const auto sig = ed25519_sign_expanded(h, msg);
    ASSERT_TRUE(sig.has_value());
    EXPECT_EQ(to_bytes(*sig), expected) << i;
    EXPECT_EQ(to_bytes(*ed25519_public_key_expanded(h)), expected_pub) << i;
  }
}

std::string base64_unpadded(const Ed25519PublicKey& k) {
  unsigned char out[64] = {};
  const int n = EVP_EncodeBlock(out, k.data(), static_cast<int>(k.size()));
  std::string s(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

TEST(MysqlEd25519, PublicKeyMatchesMariadbAuthenticationString) {
  const auto pub = client_ed25519_public_key("secret");
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(base64_unpadded(*pub), "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY");
}

// Captured from the `mariadb` 10.11 CLI (libmariadb's client_ed25519) logging in with
// password "secret" to a real MariaDB 10.11: the server's AuthSwitchRequest payload and
// the client's answer. Ed25519 is deterministic, so ours must be identical.
TEST(MysqlEd25519, ResponseMatchesRealMariadbClient) {
  const Bytes switch_payload = from_hex(
      "fe636c69656e745f65643235353139005ec4f3010f5b354bab9cdb61fb7f2f323b4b78117179fcea90a327f1fd66e252");
  const auto reply = decode_auth_reply(switch_payload, CLIENT_PROTOCOL_41);
  ASSERT_EQ(reply.status, DecodeStatus::Ok) << reply.error;
  AuthClient c("secret", "mysql_native_password", Bytes(20, 1), false);
  c.initial_response();
  const auto a = c.on_reply(reply.value);
  ASSERT_EQ(a.kind, AuthAction::Kind::Send) << a.error;
  EXPECT_EQ(to_hex(a.payload),
            "66c20e4cc36f612193bf57ca7ebc417e06e244c78ee31524b55f23da4892322d26962261ff6a032932f19d18717a027d68d10c57bcd83af0784e8af51dccd70c");
}

TEST(MysqlEd25519, AuthSwitchToClientEd25519SignsTheNonce) {
  Bytes nonce(32);
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(i * 5);
  nonce.back() = 0;  // a nonce may end with a zero byte: it must not be stripped
  AuthClient c("secret", "mysql_native_password", Bytes(20, 1), false);
  c.initial_response();
  const auto a = c.on_reply(AuthReply{AuthSwitchRequest{"client_ed25519", nonce}});
  ASSERT_EQ(a.kind, AuthAction::Kind::Send) << a.error;
  ASSERT_EQ(a.payload.size(), 64u);

  const auto pub = client_ed25519_public_key("secret");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub->data(), pub->size()), EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), a.payload.data(), a.payload.size(), nonce.data(), nonce.size()), 1);
}

}  // namespace
}  // namespace segproxy::protocols::mysql
