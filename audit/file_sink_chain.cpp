// FileSink, segments and commit (writer thread only): opening segments (file and
// directory entry synced before any record in them counts as durable), commit (one
// write + one fdatasync, then the watermark moves and waiters are told), failure (the
// chain rolls back to the durable head, the segment is retired and never written or
// synced again), recovery (always a new segment), rotation, checkpoints and the
// checkpoint file.
#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "audit/file_sink.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"

namespace segproxy::audit {

bool FileSink::open_checkpoint_file(std::string& error) {
  const std::filesystem::path p = cfg_.dir / kCheckpointFileName;
  std::string data;
  std::error_code ec;
  if (std::filesystem::exists(p, ec) && !read_whole_file(p, data, error)) return false;
  cp_fd_ = ops_->open(p.string(), O_WRONLY | O_CREAT | O_APPEND, 0640);
  if (cp_fd_ < 0) {
    error = "cannot open " + p.string() + ": " + std::strerror(errno);
    return false;
  }
  const std::size_t nl = data.rfind('\n');
  cp_bytes_ = nl == std::string::npos ? 0 : nl + 1;
  if (cp_bytes_ != data.size()) ops_->ftruncate(cp_fd_, static_cast<off_t>(cp_bytes_));
  return true;
}

// A new segment counts only once its directory entry is durable: a failed directory
// fsync removes it again and fails.
bool FileSink::open_new_file(std::string& error) {
  const TimePoint now = clock_->now();
  path_ = (cfg_.dir / log_file_name(now, head_seq_ + 1)).string();
  // Not O_APPEND: the records overwrite the zeros preallocate() writes ahead of them.
  fd_ = ops_->open(path_, O_WRONLY | O_CREAT | O_EXCL, 0640);
  if (fd_ < 0) {
    error = "cannot create " + path_ + ": " + std::strerror(errno);
    return false;
  }
  const int dfd = ops_->open(cfg_.dir.string(), O_RDONLY | O_DIRECTORY, 0);
  const bool dir_synced = dfd >= 0 && ops_->fsync(dfd) == 0;
  const int err = errno;
  if (dfd >= 0) ops_->close(dfd);
  if (!dir_synced) {
    ops_->close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    errno = err;
    error = "cannot sync directory " + cfg_.dir.string() + ": " + std::strerror(err);
    return false;
  }
  file_bytes_ = 0;
  zeroed_end_ = 0;
  prealloc_failed_ = false;
  file_start_ = now;
  file_first_seq_ = head_seq_ + 1;
  std::lock_guard lk(mu_);
  ++stats_.segments;
  return true;
}

void FileSink::close_file_readonly() {
  if (fd_ < 0) return;
  // A closed segment ends with its last record (the new size is synced below).
  if (zeroed_end_ > file_bytes_ && ops_->ftruncate(fd_, static_cast<off_t>(file_bytes_)) == 0) unsynced_ = true;
  if (unsynced_) ops_->fdatasync(fd_);
  unsynced_ = false;
  ops_->close(fd_);
  ops_->chmod(path_, 0440);
  fd_ = -1;
}

// After a failed write or fdatasync: the segment keeps only its durable part and is never
// written or synced again (after a failed fdatasync the page cache may have dropped the
// dirty pages and a retry would report success). false: the truncation failed (retried
// by the recovery probe before a new segment starts).
void FileSink::retire_file() {
  if (fd_ < 0) return;
  if (file_bytes_ == 0) {  // nothing durable in it: remove it (its name would be reused)
    ops_->close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return;
  }
  if (ops_->ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) return;  // retried
  ops_->fsync(fd_);  // the new size; the durable part is unaffected either way
  ops_->close(fd_);
  ops_->chmod(path_, 0440);
  fd_ = -1;
  unsynced_ = false;
}

// The records of a segment overwrite zeros written ahead of them, kPreallocChunk at a
// time: their fdatasync then has data blocks to write but no inode (the file's size does
// not change), one device write per commit instead of two (bench/RESULTS.md, session 9).
// One commit per chunk pays for the zeros. The zeros are no part of the log: readers stop
// at them (read_log_segment, LogCursor), a closed segment is cut back to its last record,
// and recovery cuts the newest segment back to its last complete record. Best effort:
// when the zeros cannot be written (ENOSPC), the file is cut back to its records and the
// segment grows with its records as before.
namespace {
constexpr std::uint64_t kPreallocChunk = 1u << 20;
constexpr std::array<char, 64u << 10> kZeros{};
}  // namespace

void FileSink::preallocate(std::uint64_t need) {
  if (need <= zeroed_end_ || prealloc_failed_ || fd_ < 0) return;
  std::uint64_t target = (need + kPreallocChunk - 1) / kPreallocChunk * kPreallocChunk;
  if (cfg_.rotate_size) target = std::min(target, std::max(need, cfg_.rotate_size));
  std::uint64_t at = std::max(zeroed_end_, file_bytes_);
  while (at < target) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kZeros.size(), target - at));
    const ssize_t w = ops_->pwrite(fd_, kZeros.data(), n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      prealloc_failed_ = true;
      ops_->ftruncate(fd_, static_cast<off_t>(file_bytes_));  // the records' write reports a real failure
      zeroed_end_ = file_bytes_;
      return;
    }
    at += static_cast<std::uint64_t>(w);
  }
  zeroed_end_ = target;
}

