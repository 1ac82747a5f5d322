// Client side of MySQL authentication plugins (page_protocol_connection_phase_
// authentication_methods_native_password_authentication.html,
// page_caching_sha2_authentication_exchanges.html, sha256_password). libcrypto only.
#include "protocols/mysql/auth.hpp"

#include "protocols/mysql/ed25519.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>

namespace segproxy::protocols::mysql {

namespace {

template <std::size_t N>
struct Digest {
  std::array<unsigned char, N> d{};
  ~Digest() { OPENSSL_cleanse(d.data(), d.size()); }
};

template <std::size_t N>
bool hash(const EVP_MD* md, std::initializer_list<std::span<const std::uint8_t>> parts, Digest<N>& out) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) return false;
  for (const auto& p : parts) {
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) return false;
  }
  unsigned int n = 0;
  return EVP_DigestFinal_ex(ctx.get(), out.d.data(), &n) == 1 && n == N;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <std::size_t N>
std::span<const std::uint8_t> bytes_of(const Digest<N>& d) {
  return {d.d.data(), d.d.size()};
}

AuthAction fail(std::string why) {
  AuthAction a;
  a.kind = AuthAction::Kind::Fail;
  a.error = std::move(why);
  return a;
}

AuthAction send(Bytes payload) {
  AuthAction a;
  a.kind = AuthAction::Kind::Send;
  a.payload = std::move(payload);
  return a;
}

}  // namespace

Bytes native_password_scramble(std::string_view password, std::span<const std::uint8_t> scramble) {
  if (password.empty()) return {};
  Digest<20> stage1, stage2, mix;
  if (!hash(EVP_sha1(), {bytes_of(password)}, stage1) || !hash(EVP_sha1(), {bytes_of(stage1)}, stage2) ||
      !hash(EVP_sha1(), {scramble, bytes_of(stage2)}, mix))
    return {};
  Bytes out(20);
  for (std::size_t i = 0; i < 20; ++i) out[i] = stage1.d[i] ^ mix.d[i];
  return out;
}

Bytes caching_sha2_scramble(std::string_view password, std::span<const std::uint8_t> scramble) {
  if (password.empty()) return {};
  Digest<32> stage1, stage2, mix;
  if (!hash(EVP_sha256(), {bytes_of(password)}, stage1) || !hash(EVP_sha256(), {bytes_of(stage1)}, stage2) ||
      !hash(EVP_sha256(), {bytes_of(stage2), scramble}, mix))
    return {};
  Bytes out(32);
  for (std::size_t i = 0; i < 32; ++i) out[i] = stage1.d[i] ^ mix.d[i];
  return out;
}

Bytes cleartext_password(std::string_view password) {
  Bytes out(password.begin(), password.end());
  out.push_back(0);
  return out;
}

std::optional<Bytes> rsa_encrypt_password(std::string_view password, std::span<const std::uint8_t> scramble,
                                          std::string_view pem_public_key, std::string& error) {
  if (scramble.empty()) {
    error = "no scramble to mix the password with";
    return std::nullopt;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem_public_key.data(), static_cast<int>(pem_public_key.size())), BIO_free);
  if (!bio) {
    error = "out of memory";
    return std::nullopt;
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    error = "server public key is not a PEM RSA public key";
    return std::nullopt;
  }
  Bytes plain = cleartext_password(password);
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] ^= scramble[i % scramble.size()];
  struct Cleanse {
    Bytes& b;
    ~Cleanse() { OPENSSL_cleanse(b.data(), b.size()); }
  } cleanse{plain};
  // OAEP with SHA-1 overhead: 2 * 20 + 2 bytes.
  const int key_bytes = EVP_PKEY_get_size(key.get());
  if (key_bytes <= 42 || plain.size() > static_cast<std::size_t>(key_bytes - 42)) {
    error = "password too long for the server's RSA key";
    return std::nullopt;
  }
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                  EVP_PKEY_CTX_free);
  std::size_t out_len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, plain.data(), plain.size()) != 1) {
    error = "RSA encryption setup failed";
    return std::nullopt;
  }
  Bytes out(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, plain.data(), plain.size()) != 1) {
    error = "RSA encryption failed";
    return std::nullopt;
  }
  out.resize(out_len);
  return out;
}

Bytes generate_scramble() {
  Bytes s(kScrambleLength);
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1) return {};
  for (auto& b : s) {
    b &= 0x7f;
    if (b == 0 || b == '$') ++b;
  }
  return s;
}

// ---- AuthClient ----

AuthClient::AuthClient(std::string password, std::string plugin, Bytes scramble, bool secure_transport,
                       std::string server_public_key, std::vector<std::string> accepted)
    : password_(std::move(password)),
      plugin_(std::move(plugin)),
      scramble_(std::move(scramble)),
      secure_(secure_transport),
      public_key_(std::move(server_public_key)),
      accepted_(std::move(accepted)) {}

bool AuthClient::accepts(std::string_view plugin) const {
  if (accepted_.empty()) return true;
  for (const auto& a : accepted_) {
    if (a == plugin) return true;
  }
  return false;
}

AuthClient::~AuthClient() { OPENSSL_cleanse(password_.data(), password_.size()); }

