// FileSink, the queue and the writer thread: start/stop, submit and its bounded queue,
// answering submitters, the writer loop (run / process / idle work), forced checkpoints.
// The chain and segment writer it drives is in file_sink_chain.cpp.
#include "audit/file_sink.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "audit/file_sink_shared.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"
#include "audit/statement_text.hpp"

namespace segproxy::audit {
namespace {

constexpr auto kTick = std::chrono::milliseconds(50);

}  // namespace

using file_sink_detail::encode_body;
using file_sink_detail::is_internal;

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
    std::lock_guard lk(mu_);
    stats_.durable_seq = committed_chain_.last_seq();
  }
}

}  // namespace segproxy::audit