bool FileSink::write_all(int fd, const char* p, std::size_t left) {
  while (left > 0) {
    const ssize_t n = ops_->write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

bool FileSink::commit() {
  if (buf_.empty()) return true;
  if (fd_ < 0) {
    fail_write(EBADF, "no open log file");
    return false;
  }
  const auto t_write = std::chrono::steady_clock::now();
  preallocate(file_bytes_ + buf_.size());
  if (!write_all(fd_, buf_.data(), buf_.size())) {
    fail_write(errno, "write");
    return false;
  }
  const auto t_written = std::chrono::steady_clock::now();
  double sync_seconds = -1;
  const bool sync = cfg_.durability != Durability::interval;
  if (sync) {
    {
      std::lock_guard lk(mu_);
      ++stats_.syncs;
    }
    if (ops_->fdatasync(fd_) != 0) {
      fail_write(errno, "fdatasync");
      return false;
    }
    last_sync_ = clock_->now();
    sync_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_written).count();
  } else {
    unsynced_ = true;
  }
  file_bytes_ += buf_.size();
  committed_seq_ = head_seq_;
  committed_hash_ = head_hash_;
  committed_since_cp_ = since_cp_;
  {
    std::lock_guard lk(mu_);
    stats_.written += buf_records_;
    stats_.deduplicated += buf_dedup_;
    ++stats_.batches;
    stats_.checkpoints += buf_cp_lines_.size();
    stats_.last_seq = head_seq_;
    acked_ = head_seq_;
    acked_pub_ = acked_;
    if (sync) synced_ = head_seq_;
  }
  if (observer_) {
    observer_->committed(buf_records_, std::chrono::duration<double>(t_written - t_write).count(), sync_seconds);
  }
  buf_.clear();
  buf_records_ = buf_dedup_ = 0;
  write_checkpoint_file();
  resolve_checkpoints(false);
  notify_listeners();
  answer_callbacks();
  return true;
}

// A failed write or sync: everything after the durable head is lost (its seqs are reused
// by the next records, in a new segment), its waiters fail, new appends are refused until
// the recovery probe has written audit.resume.
void FileSink::fail_write(int err, const char* what) {
  std::uint64_t lost = 0;
  for (const Entry& e : w_batch_) lost += e.seq > committed_seq_ && e.kind == Kind::record;
  head_seq_ = committed_seq_;
  head_hash_ = committed_hash_;
  since_cp_ = committed_since_cp_;
  buf_.clear();
  buf_records_ = buf_dedup_ = 0;
  buf_cp_lines_.clear();
  for (auto& slot : dedup_) slot.seq = 0;  // seqs after the head will be reused
  cp_reserved_ = false;
  retire_file();
  std::vector<Answer> answers;
  {
    std::lock_guard lk(mu_);
    end_epoch_locked(answers);
    next_seq_ = taken_seq_ = committed_seq_;
    record_hi_ = std::min(record_hi_, next_seq_);
    waited_hi_ = std::min(waited_hi_, next_seq_);
    const bool open = cfg_.on_failure == OnFailure::fail_open;
    (open ? stats_.dropped : stats_.refused) += lost;
    (open ? loss_dropped_ : loss_refused_) += lost;
  }
  enter_failure(err, what);
  for (auto& a : answers) answer(a.done, a.ok);
  resolve_checkpoints(true);
  notify_listeners();
  answer_callbacks();
}

void FileSink::enter_failure(int err, const char* what) {
  if (!failed_ && observer_) observer_->failed(what);
  if (!failed_) {
    failed_ = true;
    fail_errno_ = err;
    fail_what_ = what;
    fail_since_ = format_timestamp(clock_->now());
  }
  next_probe_ = std::chrono::steady_clock::now() + cfg_.retry_every;
  std::lock_guard lk(mu_);
  refusing_ = true;
  stats_.healthy = false;
}

// The recovery probe: after a failure always a new segment (the failed one is retired);
// after a stall (a wait passed max_wait) the current one. Writes audit.resume, then
// accepts appends again.
bool FileSink::recover() {
  std::uint64_t timeouts = 0;
  {
    std::lock_guard lk(mu_);
    timeouts = timeouts_since_;
  }
  resume_reason_.clear();
  if (failed_) {
    resume_reason_ = "log writes failed from " + fail_since_ + " (" + fail_what_ + ": " +
                     std::strerror(fail_errno_) + ")";
  }
  if (timeouts) {
    if (!resume_reason_.empty()) resume_reason_ += "; ";
    resume_reason_ += std::to_string(timeouts) + " waits for durability passed audit.max_wait (" +
                      std::to_string(cfg_.max_wait.count()) + " ms) and counted as write failures";
  }
  if (failed_ || fd_ < 0) {
    retire_file();
    if (fd_ >= 0) {  // the failed segment could not be cut back to its durable part
      const int e = errno;
      failed_ = false;
      enter_failure(e, "ftruncate");
      return false;
    }
    std::string err;
    if (!open_new_file(err)) {
      const int e = errno;
      failed_ = false;
      enter_failure(e, "create log file");
      return false;
    }
  }
  failed_ = false;
  cp_reserved_ = false;
  resolve_checkpoints(true);
  if (!write_notice("audit.resume")) return false;
  fail_what_.clear();
  std::lock_guard lk(mu_);
  refusing_ = false;
  stalled_ = false;
  timeouts_since_ -= timeouts;
  stats_.healthy = true;
  return true;
}

bool FileSink::rotate() {
  close_file_readonly();
  std::string err;
  if (!open_new_file(err)) {
    fail_write(errno, "create log file");
    return false;
  }
  return true;
}

bool FileSink::checkpoint_due() const {
  if (since_cp_ == 0) return false;
  if (cfg_.checkpoint_every_records && since_cp_ >= cfg_.checkpoint_every_records) return true;
  return cfg_.checkpoint_every.count() > 0 && clock_->now() - last_cp_ >= cfg_.checkpoint_every;
}

bool FileSink::rotation_due() const {
  const std::uint64_t size = file_bytes_ + buf_.size();
  if (size == 0) return false;
  if (cfg_.rotate_size && size >= cfg_.rotate_size) return true;
  return cfg_.rotate_every.count() > 0 && clock_->now() - file_start_ >= cfg_.rotate_every;
}

void FileSink::write_checkpoint_file() {
  if (buf_cp_lines_.empty()) return;
  std::string data;
  for (const auto& l : buf_cp_lines_) {
    data += l;
    data += '\n';
  }
  buf_cp_lines_.clear();
  if (cp_fd_ >= 0 && write_all(cp_fd_, data.data(), data.size()) && ops_->fdatasync(cp_fd_) == 0) {
    cp_bytes_ += data.size();
    return;
  }
  if (cp_fd_ >= 0) ops_->ftruncate(cp_fd_, static_cast<off_t>(cp_bytes_));
  std::lock_guard lk(mu_);
  ++stats_.checkpoint_file_errors;
}

}  // namespace segproxy::audit
