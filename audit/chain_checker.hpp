#pragma once
// The one chain check of the audit log, wherever the records come from (a log directory:
// LogReader; the central store: audit/store/store_verify): seq continuity from 1 (or from
// an anchor), audit.start chaining from its genesis, prev_hash linkage, the record hash,
// checkpoint heads and (with a key) checkpoint signatures.
#include <cstdint>
#include <optional>
#include <string>

#include "audit/checkpoint.hpp"
#include "audit/record.hpp"

namespace segproxy::audit {

enum class VerifyStatus;

struct ChainProblem {
  VerifyStatus status;
  std::string message;
};

class ChainChecker {
 public:
  // key: verify checkpoint signatures with it (may be null: signatures unchecked).
  explicit ChainChecker(const CheckpointVerifier* key = nullptr) : key_(key) {}
  void set_key(const CheckpointVerifier* key) { key_ = key; }
  // Continue from the middle of a chain: the next record must be seq + 1 and chain from
  // `hash` (the caller has checked the anchor record itself).
  void anchor(std::uint64_t seq, std::string hash);
  // Checks that `r` is the next record of the chain; advances on success.
  std::optional<ChainProblem> check(const AuditRecord& r);

  std::uint64_t last_seq() const { return last_seq_; }
  const std::string& head_hash() const { return head_; }
  std::uint64_t checkpoints() const { return checkpoints_; }
  std::uint64_t signatures_verified() const { return signatures_; }

 private:
  const CheckpointVerifier* key_;
  std::uint64_t last_seq_ = 0;
  std::string head_;
  std::uint64_t checkpoints_ = 0;
  std::uint64_t signatures_ = 0;
};

// Whether a checkpoint record's signature verifies with `key` (nullopt) or why not.
std::optional<ChainProblem> check_checkpoint_signature(const CheckpointVerifier& key, const AuditRecord& r);

}  // namespace segproxy::audit
