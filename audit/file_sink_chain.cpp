// FileSink, the chain and segment writer (writer thread only): stamping records with
// seq / ts / hash chain, encoding into the batch buffer, commit (one write + fdatasync)
// and rollback, failure and recovery, rotation, checkpoints and the checkpoint file.
// The queue and the writer loop that drive it are in file_sink.cpp.
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "audit/file_sink.hpp"
#include "audit/file_sink_shared.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"
#include "audit/statement_text.hpp"

namespace segproxy::audit {

using file_sink_detail::encode_body;
using file_sink_detail::is_internal;

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

bool FileSink::open_new_file(std::string& error) {
  const TimePoint now = clock_->now();
  path_ = (cfg_.dir / log_file_name(now, chain_.last_seq() + 1)).string();
  fd_ = ops_->open(path_, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0640);
  if (fd_ < 0) {
    error = "cannot create " + path_ + ": " + std::strerror(errno);
    return false;
  }
  file_bytes_ = 0;
  file_start_ = now;
  // Make the new directory entry durable too.
  const int dfd = ops_->open(cfg_.dir.string(), O_RDONLY | O_DIRECTORY, 0);
  if (dfd >= 0) {
    ops_->fsync(dfd);
    ops_->close(dfd);
  }
  return true;
}

void FileSink::close_file_readonly() {
  if (fd_ < 0) return;
  if (unsynced_ && ops_->fdatasync(fd_) == 0) {
    std::lock_guard lk(mu_);
    stats_.durable_seq = committed_chain_.last_seq();
  }
  unsynced_ = false;
  ops_->close(fd_);
  ops_->chmod(path_, 0440);
  fd_ = -1;
}

void FileSink::stamp(AuditRecord& r) {
  TimePoint now = clock_->now();
  if (now < last_ts_) now = last_ts_;  // ts never goes backwards along seq
  last_ts_ = now;
  r.ts = format_timestamp(now);
  r.instance = cfg_.instance;
}

void FileSink::append_record(AuditRecord r, OnDurable done) {
  append_encoded(encode_body(r), std::move(done));
}

// Same bytes as R"(,"ts":)" + append_json_string(format_timestamp(t)): the part up to
// the second is formatted once per second.
void FileSink::append_ts(TimePoint t) {
  using namespace std::chrono;
  const auto us = time_point_cast<microseconds>(t);
  auto secs = time_point_cast<seconds>(us);
  if (secs > us) secs -= seconds(1);
  const std::int64_t sec = secs.time_since_epoch().count();
  if (sec != ts_second_) {
    std::string full = format_timestamp(secs);  // "YYYY-MM-DDTHH:MM:SS.000000Z"
    ts_prefix_.assign(full, 0, full.size() - 7);  // up to and including the '.'
    ts_second_ = sec;
  }
  auto frac = static_cast<std::uint32_t>((us - secs).count());  // 0..999999
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  buf_ += R"(,"ts":")";
  buf_ += ts_prefix_;
  buf_.append(digits, sizeof digits);
  buf_ += "Z\"";
}

// Same bytes as stamp(r) + chain_.append(r) + '\n' for the record `body` came from.
void FileSink::append_encoded(const std::string& body, OnDurable done) {
  TimePoint now = clock_->now();
  if (now < last_ts_) now = last_ts_;  // ts never goes backwards along seq
  last_ts_ = now;
  const std::uint64_t seq = chain_.last_seq() + 1;
  const std::string& prev = chain_.head();
  const std::size_t start = buf_.size();
  buf_ += R"({"seq":)";
  buf_ += std::to_string(seq);
  append_ts(now);
  buf_ += instance_json_;
  buf_ += body;
  buf_ += R"(,"prev_hash":)";
  append_json_string(buf_, prev);
  // hash = SHA-256(prev_hash || encode_record(r, with_hash=false))
  std::string hash = sha_.hex(prev, std::string_view(buf_).substr(start), "}");
  buf_ += R"(,"hash":)";
  append_json_string(buf_, hash);
  buf_ += "}\n";
  chain_ = HashChain(seq, std::move(hash));
  ++since_cp_;
  buf_done_.push_back(std::move(done));
}

FileSink::CheckpointInfo FileSink::append_checkpoint() {
  AuditRecord cp;
  cp.event = "audit.checkpoint";
  stamp(cp);
  cp.head_seq = chain_.last_seq();
  cp.head_hash = chain_.head();
  cp.seq = chain_.last_seq() + 1;
  cp.prev_hash = chain_.head();
  if (signer_) {
    try {
      signer_->sign(cp);
    } catch (const std::exception& e) {
      cp.key_id.clear();
      cp.signature.clear();
      cp.detail = std::string("signing failed: ") + e.what();
    }
  }
  CheckpointInfo info{cp.seq, cp.head_seq.value_or(0), cp.head_hash, !cp.signature.empty()};
  std::string line = chain_.append(cp);
  buf_ += line;
  buf_ += '\n';
  buf_cp_lines_.push_back(std::move(line));
  buf_done_.push_back(nullptr);
  since_cp_ = 0;
  last_cp_ = clock_->now();
  return info;
}

