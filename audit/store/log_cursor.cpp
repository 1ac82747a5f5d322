#include "audit/store/log_cursor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "audit/log_files.hpp"

namespace segproxy::audit::store {
namespace {

// A read grows from the small chunk to the large one while it comes back full (a backlog)
// and drops back when it reaches the end or the live segment's zero tail: a shipper that
// keeps up reads about what was appended since its last batch, not 1 MiB of zeros.
constexpr std::size_t kMinReadChunk = 64u << 10;
constexpr std::size_t kMaxReadChunk = 1u << 20;

// seq of a canonical line ({"seq":N,...}) without parsing it all; 0 when not canonical.
std::uint64_t quick_seq(std::string_view line) {
  constexpr std::string_view prefix = "{\"seq\":";
  if (line.substr(0, prefix.size()) != prefix) return 0;
  std::uint64_t v = 0;
  std::size_t i = prefix.size();
  for (; i < line.size() && i < prefix.size() + 20 && line[i] >= '0' && line[i] <= '9'; ++i)
    v = v * 10 + static_cast<std::uint64_t>(line[i] - '0');
  return i < line.size() && line[i] == ',' ? v : 0;
}

}  // namespace

LogCursor::~LogCursor() { close(); }

void LogCursor::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
  pos_ = 0;
  file_off_ = 0;
}

bool LogCursor::open_file(const std::filesystem::path& p, std::string& why) {
  close();
  fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    why = "cannot open " + p.string() + ": " + std::strerror(errno);
    return false;
  }
  path_ = p.string();
  return true;
}

std::uint64_t LogCursor::oldest_seq(std::string& why) const {
  const auto files = list_log_files(dir_, why);
  return files.empty() ? 0 : files.front().first_seq;
}

bool LogCursor::fill_line(std::size_t& nl, std::string& why, bool& failed) {
  failed = false;
  std::size_t from = pos_;
  for (;;) {
    nl = buf_.find('\n', from);
    if (nl != std::string::npos) return true;
    from = buf_.size();
    if (buf_.size() - pos_ > kMaxLine) {
      why = path_ + ": a line longer than 128 MiB";
      failed = true;
      return false;
    }
    if (pos_ > 0 && pos_ >= buf_.size() / 2) {  // compact: keep only the unconsumed bytes
      file_off_ += pos_;
      buf_.erase(0, pos_);
      from -= pos_;
      pos_ = 0;
    }
    const std::size_t old = buf_.size();
    const std::size_t chunk = read_chunk_;
    buf_.resize(old + chunk);
    const ssize_t n = ::pread(fd_, buf_.data() + old, chunk, static_cast<off_t>(file_off_ + old));
    if (n < 0 && errno == EINTR) {
      buf_.resize(old);
      continue;
    }
    if (n < 0) {
      buf_.resize(old);
      why = "read " + path_ + ": " + std::strerror(errno);
      failed = true;
      return false;
    }
    buf_.resize(old + static_cast<std::size_t>(n));
    // A NUL is the writer's zero tail (preallocated, not yet written): the end for now.
    const std::size_t zero = buf_.find('\0', old);
    if (zero != std::string::npos) {
      read_chunk_ = kMinReadChunk;
      buf_.resize(zero);
      nl = buf_.find('\n', from);
      return nl != std::string::npos;
    }
    if (n == 0) {
      read_chunk_ = kMinReadChunk;
      return false;
    }
    if (static_cast<std::size_t>(n) == chunk) read_chunk_ = std::min(kMaxReadChunk, 2 * chunk);
  }
}

bool LogCursor::seek(std::uint64_t seq, std::string& why) {
  close();
  next_seq_ = 0;
  prev_hash_.clear();
  const auto files = list_log_files(dir_, why);
  if (!why.empty()) return false;
  if (files.empty()) {
    why = "no audit log files in " + dir_.string();
    return false;
  }
  if (seq < files.front().first_seq) {
    why = "seq " + std::to_string(seq) + " is no longer in the local log (its oldest file starts at seq " +
          std::to_string(files.front().first_seq) + ")";
    return false;
  }
  if (seq == files.front().first_seq) {  // nothing before it to chain from
    next_seq_ = seq;
    return open_file(files.front().path, why);
  }
  const std::uint64_t target = seq - 1;
  std::size_t idx = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].first_seq <= target) idx = i;
  }
  if (!open_file(files[idx].path, why)) return false;
  for (;;) {
    std::size_t nl = 0;
    bool failed = false;
    if (!fill_line(nl, why, failed)) {
      if (!failed) why = "the local log has no record " + std::to_string(target) + " (it ends before it)";
      close();
      return false;
    }
    const std::string_view line(buf_.data() + pos_, nl - pos_);
    std::uint64_t s = quick_seq(line);
    std::optional<StoreRow> row;
    if (s == 0 || s == target) {
      row = extract_row(line, why);
      if (!row) {
        why = path_ + ": " + why;
        close();
        return false;
      }
      s = row->seq;
    }
    pos_ = nl + 1;
    if (s == target) {
      prev_hash_ = row->hash;
      next_seq_ = seq;
      return true;
    }
    if (s > target) {
      why = path_ + ": seq " + std::to_string(s) + " where " + std::to_string(target) + " was expected";
      close();
      return false;
    }
  }
}

LogCursor::Status LogCursor::next(std::uint64_t limit, std::string_view& line, StoreRow& row, std::string& why,
                                  bool peek) {
  // Bytes past the limit may still be rolled back by the writer (a failed fdatasync
  // truncates them): never keep them buffered.
  const auto none = [this] {
    buf_.resize(pos_);
    return Status::none;
  };
  if (fd_ < 0) {
    why = "not positioned";
    return Status::error;
  }
  if (next_seq_ > limit) return none();
  for (;;) {
    std::size_t nl = 0;
    bool failed = false;
    if (fill_line(nl, why, failed)) {
      line = std::string_view(buf_.data() + pos_, nl - pos_);
      if (!extract_row_into(line, row, why)) {  // in place: the row's strings keep their capacity
        why = path_ + ": " + why;
        return Status::error;
      }
      if (row.seq != next_seq_) {
        why = path_ + ": seq " + std::to_string(row.seq) + " where " + std::to_string(next_seq_) + " was expected";
        return Status::error;
      }
      if (!prev_hash_.empty() && row.prev_hash != prev_hash_) {
        why = path_ + ": seq " + std::to_string(row.seq) + " does not chain from the record before it";
        return Status::error;
      }
      if (!peek) {
        pos_ = nl + 1;
        prev_hash_ = row.hash;
        ++next_seq_;
      }
      return Status::line;
    }
    if (failed) return Status::error;
    if (pos_ != buf_.size()) return none();  // a line still being written
    // End of this file: the writer may have rotated to a file starting at next_seq_.
    const auto files = list_log_files(dir_, why);
    if (!why.empty()) return Status::error;
    const std::filesystem::path* nextfile = nullptr;
    bool newer = false;
    for (const auto& f : files) {
      if (f.first_seq == next_seq_ && f.path.string() != path_) nextfile = &f.path;
      if (f.first_seq > next_seq_) newer = true;
    }
    if (nextfile == nullptr) {
      if (newer) {
        why = "the local log has no record " + std::to_string(next_seq_) + " (a newer file starts after it)";
        return Status::error;
      }
      return none();
    }
    const std::uint64_t keep_seq = next_seq_;
    const std::string keep_hash = prev_hash_;
    if (!open_file(*nextfile, why)) return Status::error;
    next_seq_ = keep_seq;
    prev_hash_ = keep_hash;
  }
}

}  // namespace segproxy::audit::store
