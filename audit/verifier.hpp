#pragma once
// Offline verification of an audit log directory: recomputes the hash chain across all
// files, checks file names, checkpoint records and their Ed25519 signatures, and
// cross-checks the separate checkpoint file (catches truncation after a checkpoint).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/chain_checker.hpp"
#include "audit/checkpoint.hpp"
#include "audit/log_files.hpp"
#include "audit/record.hpp"

namespace segproxy::audit {

enum class VerifyStatus {
  ok,
  torn_tail,      // last line of the newest file is incomplete (crash mid-write)
  tampered,       // edited / deleted / reordered / inserted records or files
  bad_signature,  // a checkpoint is unsigned, signed by another key, or does not verify
  truncated,      // the checkpoint file shows a seq beyond the log's end
  io_error,       // unreadable file, bad key file, empty directory
};
const char* to_string(VerifyStatus s);

struct VerifyResult {
  VerifyStatus status = VerifyStatus::ok;
  std::uint64_t files = 0;
  std::uint64_t records = 0;
  std::uint64_t checkpoints = 0;          // audit.checkpoint records in the log
  std::uint64_t signatures_verified = 0;  // log + checkpoint file
  std::uint64_t checkpoint_file_entries = 0;
  std::uint64_t last_seq = 0;
  std::string head_hash;
  // First problem (status != ok): where it is.
  std::string file;
  std::uint64_t line = 0;  // 1-based
  std::uint64_t seq = 0;   // seq of the offending record (or the expected one)
  std::string message;

  bool ok() const { return status == VerifyStatus::ok; }
  // Nothing was altered (a torn tail is a crash artefact, not tampering).
  bool intact() const { return status == VerifyStatus::ok || status == VerifyStatus::torn_tail; }
  std::string summary() const;  // one line: "OK: ..." or "<status>: file:line seq N: ..."
};

struct VerifyOptions {
  std::optional<std::filesystem::path> public_key;   // verify checkpoint signatures
  std::optional<std::filesystem::path> checkpoints;  // default: <dir>/checkpoints.jsonl if present
  bool verify_chain = true;                          // false: only parse (export --no-verify)
};

// Streams the records of a log directory in seq order, verifying as it goes.
class LogReader {
 public:
  LogReader(std::filesystem::path dir, VerifyOptions opts);
  // The next record and its line (valid until the next call). false at the end or at
  // the first problem; result() is final after that (it includes the end-of-log
  // checkpoint-file check).
  bool next(AuditRecord& record, std::string_view& line);
  const VerifyResult& result() const { return result_; }
  // The line of a record of the current file already returned by next() (valid until the
  // next file is opened); nullopt when `seq` is not one of them. For same_as joins.
  std::optional<std::string_view> line_of(std::uint64_t seq) const;

 private:
  struct CheckpointEntry {
    std::uint64_t line;
    AuditRecord record;
  };
  bool fail(VerifyStatus s, std::string file, std::uint64_t line, std::uint64_t seq,
            std::string message);
  bool load_checkpoint_file(const std::filesystem::path& p);
  bool open_next_file();
  bool check(const AuditRecord& r);
  void finish();

  std::filesystem::path dir_;
  VerifyOptions opts_;
  VerifyResult result_;
  std::unique_ptr<CheckpointVerifier> key_;
  ChainChecker chain_;
  std::vector<LogFile> files_;
  std::size_t next_file_ = 0;
  std::string data_;
  std::size_t pos_ = 0;
  std::uint64_t line_no_ = 0;
  std::string cur_file_;
  bool file_first_ = false;
  std::uint64_t file_first_seq_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>> line_spans_;  // current file, in order read
  std::uint64_t spans_first_seq_ = 0;
  std::string cp_path_;
  std::vector<CheckpointEntry> cp_entries_;  // sorted by seq
  std::size_t cp_next_ = 0;
  bool done_ = false;
  bool started_ = false;
};

// Verifies the whole directory. public_key: PEM (Ed25519); checkpoints: the checkpoint
// file to cross-check (default <dir>/checkpoints.jsonl when it exists).
VerifyResult verify(const std::filesystem::path& dir,
                    const std::optional<std::filesystem::path>& public_key = std::nullopt,
                    const std::optional<std::filesystem::path>& checkpoints = std::nullopt);

}  // namespace segproxy::audit
