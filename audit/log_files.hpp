#pragma once
// Log directory layout: audit-<UTC start, YYYYMMDDTHHMMSSZ>-<first seq, 20 digits>.jsonl
// files (ordered by first seq) plus the small checkpoint file checkpoints.jsonl.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::audit {

inline constexpr const char* kCheckpointFileName = "checkpoints.jsonl";

struct LogFile {
  std::filesystem::path path;
  std::uint64_t first_seq = 0;
};

std::string log_file_name(std::chrono::system_clock::time_point start, std::uint64_t first_seq);
std::optional<std::uint64_t> parse_log_file_name(const std::string& name);  // first seq
// All log files in `dir`, ordered by first seq. Other names are ignored.
std::vector<LogFile> list_log_files(const std::filesystem::path& dir, std::string& error);

// Where a writer continues: the last complete record of the newest non-empty file.
struct LogTail {
  bool empty = true;  // no complete record anywhere: a new log starts
  std::uint64_t last_seq = 0;
  std::string head_hash;
  std::filesystem::path newest;  // newest log file (empty path when there is none)
  std::uint64_t torn_bytes = 0;  // bytes after the last '\n' of `newest`
  std::uint64_t good_size = 0;   // size of `newest` without the torn bytes
};
bool read_log_tail(const std::filesystem::path& dir, LogTail& tail, std::string& error);

// Reads a whole file. false + error on failure.
bool read_whole_file(const std::filesystem::path& p, std::string& out, std::string& error);

// Reads a log segment without its zero tail: the writer extends the segment it writes
// with zeros ahead of the records (docs/audit.md "Preallocated segments"), so the live
// segment, and one left by a crash, ends in NUL bytes that are not part of the log.
bool read_log_segment(const std::filesystem::path& p, std::string& out, std::string& error);
// The length of `data` without its trailing NUL bytes.
std::size_t without_zero_tail(std::string_view data);

}  // namespace segproxy::audit
