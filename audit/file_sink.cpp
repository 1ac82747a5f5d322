#include "audit/file_sink.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"
#include "audit/statement_text.hpp"

namespace segproxy::audit {
namespace {

constexpr auto kTick = std::chrono::milliseconds(50);

bool is_internal(const AuditSink::OnDurable& done) { return !done; }

// encode_record's canonical key order is seq, ts, instance, event, ..., prev_hash, hash:
// the fields the writer assigns (seq, ts, instance, prev_hash, hash) are the first three
// and the last two. With those cleared, encode_record(r, false) is exactly
// kBodyPrefix + body + kBodySuffix, where body (starting with ,"event":) holds every
// submitted field in canonical form; the writer splices the assigned fields around it.
constexpr std::string_view kBodyPrefix = R"({"seq":0,"ts":"")";
constexpr std::string_view kBodySuffix = R"(,"prev_hash":""})";

std::string encode_body(AuditRecord& r) {
  r.seq = 0;
  r.ts.clear();
  r.instance.clear();
  r.prev_hash.clear();
  r.hash.clear();
  std::string s = encode_record(r, /*with_hash=*/false);
  if (s.size() < kBodyPrefix.size() + kBodySuffix.size() ||
      std::string_view(s).substr(0, kBodyPrefix.size()) != kBodyPrefix ||
      std::string_view(s).substr(s.size() - kBodySuffix.size()) != kBodySuffix)
    throw std::logic_error("audit record encoding is not spliceable");
  s.resize(s.size() - kBodySuffix.size());
  s.erase(0, kBodyPrefix.size());
  return s;
}

}  // namespace

FileSink::FileSink(const AuditConfig& cfg, FileSinkDeps deps)
    : cfg_(cfg),
      clock_(deps.clock ? std::move(deps.clock) : std::make_shared<SystemClock>()),
      ops_(deps.ops ? std::move(deps.ops) : std::make_shared<PosixFileOps>()),
      observer_(std::move(deps.observer)) {
  if (!cfg_.instance.empty()) {
    instance_json_ = R"(,"instance":)";
    append_json_string(instance_json_, cfg_.instance);
  }
}

std::unique_ptr<FileSink> FileSink::open(const AuditConfig& cfg, std::string& error,
                                         FileSinkDeps deps) {
  std::unique_ptr<FileSink> sink(new FileSink(cfg, std::move(deps)));
  if (!sink->start(error)) return nullptr;
  return sink;
}

FileSink::~FileSink() {
  if (writer_.joinable()) {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }
  for (auto& a : immediate_) answer(a.done, a.ok);
  for (auto& w : cp_waiters_) w->set_value(std::nullopt);
  if (fd_ >= 0) close_file_readonly();
  if (cp_fd_ >= 0) ops_->close(cp_fd_);
}

bool FileSink::start(std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (cfg_.dir.empty()) {
    error = "audit.dir is empty";
    return false;
  }
  if (fs::create_directories(cfg_.dir, ec)) {
    fs::permissions(cfg_.dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                    ec);
  }
  if (ec) {
    error = "cannot create " + cfg_.dir.string() + ": " + ec.message();
    return false;
  }
  if (!cfg_.signing_key.empty()) {
    signer_ = CheckpointSigner::load(cfg_.signing_key, error);
    if (!signer_) return false;
  }
  LogTail tail;
  if (!read_log_tail(cfg_.dir, tail, error)) return false;
  std::string detail = tail.empty ? "new log" : "restart; chain continues";
  if (!tail.newest.empty()) {
    if (tail.torn_bytes > 0) {
      // A torn last line was never acknowledged (acks follow fdatasync of whole lines).
      const int fd = ops_->open(tail.newest.string(), O_WRONLY, 0);
      if (fd < 0 || ops_->ftruncate(fd, static_cast<off_t>(tail.good_size)) != 0 ||
          ops_->fsync(fd) != 0) {
        error = "cannot truncate torn tail of " + tail.newest.string() + ": " +
                std::strerror(errno);
        if (fd >= 0) ops_->close(fd);
        return false;
      }
      ops_->close(fd);
      detail += "; truncated a torn last line (" + std::to_string(tail.torn_bytes) +
                " bytes, never acknowledged) of " + tail.newest.filename().string();
    }
    // A file without a complete record (created just before a crash) holds nothing.
    if (tail.good_size == 0) fs::remove(tail.newest, ec);
    if (fs::exists(tail.newest, ec)) ops_->chmod(tail.newest.string(), 0440);
  }
  std::string genesis;
  if (tail.empty) {
    genesis = random_genesis();
    chain_ = HashChain(0, genesis);
  } else {
    chain_ = HashChain(tail.last_seq, tail.head_hash);
  }
  committed_chain_ = chain_;
  if (!open_checkpoint_file(error) || !open_new_file(error)) return false;
  last_cp_ = last_sync_ = clock_->now();
  AuditRecord st;
  st.event = "audit.start";
  st.genesis = genesis;
  st.detail = detail;
  append_record(std::move(st), nullptr);
  if (!commit()) {
    error = "cannot write audit.start to " + path_ + ": " + std::strerror(fail_errno_);
    return false;
  }
  writer_ = std::thread([this] { run(); });
  return true;
}

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
  if (unsynced_) ops_->fdatasync(fd_);
  unsynced_ = false;
  ops_->close(fd_);
  ops_->chmod(path_, 0440);
  fd_ = -1;
}

