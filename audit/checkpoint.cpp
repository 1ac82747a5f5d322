#include "audit/checkpoint.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"

namespace segproxy::audit {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

bool read_file(const std::filesystem::path& p, std::string& out, std::string& error) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    error = "cannot read " + p.string();
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string key_id_of(EVP_PKEY* key) {
  unsigned char raw[32];
  std::size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) return {};
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(raw), len)).substr(0, 16);
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2) return false;
  out.clear();
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return true;
}

std::string bio_to_string(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::string checkpoint_payload(const AuditRecord& checkpoint) {
  AuditRecord r = checkpoint;
  r.signature.clear();
  return encode_record(r, /*with_hash=*/false);
}

std::unique_ptr<CheckpointSigner> CheckpointSigner::load(const std::filesystem::path& pem,
                                                         std::string& error) {
  std::string text;
  if (!read_file(pem, text, error)) return nullptr;
  auto s = from_pem(text, error);
  if (!s) error = pem.string() + ": " + error;
  return s;
}

std::unique_ptr<CheckpointSigner> CheckpointSigner::from_pem(std::string_view pem,
                                                             std::string& error) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    error = "not a PEM private key";
    return nullptr;
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    error = "signing key is not Ed25519";
    return nullptr;
  }
  std::string id = key_id_of(key.get());
  return std::unique_ptr<CheckpointSigner>(new CheckpointSigner(std::move(key), std::move(id)));
}

std::string CheckpointSigner::sign_hex(std::string_view payload) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  std::size_t len = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(payload.data()),
                     payload.size()) != 1)
    throw std::runtime_error("Ed25519 signing failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < len; ++i) {
    out.push_back(kHex[sig[i] >> 4]);
    out.push_back(kHex[sig[i] & 0xF]);
  }
  return out;
}

void CheckpointSigner::sign(AuditRecord& checkpoint) const {
  checkpoint.key_id = key_id_;
  checkpoint.signature = sign_hex(checkpoint_payload(checkpoint));
}

std::unique_ptr<CheckpointVerifier> CheckpointVerifier::load(const std::filesystem::path& pem,
                                                             std::string& error) {
  std::string text;
  if (!read_file(pem, text, error)) return nullptr;
  auto v = from_pem(text, error);
  if (!v) error = pem.string() + ": " + error;
  return v;
}

std::unique_ptr<CheckpointVerifier> CheckpointVerifier::from_pem(std::string_view pem,
                                                                 std::string& error) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    BioPtr again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    key.reset(again ? PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr) : nullptr);
  }
  if (!key) {
    error = "not a PEM public key";
    return nullptr;
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    error = "verification key is not Ed25519";
    return nullptr;
  }
  std::string id = key_id_of(key.get());
  return std::unique_ptr<CheckpointVerifier>(
      new CheckpointVerifier(std::move(key), std::move(id)));
}

bool CheckpointVerifier::verify_hex(std::string_view payload,
                                    std::string_view signature_hex) const {
  std::vector<unsigned char> sig;
  if (!from_hex(signature_hex, sig) || sig.size() != 64) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                          reinterpret_cast<const unsigned char*>(payload.data()),
                          payload.size()) == 1;
}

bool CheckpointVerifier::verify(const AuditRecord& checkpoint) const {
  return checkpoint.key_id == key_id_ &&
         verify_hex(checkpoint_payload(checkpoint), checkpoint.signature);
}

Ed25519PemPair generate_ed25519_pem() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) throw std::runtime_error("Ed25519 keygen failed");
  BioPtr priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
  if (!priv || !pub ||
      PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1)
    throw std::runtime_error("PEM encoding failed");
  return {bio_to_string(priv.get()), bio_to_string(pub.get())};
}

}  // namespace segproxy::audit
