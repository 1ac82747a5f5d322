// SCRAM-SHA-256 client (RFC 5802, RFC 7677) as PostgreSQL uses it (55.3.1 "SCRAM-SHA-256
// Authentication": gs2 header "n,," without channel binding, "p=tls-server-end-point,,"
// for SCRAM-SHA-256-PLUS (RFC 5929 binding data from the caller); the user name is
// ignored), the
// legacy MD5 password response, and strict base64. libcrypto only.
//
// Not done: SASLprep (RFC 4013) of the password. Passwords are used as given, which is
// what PostgreSQL itself does for passwords SASLprep leaves unchanged (all ASCII ones).
#include "protocols/pg/scram_client.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <utility>

namespace segproxy::protocols::pg {

namespace {

constexpr std::size_t kKeyLen = 32;  // SHA-256
constexpr long kMinIterations = 1;
constexpr long kMaxIterations = 10'000'000;
using Key = std::array<unsigned char, kKeyLen>;

// Zeroes a key when it goes out of scope.
struct KeyGuard {
  Key& k;
  ~KeyGuard() { OPENSSL_cleanse(k.data(), k.size()); }
};

bool hmac_sha256(const unsigned char* key, std::size_t key_len, std::string_view data, Key& out) {
  unsigned int len = 0;
  const unsigned char* r = HMAC(EVP_sha256(), key, static_cast<int>(key_len),
                                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return r != nullptr && len == kKeyLen;
}

bool sha256(const unsigned char* data, std::size_t len, Key& out) {
  unsigned int n = 0;
  return EVP_Digest(data, len, out.data(), &n, EVP_sha256(), nullptr) == 1 && n == kKeyLen;
}

// RFC 5802 saslname: ',' -> "=2C", '=' -> "=3D".
std::string escape_saslname(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ',') out += "=2C";
    else if (c == '=') out += "=3D";
    else out += c;
  }
  return out;
}

// Splits "a=...,b=...,..." into attributes; returns false on a malformed attribute.
bool next_attribute(std::string_view& msg, char& name, std::string_view& value) {
  if (msg.size() < 2 || msg[1] != '=') return false;
  name = msg[0];
  const auto comma = msg.find(',');
  value = msg.substr(2, comma == std::string_view::npos ? std::string_view::npos : comma - 2);
  msg = comma == std::string_view::npos ? std::string_view{} : msg.substr(comma + 1);
  return true;
}

bool printable_nonce(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

ScramStep fail(std::string why) {
  ScramStep s;
  s.error = std::move(why);
  return s;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 0xf];
  }
  return out;
}

std::string md5_hex(std::string_view a, std::string_view b) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 && EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest, &n) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  std::string out = hex(digest, n);
  OPENSSL_cleanse(digest, sizeof digest);
  return out;
}

}  // namespace

std::string base64_encode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(raw[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(raw[i + 1])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(raw[i + 2])};
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  const std::size_t left = raw.size() - i;
  if (left > 0) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(raw[i])} << 16;
    if (left == 2) v |= std::uint32_t{static_cast<unsigned char>(raw[i + 1])} << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += left == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Strict: length a multiple of 4, only alphabet characters, '=' only as final padding,
// and unused bits of the last group zero (so every byte string has one encoding).
bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      if (j >= 4 - static_cast<std::size_t>(pad)) {
        v <<= 6;
        continue;
      }
      const int d = b64_value(text[i + j]);
      if (d < 0) return false;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) return false;
  }
  return true;
}

ScramSha256Client::ScramSha256Client(std::string user, std::string password, std::string client_nonce)
    : user_(std::move(user)), password_(std::move(password)), client_nonce_(std::move(client_nonce)) {
  client_first_bare_ = "n=" + escape_saslname(user_) + ",r=" + client_nonce_;
}

ScramSha256Client::ScramSha256Client(std::string user, std::string password, std::string client_nonce,
                                     ChannelBinding binding)
    : ScramSha256Client(std::move(user), std::move(password), std::move(client_nonce)) {
  if (!binding.data.empty()) {
    gs2_header_ = "p=" + binding.type + ",,";
    cbind_data_ = std::move(binding.data);
  }
}

ScramSha256Client::~ScramSha256Client() {
  OPENSSL_cleanse(password_.data(), password_.size());
  OPENSSL_cleanse(salted_password_, sizeof salted_password_);
  OPENSSL_cleanse(auth_message_.data(), auth_message_.size());
}

std::string ScramSha256Client::client_first_message() const { return gs2_header_ + client_first_bare_; }

