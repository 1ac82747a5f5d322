#pragma once
// Reads an instance's local audit log directory by seq, across rotated files, while the
// writer appends to it: only complete lines up to a limit (the sink's durable seq), each
// checked to be the next seq and to chain from the line before (prev_hash). The shipper's
// view of the write-ahead source of truth.
#include <cstdint>
#include <filesystem>
#include <string>

#include "audit/store/store_connection.hpp"

namespace segproxy::audit::store {

class LogCursor {
 public:
  // Lines longer than this are refused (a statement is capped at 16 MiB before escaping).
  static constexpr std::size_t kMaxLine = 128u << 20;

  explicit LogCursor(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~LogCursor();
  LogCursor(const LogCursor&) = delete;
  LogCursor& operator=(const LogCursor&) = delete;

  // Positions before record `seq`: the next line read is `seq`. Records below it must be
  // in the directory down to seq - 1 (whose hash becomes prev_hash()), unless seq is the
  // first record of the oldest file. false + why otherwise.
  bool seek(std::uint64_t seq, std::string& why);
  // The seq of the oldest record in the directory (0: no log file yet).
  std::uint64_t oldest_seq(std::string& why) const;

  enum class Status { line, none, error };
  // The next complete line when its seq <= limit (consumed unless peek). `line` views the
  // cursor's buffer until the next call; `row` is filled in place (pass the same one
  // again to reuse its storage) and is unspecified after an error.
  Status next(std::uint64_t limit, std::string_view& line, StoreRow& row, std::string& why, bool peek = false);

  // The next record must chain from `hash` (when the cursor starts at the oldest local
  // record, the store's record before it is the only anchor).
  void expect_prev_hash(std::string hash) {
    if (prev_hash_.empty()) prev_hash_ = std::move(hash);
  }
  bool positioned() const { return fd_ >= 0; }
  std::uint64_t next_seq() const { return next_seq_; }
  // Hash of record next_seq() - 1 as read locally (empty when next_seq() is the oldest).
  const std::string& prev_hash() const { return prev_hash_; }

 private:
  void close();
  bool open_file(const std::filesystem::path& p, std::string& why);
  // Ensures buf_ holds a '\n' at or after pos_; false when none is available yet.
  bool fill_line(std::size_t& nl, std::string& why, bool& failed);
  bool switch_to_next_file(bool& switched, std::string& why);

  std::filesystem::path dir_;
  int fd_ = -1;
  std::string path_;
  std::uint64_t file_off_ = 0;  // file offset of buf_[0]
  std::string buf_;
  std::size_t pos_ = 0;  // consumed bytes of buf_
  std::size_t read_chunk_ = 64u << 10;  // bytes per pread: grows in a backlog (log_cursor.cpp)
  std::uint64_t next_seq_ = 0;
  std::string prev_hash_;
};

}  // namespace segproxy::audit::store
