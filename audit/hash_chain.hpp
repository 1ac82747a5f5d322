#pragma once
// Hash chain: hash = hex(SHA-256(prev_hash || encode_record(r, with_hash=false))).
#include <string>
#include <string_view>

#include "audit/record.hpp"

namespace segproxy::audit {

std::string sha256_hex(std::string_view data);

// SHA-256 over several pieces with one reusable digest context (the writer's hot path):
// hex(a || b || c) without concatenating them first. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  std::string hex(std::string_view a, std::string_view b, std::string_view c);
  // Same into a caller's buffer (no allocation).
  void hex_into(char (&out)[64], std::string_view a, std::string_view b, std::string_view c);

 private:
  void* ctx_;  // EVP_MD_CTX
};
std::string random_genesis();  // 32 random bytes, hex (RAND_bytes); throws on RNG failure

// The hash `r` must carry given its fields (r.prev_hash included, r.hash ignored).
std::string compute_record_hash(const AuditRecord& r);

// Chain state of a writer: assigns seq, prev_hash and hash in order.
class HashChain {
 public:
  HashChain(std::uint64_t last_seq, std::string head_hash)
      : last_seq_(last_seq), head_(std::move(head_hash)) {}
  // Sets r.seq = last_seq + 1, r.prev_hash = head, r.hash; advances the chain.
  // Returns the canonical line (with hash, no newline).
  std::string append(AuditRecord& r);
  std::uint64_t last_seq() const { return last_seq_; }
  const std::string& head() const { return head_; }

 private:
  std::uint64_t last_seq_;
  std::string head_;
};

}  // namespace segproxy::audit