ScramStep ScramSha256Client::handle_server_first(std::string_view server_first) {
  if (have_server_first_) return fail("SCRAM: server-first message received twice");
  if (client_nonce_.empty() || !printable_nonce(client_nonce_)) return fail("SCRAM: invalid client nonce");
  std::string_view rest = server_first;
  char name = 0;
  std::string_view value;
  if (!next_attribute(rest, name, value)) return fail("SCRAM: malformed server-first message");
  if (name == 'e') return fail("SCRAM: server error: " + std::string(value));
  if (name == 'm') return fail("SCRAM: unsupported mandatory extension");
  if (name != 'r') return fail("SCRAM: server-first message does not start with a nonce");
  const std::string_view nonce = value;
  if (nonce.size() <= client_nonce_.size() || nonce.substr(0, client_nonce_.size()) != client_nonce_ ||
      !printable_nonce(nonce))
    return fail("SCRAM: server nonce does not extend the client nonce");

  if (!next_attribute(rest, name, value) || name != 's') return fail("SCRAM: missing salt");
  std::string salt;
  if (value.empty() || !base64_decode(value, salt) || salt.empty()) return fail("SCRAM: invalid salt");

  if (!next_attribute(rest, name, value) || name != 'i') return fail("SCRAM: missing iteration count");
  if (value.empty() || value.size() > 8 || value[0] == '0') return fail("SCRAM: invalid iteration count");
  long iterations = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return fail("SCRAM: invalid iteration count");
    iterations = iterations * 10 + (c - '0');
  }
  if (iterations < kMinIterations || iterations > kMaxIterations)
    return fail("SCRAM: iteration count out of range");
  // Anything after is an optional extension (RFC 5802 §7); ignore it.

  if (PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), kKeyLen, salted_password_) != 1)
    return fail("SCRAM: key derivation failed");

  Key client_key{}, stored_key{}, client_signature{};
  KeyGuard g1{client_key}, g2{stored_key}, g3{client_signature};
  // c= carries the gs2 header and, with channel binding, the binding data (RFC 5802 §7).
  const std::string without_proof = "c=" + base64_encode(gs2_header_ + cbind_data_) + ",r=" + std::string(nonce);
  auth_message_ = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  if (!hmac_sha256(salted_password_, kKeyLen, "Client Key", client_key) ||
      !sha256(client_key.data(), client_key.size(), stored_key) ||
      !hmac_sha256(stored_key.data(), stored_key.size(), auth_message_, client_signature))
    return fail("SCRAM: HMAC failed");
  std::string proof(kKeyLen, '\0');
  for (std::size_t i = 0; i < kKeyLen; ++i) proof[i] = static_cast<char>(client_key[i] ^ client_signature[i]);
  have_server_first_ = true;

  ScramStep step;
  step.ok = true;
  step.message = without_proof + ",p=" + base64_encode(proof);
  OPENSSL_cleanse(proof.data(), proof.size());
  return step;
}

ScramStep ScramSha256Client::verify_server_final(std::string_view server_final) {
  if (!have_server_first_) return fail("SCRAM: server-final message before server-first");
  std::string_view rest = server_final;
  char name = 0;
  std::string_view value;
  if (!next_attribute(rest, name, value)) return fail("SCRAM: malformed server-final message");
  if (name == 'e') return fail("SCRAM: server error: " + std::string(value));
  if (name != 'v') return fail("SCRAM: server-final message has no verifier");
  std::string signature;
  if (!base64_decode(value, signature) || signature.size() != kKeyLen)
    return fail("SCRAM: malformed server signature");

  Key server_key{}, expected{};
  KeyGuard g1{server_key}, g2{expected};
  if (!hmac_sha256(salted_password_, kKeyLen, "Server Key", server_key) ||
      !hmac_sha256(server_key.data(), server_key.size(), auth_message_, expected))
    return fail("SCRAM: HMAC failed");
  if (CRYPTO_memcmp(expected.data(), signature.data(), kKeyLen) != 0)
    return fail("SCRAM: server signature does not match (the server does not know the password)");
  ScramStep step;
  step.ok = true;
  return step;
}

std::string md5_password_response(std::string_view user, std::string_view password, std::string_view salt4) {
  std::string inner = md5_hex(password, user);
  std::string outer = md5_hex(inner, salt4);
  OPENSSL_cleanse(inner.data(), inner.size());
  if (outer.empty()) return {};
  return "md5" + outer;
}

}  // namespace segproxy::protocols::pg