void FileSink::submit(AuditRecord record, OnDurable on_durable) {
  enqueue(std::move(record), std::move(on_durable), /*kick=*/true);
}

void FileSink::submit_deferred(AuditRecord record, OnDurable on_durable) {
  enqueue(std::move(record), std::move(on_durable), /*kick=*/false);
}

void FileSink::enqueue(AuditRecord&& record, OnDurable&& on_durable, bool kick) {
  if (!on_durable) on_durable = [](bool) {};
  record.statement = apply_statement_text(cfg_.statement_text, record.statement, record.protocol);
  cap_statement_text(record.statement, record.statement_length, record.statement_sha256, cfg_.max_statement_text);
  // Canonical encoding of the submitted fields happens here, on the caller's thread.
  std::string body = encode_body(record);
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    ++submitted_;
    if (stop_) {
      ++stats_.refused;
      immediate_.push_back({std::move(on_durable), false});
      kick = true;
    } else if (queue_.size() >= cfg_.max_queue) {
      const bool open = cfg_.on_failure == OnFailure::fail_open;
      ++(open ? stats_.dropped : stats_.refused);
      ++(open ? queue_full_dropped_ : queue_full_refused_);
      immediate_.push_back({std::move(on_durable), open});
      if (observer_) observer_->queue_full();
      kick = true;
    } else {
      queue_.push_back({std::move(body), std::move(on_durable)});
    }
    // The writer sleeps until it is kicked (or its tick passes; its wait predicate is
    // checked under mu_): one notification per time it takes the queue is enough.
    if (kick && !writer_kicked_) writer_kicked_ = wake = true;
  }
  if (wake) cv_.notify_one();
}

void FileSink::kick_writer() {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (!writer_kicked_) writer_kicked_ = wake = true;
  }
  if (wake) cv_.notify_one();
}

// Only the writer thread writes (issue 4: one writer thread with group commit): an I/O
// thread never blocks on write()/fdatasync(), so a stalled disk cannot freeze sessions
// and their timeouts. lead() is the one wake-up for every record the caller's thread
// deferred meanwhile (it is posted behind that thread's queued handlers).
void FileSink::lead() { kick_writer(); }

void FileSink::flush() {
  std::unique_lock lk(mu_);
  const std::uint64_t target = submitted_;
  answered_cv_.wait(lk, [&] { return answered_ >= target; });
}

SinkStats FileSink::stats() const {
  std::lock_guard lk(mu_);
  SinkStats s = stats_;
  s.queued = queue_.size();
  return s;
}

