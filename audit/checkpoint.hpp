#pragma once
// Signed checkpoints (Ed25519, EVP_PKEY_ED25519 via EVP_DigestSign with a NULL md).
//
// An audit.checkpoint record at seq S carries head_seq = S-1 and head_hash = the hash of
// record S-1 (== its prev_hash), key_id (first 16 hex digits of SHA-256 of the raw
// 32-byte public key) and signature = hex(Ed25519(payload)), where payload is the
// record's canonical encoding without "signature" and without "hash"
// (checkpoint_payload). The record's own hash then covers the signature.
#include <openssl/evp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "audit/record.hpp"

namespace segproxy::audit {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string checkpoint_payload(const AuditRecord& checkpoint);

class CheckpointSigner {
 public:
  // PEM private key (PKCS#8 "PRIVATE KEY"); must be Ed25519. nullptr + error otherwise.
  static std::unique_ptr<CheckpointSigner> load(const std::filesystem::path& pem,
                                                std::string& error);
  static std::unique_ptr<CheckpointSigner> from_pem(std::string_view pem, std::string& error);
  const std::string& key_id() const { return key_id_; }
  std::string sign_hex(std::string_view payload) const;  // throws on OpenSSL failure
  // Fills key_id and signature of a checkpoint record (other fields already set).
  void sign(AuditRecord& checkpoint) const;

 private:
  explicit CheckpointSigner(PkeyPtr key, std::string key_id)
      : key_(std::move(key)), key_id_(std::move(key_id)) {}
  PkeyPtr key_;
  std::string key_id_;
};

class CheckpointVerifier {
 public:
  // PEM public key ("PUBLIC KEY"); a PEM private key is accepted too (its public half).
  static std::unique_ptr<CheckpointVerifier> load(const std::filesystem::path& pem,
                                                  std::string& error);
  static std::unique_ptr<CheckpointVerifier> from_pem(std::string_view pem,
                                                      std::string& error);
  const std::string& key_id() const { return key_id_; }
  bool verify_hex(std::string_view payload, std::string_view signature_hex) const;
  // key_id matches and the signature over checkpoint_payload(r) verifies.
  bool verify(const AuditRecord& checkpoint) const;

 private:
  explicit CheckpointVerifier(PkeyPtr key, std::string key_id)
      : key_(std::move(key)), key_id_(std::move(key_id)) {}
  PkeyPtr key_;
  std::string key_id_;
};

// Helpers for tests and tooling: a fresh Ed25519 key pair as PEM texts.
struct Ed25519PemPair {
  std::string private_pem;
  std::string public_pem;
};
Ed25519PemPair generate_ed25519_pem();

}  // namespace segproxy::audit