void FileSink::answer_checkpoint_waiters() {
  std::vector<std::shared_ptr<std::promise<std::optional<CheckpointInfo>>>> waiters;
  {
    std::lock_guard lk(mu_);
    waiters.swap(cp_waiters_);
  }
  if (waiters.empty()) return;
  std::optional<CheckpointInfo> result;
  if (!failed_) {
    CheckpointInfo info = append_checkpoint();
    if (commit()) result = info;
  }
  for (auto& w : waiters) w->set_value(result);
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

void FileSink::note_losses() {
  std::lock_guard lk(mu_);
  fail_refused_ += queue_full_refused_;
  fail_dropped_ += queue_full_dropped_;
  queue_full_refused_ = queue_full_dropped_ = 0;
}

void FileSink::append_notice(const char* event) {
  AuditRecord r;
  r.event = event;
  std::string d;
  if (failed_) {
    d = "log writes failed from " + fail_since_ + " (" + fail_what_ + ": " +
        std::strerror(fail_errno_) + ")";
  } else {
    d = "queue full (max_queue " + std::to_string(cfg_.max_queue) + ")";
  }
  if (fail_refused_)
    d += "; " + std::to_string(fail_refused_) +
         " submissions refused (fail_closed: never acknowledged, never executed)";
  if (fail_dropped_)
    d += "; " + std::to_string(fail_dropped_) +
         " records lost (fail_open: acknowledged without being written)";
  r.detail = std::move(d);
  notice_refused_ = fail_refused_;
  notice_dropped_ = fail_dropped_;
  notice_in_buf_ = true;
  append_record(std::move(r), nullptr);
}

bool FileSink::write_all(int fd, const std::string& data) {
  const char* p = data.data();
  std::size_t left = data.size();
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
    rollback(EBADF, "no open log file");
    return false;
  }
  const auto t_write = std::chrono::steady_clock::now();
  if (!write_all(fd_, buf_)) {
    rollback(errno, "write");
    return false;
  }
  const auto t_written = std::chrono::steady_clock::now();
  double sync_seconds = -1;
  if (cfg_.durability != Durability::interval) {
    {
      std::lock_guard lk(mu_);
      ++stats_.syncs;
    }
    if (ops_->fdatasync(fd_) != 0) {
      rollback(errno, "fdatasync");
      return false;
    }
    last_sync_ = clock_->now();
    const auto t_synced = std::chrono::steady_clock::now();
    sync_seconds = std::chrono::duration<double>(t_synced - t_written).count();
  } else {
    unsynced_ = true;
  }
  file_bytes_ += buf_.size();
  committed_chain_ = chain_;
  committed_since_cp_ = since_cp_;
  if (notice_in_buf_) {
    fail_refused_ -= notice_refused_;
    fail_dropped_ -= notice_dropped_;
    notice_in_buf_ = false;
  }
  {
    std::lock_guard lk(mu_);
    stats_.written += buf_done_.size();
    ++stats_.batches;
    stats_.checkpoints += buf_cp_lines_.size();
    stats_.last_seq = chain_.last_seq();
    if (cfg_.durability != Durability::interval) stats_.durable_seq = stats_.last_seq;
  }
  if (observer_) {
    observer_->committed(buf_done_.size(), std::chrono::duration<double>(t_written - t_write).count(), sync_seconds);
  }
  buf_.clear();
  answering_.swap(buf_done_);
  answer_all(answering_, true);
  answering_.clear();  // keeps its capacity for the next commit
  write_checkpoint_file();
  return true;
}

void FileSink::rollback(int err, const char* what) {
  chain_ = committed_chain_;
  since_cp_ = committed_since_cp_;
  if (fd_ >= 0) ops_->ftruncate(fd_, static_cast<off_t>(file_bytes_));
  enter_failure(err, what);
  buf_.clear();
  buf_cp_lines_.clear();
  notice_in_buf_ = false;
  std::vector<OnDurable> dones;
  dones.swap(buf_done_);
  fail_all(dones);
}

void FileSink::fail_all(std::vector<OnDurable>& dones) {
  const bool open = cfg_.on_failure == OnFailure::fail_open;
  std::uint64_t n = 0;
  for (auto& d : dones) n += !is_internal(d);
  (open ? fail_dropped_ : fail_refused_) += n;
  {
    std::lock_guard lk(mu_);
    (open ? stats_.dropped : stats_.refused) += n;
  }
  answer_all(dones, open);  // after the counters: callers may read stats
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
  stats_.healthy = false;
}

bool FileSink::recover() {
  if (fd_ >= 0) {
    if (ops_->ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) {
      enter_failure(errno, "ftruncate");
      return false;
    }
  } else {
    std::string err;
    if (!open_new_file(err)) {
      enter_failure(errno, "create log file");
      return false;
    }
  }
  note_losses();
  append_notice("audit.resume");
  if (!commit()) return false;
  failed_ = false;
  std::lock_guard lk(mu_);
  stats_.healthy = true;
  return true;
}

bool FileSink::rotate() {
  close_file_readonly();
  std::string err;
  if (!open_new_file(err)) {
    enter_failure(errno, "create log file");
    return false;
  }
  return true;
}

void FileSink::write_checkpoint_file() {
  if (buf_cp_lines_.empty()) return;
  std::string data;
  for (const auto& l : buf_cp_lines_) {
    data += l;
    data += '\n';
  }
  buf_cp_lines_.clear();
  if (cp_fd_ >= 0 && write_all(cp_fd_, data) && ops_->fdatasync(cp_fd_) == 0) {
    cp_bytes_ += data.size();
    return;
  }
  if (cp_fd_ >= 0) ops_->ftruncate(cp_fd_, static_cast<off_t>(cp_bytes_));
  std::lock_guard lk(mu_);
  ++stats_.checkpoint_file_errors;
}

}  // namespace segproxy::audit