Bytes AuthClient::response_for(std::string_view plugin, bool& supported) {
  supported = true;
  if (plugin == kNativePassword) return native_password_scramble(password_, scramble_);
  if (plugin == kCachingSha2Password) return caching_sha2_scramble(password_, scramble_);
  if (plugin == kSha256Password) {
    if (password_.empty()) return Bytes{0};  // empty password: a single NUL
    if (secure_) return cleartext_password(password_);
    if (public_key_.empty()) return Bytes{kSha256RequestPublicKey};
    std::string error;
    auto enc = rsa_encrypt_password(password_, scramble_, public_key_, error);
    if (enc) return *enc;
    supported = false;
    return {};
  }
  if (plugin == kClearPassword && secure_) return cleartext_password(password_);
  if (plugin == kClientEd25519 && scramble_.size() == 32) {
    const auto sig = client_ed25519_response(password_, scramble_);
    if (sig) return Bytes(sig->begin(), sig->end());
  }
  supported = false;
  return {};
}

Bytes AuthClient::initial_response() {
  bool supported = false;
  Bytes r;
  if (accepts(plugin_)) r = response_for(plugin_, supported);
  if (!supported) {
    // Answer as mysql_native_password when backend.auth accepts it; a server that
    // insists switches us, and the switch is checked. Else an empty answer for the
    // greeting's plugin: nothing derived from the password, and the server switches to
    // the user's plugin (checked) or refuses.
    if (accepts(kNativePassword)) {
      plugin_ = std::string(kNativePassword);
      r = native_password_scramble(password_, scramble_);
    } else {
      r.clear();
    }
  }
  if (plugin_ == kSha256Password && !secure_ && !password_.empty() && public_key_.empty())
    stage_ = Stage::AwaitPublicKey;
  return r;
}

AuthAction AuthClient::on_reply(const AuthReply& reply) {
  if (const auto* ok = std::get_if<OkPacket>(&reply)) {
    AuthAction a;
    a.kind = AuthAction::Kind::Done;
    a.ok = *ok;
    return a;
  }
  if (const auto* err = std::get_if<ErrPacket>(&reply)) {
    AuthAction a;
    a.kind = AuthAction::Kind::Fail;
    a.err = *err;
    a.error = "backend refused the login: " + err->message;
    return a;
  }
  if (const auto* sw = std::get_if<AuthSwitchRequest>(&reply)) return respond_to_switch(*sw);
  return respond_to_more_data(std::get<AuthMoreData>(reply));
}

AuthAction AuthClient::respond_to_switch(const AuthSwitchRequest& sw) {
  // A server switches at most once per login (more would be a loop).
  if (++switches_ > 1 || stage_ != Stage::Initial) return fail("unexpected second authentication switch");
  // client_ed25519 signs a 32-byte nonce sent as is (it may end with a zero byte);
  // the others get a 20-byte scramble followed by a NUL.
  std::span<const std::uint8_t> data = switch_scramble(sw);
  if (sw.plugin == kClientEd25519 && sw.plugin_data.size() >= 32) data = std::span(sw.plugin_data).first(32);
  scramble_.assign(data.begin(), data.end());
  if (!accepts(sw.plugin)) {
    std::string list;
    for (const auto& a : accepted_) list += (list.empty() ? "" : ", ") + a;
    return fail("segproxy: backend asked for " + sw.plugin + " authentication, which backend.auth does not accept (" +
                list + ")");
  }
  plugin_ = sw.plugin;
  bool supported = false;
  Bytes r = response_for(plugin_, supported);
  if (!supported) {
    if (plugin_ == kClearPassword) return fail("mysql_clear_password requested on a connection without TLS");
    return fail("backend requested unsupported authentication plugin '" + plugin_ + "'");
  }
  if (plugin_ == kSha256Password && !secure_ && !password_.empty() && public_key_.empty())
    stage_ = Stage::AwaitPublicKey;
  return send(std::move(r));
}

AuthAction AuthClient::respond_to_more_data(const AuthMoreData& more) {
  if (stage_ == Stage::AwaitPublicKey) {
    stage_ = Stage::AwaitFullAuthResult;
    return encrypt_with(as_string_view(more.data));
  }
  if (plugin_ == kCachingSha2Password && stage_ == Stage::Initial && more.data.size() == 1) {
    if (more.data[0] == kCachingSha2FastAuthOk) {
      AuthAction a;
      a.kind = AuthAction::Kind::Wait;  // an OK packet follows
      return a;
    }
    if (more.data[0] == kCachingSha2PerformFullAuth) return full_auth(kCachingSha2RequestPublicKey);
  }
  return fail("unexpected AuthMoreData from the backend during " + plugin_);
}

AuthAction AuthClient::full_auth(std::uint8_t key_request) {
  if (secure_) {
    stage_ = Stage::AwaitFullAuthResult;
    return send(cleartext_password(password_));
  }
  if (!public_key_.empty()) {
    stage_ = Stage::AwaitFullAuthResult;
    const std::string key = public_key_;
    return encrypt_with(key);
  }
  stage_ = Stage::AwaitPublicKey;
  return send(Bytes{key_request});
}

AuthAction AuthClient::encrypt_with(std::string_view pem) {
  std::string error;
  auto enc = rsa_encrypt_password(password_, scramble_, pem, error);
  if (!enc) return fail(error);
  return send(std::move(*enc));
}

}  // namespace segproxy::protocols::mysql
