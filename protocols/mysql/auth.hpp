#pragma once
// Authentication plugins, client side (the proxy logging in to a backend), libcrypto only:
//  - mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))
//  - caching_sha2_password: fast path XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + scramble));
//    full authentication (AuthMoreData 0x04): the password NUL-terminated in clear over
//    TLS, or, on a plain connection, RSA-OAEP (PKCS#1 v2 OAEP, SHA-1/MGF1-SHA-1, as MySQL
//    uses) of (password\0 XOR scramble repeated) with the server's PEM public key,
//    requested with 0x02 unless configured.
//  - sha256_password (same full-authentication rules; the key request byte is 0x01),
//    mysql_clear_password (TLS only).
//  - MariaDB client_ed25519: Ed25519 signature of the server's 32-byte nonce with the
//    secret expanded from SHA-512(password) (ed25519.hpp).
// Not implemented: mysql_old_password, auth_gssapi_client, dialog/PAM,
// authentication_kerberos etc. An AuthSwitchRequest to one of them fails the login with
// a clear error.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <string_view>

#include "protocols/mysql/handshake.hpp"
#include "protocols/mysql/messages.hpp"

namespace segproxy::protocols::mysql {

inline constexpr std::string_view kNativePassword = "mysql_native_password";
inline constexpr std::string_view kCachingSha2Password = "caching_sha2_password";
inline constexpr std::string_view kSha256Password = "sha256_password";
inline constexpr std::string_view kClearPassword = "mysql_clear_password";
inline constexpr std::string_view kClientEd25519 = "client_ed25519";

// caching_sha2_password AuthMoreData codes and the client's public-key request.
inline constexpr std::uint8_t kCachingSha2RequestPublicKey = 0x02;
inline constexpr std::uint8_t kCachingSha2FastAuthOk = 0x03;
inline constexpr std::uint8_t kCachingSha2PerformFullAuth = 0x04;
inline constexpr std::uint8_t kSha256RequestPublicKey = 0x01;

// 20 bytes; an empty password gives an empty response (as libmysqlclient sends).
Bytes native_password_scramble(std::string_view password, std::span<const std::uint8_t> scramble);
// 32 bytes; empty password -> empty response.
Bytes caching_sha2_scramble(std::string_view password, std::span<const std::uint8_t> scramble);
// password + NUL (full authentication over TLS / clear password).
Bytes cleartext_password(std::string_view password);
// RSA-OAEP encryption of (password\0 XOR scramble repeated). std::nullopt and `error`
// set when the key does not parse (PEM "BEGIN PUBLIC KEY") or the password is too long
// for the key.
std::optional<Bytes> rsa_encrypt_password(std::string_view password, std::span<const std::uint8_t> scramble,
                                          std::string_view pem_public_key, std::string& error);

// A 20-byte scramble for the proxy's own greeting: random (RAND_bytes), 7-bit, without
// NUL or '$', as MySQL servers generate them. Empty on RNG failure.
Bytes generate_scramble();

// What to do after a backend reply during the login.
struct AuthAction {
  enum class Kind {
    Send,  // send `payload` as the next packet (sequence id: reply's + 1)
    Wait,  // nothing to send; read the next reply (e.g. after fast-auth OK)
    Done,  // login complete (`ok` = the backend's OK packet)
    Fail,  // login failed: `err` set when the backend sent ERR, else `error` says why
  };
  Kind kind = Kind::Fail;
  Bytes payload;
  OkPacket ok;
  std::optional<ErrPacket> err;
  std::string error;
};

// Drives one backend login: initial_response() for the HandshakeResponse41, then
// on_reply() for each backend packet decoded with decode_auth_reply(). Secrets are
// cleansed on destruction.
class AuthClient {
 public:
  // `plugin` and `scramble`: from the backend's greeting. `secure_transport`: the
  // backend connection is TLS (cleartext full authentication allowed). `server_public_key`:
  // a configured PEM key (optional; else requested from the server when needed).
  // `accepted` (backend.auth; empty: every supported plugin): a greeting or switch to a
  // plugin outside it is not answered (a switch fails the login with a clear error).
  AuthClient(std::string password, std::string plugin, Bytes scramble, bool secure_transport,
             std::string server_public_key = {}, std::vector<std::string> accepted = {});
  ~AuthClient();
  AuthClient(const AuthClient&) = delete;
  AuthClient& operator=(const AuthClient&) = delete;

  // The plugin the response is for (unsupported greeting plugins fall back to
  // mysql_native_password, which the server then switches away from if needed).
  const std::string& plugin() const { return plugin_; }
  Bytes initial_response();
  AuthAction on_reply(const AuthReply& reply);

 private:
  enum class Stage { Initial, AwaitFullAuthResult, AwaitPublicKey };
  AuthAction respond_to_switch(const AuthSwitchRequest& sw);
  AuthAction respond_to_more_data(const AuthMoreData& more);
  AuthAction full_auth(std::uint8_t key_request);
  AuthAction encrypt_with(std::string_view pem);
  Bytes response_for(std::string_view plugin, bool& supported);

  std::string password_;
  std::string plugin_;
  Bytes scramble_;
  bool secure_;
  std::string public_key_;
  std::vector<std::string> accepted_;
  bool accepts(std::string_view plugin) const;
  Stage stage_ = Stage::Initial;
  int switches_ = 0;
};

}  // namespace segproxy::protocols::mysql