void FileSink::answer(OnDurable& done, bool ok) {
  if (is_internal(done)) return;
  try {
    done(ok);
  } catch (...) {
    // A throwing callback must not stop the writer.
  }
  {
    std::lock_guard lk(mu_);
    ++answered_;
  }
  answered_cv_.notify_all();
}

void FileSink::answer_all(std::vector<OnDurable>& dones, bool ok) {
  std::uint64_t n = 0;
  for (auto& d : dones) {
    if (is_internal(d)) continue;
    ++n;
    try {
      d(ok);
    } catch (...) {
      // A throwing callback must not stop the writer.
    }
  }
  if (n == 0) return;
  {
    std::lock_guard lk(mu_);
    answered_ += n;
  }
  answered_cv_.notify_all();
}

void FileSink::run() {
  std::vector<Pending> batch;
  std::vector<Answer> imm;
  for (;;) {
    bool stopping = false;
    {
      // Deferred submissions do not wake the writer: it takes them at the next kick
      // (lead()) or tick.
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, kTick, [&] { return stop_ || writer_kicked_ || !immediate_.empty() || !cp_waiters_.empty(); });
      batch.swap(queue_);  // queue_ gets the previous batch's (cleared) capacity
      imm.swap(immediate_);
      writer_kicked_ = false;
      stopping = stop_;
    }
    for (auto& a : imm) answer(a.done, a.ok);
    imm.clear();
    if (!batch.empty()) process(batch);
    batch.clear();
    idle_work();
    if (stopping) {
      std::lock_guard lk(mu_);
      if (queue_.empty() && immediate_.empty()) break;
    }
  }
  if (!failed_ && since_cp_ > 0) {
    append_checkpoint();
    commit();
  }
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

std::optional<FileSink::CheckpointInfo> FileSink::force_checkpoint(std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::optional<CheckpointInfo>>>();
  auto f = p->get_future();
  {
    std::lock_guard lk(mu_);
    if (stop_) return std::nullopt;
    cp_waiters_.push_back(std::move(p));
  }
  cv_.notify_one();
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
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

void FileSink::process(std::vector<Pending>& batch) {
  if (failed_ && (std::chrono::steady_clock::now() < next_probe_ || !recover())) {
    std::vector<OnDurable> dones;
    for (auto& p : batch) dones.push_back(std::move(p.done));
    fail_all(dones);
    return;
  }
  note_losses();
  if (!notice_in_buf_ && (fail_refused_ || fail_dropped_)) append_notice("audit.overload");
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::size_t unanswered = i;  // first record whose callback is still in `batch`
    bool ok = true;
    if (rotation_due()) ok = commit() && rotate();
    if (ok) {
      append_encoded(batch[i].body, std::move(batch[i].done));
      unanswered = i + 1;
      if (cfg_.durability == Durability::fsync_each) ok = commit();
    }
    if (!ok) {
      std::vector<OnDurable> rest;
      for (std::size_t j = unanswered; j < batch.size(); ++j) rest.push_back(std::move(batch[j].done));
      fail_all(rest);
      return;
    }
    if (checkpoint_due()) append_checkpoint();
  }
  commit();
}

void FileSink::idle_work() {
  if (failed_) {
    if (std::chrono::steady_clock::now() >= next_probe_) recover();
    answer_checkpoint_waiters();  // nullopt while failed
    return;
  }
  answer_checkpoint_waiters();
  note_losses();
  if (fail_refused_ || fail_dropped_) {
    append_notice("audit.overload");
    if (!commit()) return;
  }
  if (checkpoint_due()) {
    append_checkpoint();
    if (!commit()) return;
  }
  if (unsynced_ && clock_->now() - last_sync_ >= cfg_.sync_interval) {
    {
      std::lock_guard lk(mu_);
      ++stats_.syncs;
    }
    if (ops_->fdatasync(fd_) != 0) {
      enter_failure(errno, "fdatasync (interval durability: acknowledged records may be lost)");
      return;
    }
    unsynced_ = false;
    last_sync_ = clock_->now();
  }
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
