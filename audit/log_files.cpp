#include "audit/log_files.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "audit/record_codec.hpp"

namespace segproxy::audit {

std::string log_file_name(std::chrono::system_clock::time_point start, std::uint64_t first_seq) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(start);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "audit-%04d%02d%02dT%02d%02d%02dZ-%020llu.jsonl",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned long long>(first_seq));
  return buf;
}

std::optional<std::uint64_t> parse_log_file_name(const std::string& name) {
  // audit-YYYYMMDDTHHMMSSZ-NNNNNNNNNNNNNNNNNNNN.jsonl
  constexpr std::size_t kLen = 6 + 16 + 1 + 20 + 6;
  if (name.size() != kLen || name.compare(0, 6, "audit-") != 0 || name[22] != '-' ||
      name.compare(43, 6, ".jsonl") != 0)
    return std::nullopt;
  std::uint64_t seq = 0;
  for (std::size_t i = 23; i < 43; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    seq = seq * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return seq;
}

std::vector<LogFile> list_log_files(const std::filesystem::path& dir, std::string& error) {
  std::vector<LogFile> files;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) {
    error = "cannot list " + dir.string() + ": " + ec.message();
    return files;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (auto seq = parse_log_file_name(name)) files.push_back({it->path(), *seq});
  }
  std::sort(files.begin(), files.end(), [](const LogFile& a, const LogFile& b) {
    return a.first_seq != b.first_seq ? a.first_seq < b.first_seq
                                       : a.path.filename() < b.path.filename();
  });
  return files;
}

bool read_whole_file(const std::filesystem::path& p, std::string& out, std::string& error) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    error = "cannot read " + p.string();
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "read error on " + p.string();
    return false;
  }
  out = ss.str();
  return true;
}

std::size_t without_zero_tail(std::string_view data) {
  std::size_t n = data.size();
  while (n > 0 && data[n - 1] == '\0') --n;
  return n;
}

bool read_log_segment(const std::filesystem::path& p, std::string& out, std::string& error) {
  if (!read_whole_file(p, out, error)) return false;
  out.resize(without_zero_tail(out));
  return true;
}

bool read_log_tail(const std::filesystem::path& dir, LogTail& tail, std::string& error) {
  tail = LogTail{};
  error.clear();
  const std::vector<LogFile> files = list_log_files(dir, error);
  if (!error.empty()) return false;
  if (files.empty()) return true;
  tail.newest = files.back().path;
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    std::string data;
    if (!read_log_segment(it->path, data, error)) return false;
    const std::size_t last_nl = data.rfind('\n');
    const std::size_t good = last_nl == std::string::npos ? 0 : last_nl + 1;
    if (it == files.rbegin()) {
      tail.good_size = good;
      tail.torn_bytes = data.size() - good;
    }
    if (good == 0) continue;  // no complete record in this file
    const std::size_t line_start = data.rfind('\n', good - 2);
    const std::size_t from = line_start == std::string::npos ? 0 : line_start + 1;
    std::string derr;
    auto rec = decode_record(std::string_view(data).substr(from, good - 1 - from), derr);
    if (!rec) {
      error = it->path.string() + ": last record unreadable (" + derr + "); run verify";
      return false;
    }
    tail.empty = false;
    tail.last_seq = rec->seq;
    tail.head_hash = rec->hash;
    return true;
  }
  return true;
}

}  // namespace segproxy::audit
