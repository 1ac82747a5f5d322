#include "audit/hash_chain.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "audit/record_codec.hpp"

namespace segproxy::audit {
namespace {

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 0xF];
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return to_hex(md, len);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

std::string Sha256::hex(std::string_view a, std::string_view b, std::string_view c) {
  char out[64];
  hex_into(out, a, b, c);
  return std::string(out, sizeof out);
}

void Sha256::hex_into(char (&out)[64], std::string_view a, std::string_view b, std::string_view c) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 || EVP_DigestUpdate(ctx, a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx, b.data(), b.size()) != 1 || EVP_DigestUpdate(ctx, c.data(), c.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xF];
  }
}

std::string random_genesis() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  return to_hex(b, sizeof b);
}

std::string compute_record_hash(const AuditRecord& r) {
  std::string input = r.prev_hash;
  input += encode_record(r, /*with_hash=*/false);
  return sha256_hex(input);
}

std::string HashChain::append(AuditRecord& r) {
  r.seq = last_seq_ + 1;
  r.prev_hash = head_;
  r.hash = compute_record_hash(r);
  last_seq_ = r.seq;
  head_ = r.hash;
  return encode_record(r);
}

}  // namespace segproxy::audit
