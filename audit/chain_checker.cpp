#include "audit/chain_checker.hpp"

#include <algorithm>
#include <string_view>

#include "audit/hash_chain.hpp"
#include "audit/verifier.hpp"

namespace segproxy::audit {
namespace {

bool is_hex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

ChainProblem tampered(std::string message) { return {VerifyStatus::tampered, std::move(message)}; }

}  // namespace

std::optional<ChainProblem> check_checkpoint_signature(const CheckpointVerifier& key, const AuditRecord& r) {
  if (r.signature.empty()) return ChainProblem{VerifyStatus::bad_signature, "checkpoint is unsigned"};
  if (!key.verify(r)) {
    return ChainProblem{VerifyStatus::bad_signature,
                        r.key_id != key.key_id() ? "checkpoint signed by key " + r.key_id + ", expected " + key.key_id()
                                                 : "checkpoint signature does not verify"};
  }
  return std::nullopt;
}

void ChainChecker::anchor(std::uint64_t seq, std::string hash) {
  last_seq_ = seq;
  head_ = std::move(hash);
}

std::optional<ChainProblem> ChainChecker::check(const AuditRecord& r) {
  const std::uint64_t expected = last_seq_ + 1;
  if (r.seq != expected) {
    std::string what = r.seq > expected ? "records missing (deleted records or a removed file)"
                                        : "record out of order (reordered or duplicated)";
    return tampered("expected seq " + std::to_string(expected) + ": " + what);
  }
  if (r.seq == 1) {
    if (r.event != "audit.start" || !is_hex64(r.genesis) || r.prev_hash != r.genesis)
      return tampered("first record must be audit.start chaining from its genesis");
  } else if (r.prev_hash != head_) {
    return tampered("prev_hash does not match the previous record's hash");
  }
  if (compute_record_hash(r) != r.hash) return tampered("hash mismatch: the record was altered");
  if (r.event == "audit.checkpoint") {
    ++checkpoints_;
    if (!r.head_seq || *r.head_seq + 1 != r.seq || r.head_hash != r.prev_hash)
      return tampered("checkpoint head does not match the chain");
    if (key_) {
      if (auto p = check_checkpoint_signature(*key_, r)) return p;
      ++signatures_;
    }
  }
  last_seq_ = r.seq;
  head_ = r.hash;
  return std::nullopt;
}

}  // namespace segproxy::audit
