// FileSink, the submitters' side: start/stop, append (seq and ts assigned at once, the
// body encoded into the queue's byte arena), tickets and the durable watermark, waits
// (listeners per I/O thread, blocking waits, max_wait timeouts), the callback API and
// its answers. The writer thread is in file_sink_writer.cpp, segments in file_sink_chain.cpp.
#include "audit/file_sink.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "audit/group_window.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"
#include "audit/statement_text.hpp"

namespace segproxy::audit {

namespace {
constexpr std::size_t kDedupSlots = 1024;
}  // namespace

FileSink::FileSink(const AuditConfig& cfg, FileSinkDeps deps)
    : cfg_(cfg),
      clock_(deps.clock ? std::move(deps.clock) : std::make_shared<SystemClock>()),
      ops_(deps.ops ? std::move(deps.ops) : std::make_shared<PosixFileOps>()),
      observer_(std::move(deps.observer)),
      dedup_(kDedupSlots) {
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
  std::vector<Answer> answers;
  std::vector<CheckpointPromise> waiters;
  {
    std::lock_guard lk(mu_);
    answers.swap(immediate_);
    waiters.swap(cp_waiters_);
    for (auto& c : q_cb_) answers.push_back({std::move(c.done), false});
    q_cb_.clear();
  }
  for (auto& c : pending_cb_) answers.push_back({std::move(c.done), state(c.ticket) == DurableState::durable});
  pending_cb_.clear();
  for (auto& a : answers) answer(a.done, a.ok);
  for (auto& w : waiters) w->set_value(std::nullopt);
  for (auto& w : cp_pending_) w.promise->set_value(std::nullopt);
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
    // The zeros written ahead of the records (preallocate) go with a torn line.
    const std::uintmax_t on_disk = fs::file_size(tail.newest, ec);
    if (tail.torn_bytes > 0 || (!ec && on_disk > tail.good_size)) {
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
      if (tail.torn_bytes > 0)
        detail += "; truncated a torn last line (" + std::to_string(tail.torn_bytes) +
                  " bytes, never acknowledged) of " + tail.newest.filename().string();
    } else if (tail.good_size > 0) {
      // The previous run's last records may still sit in the page cache only (the process
      // was killed, the machine was not): make them durable before the chain continues
      // from them, so that a later power loss cannot leave this run's records after a gap.
      // (The directory entry is synced by open_new_file below.)
      const int fd = ops_->open(tail.newest.string(), O_RDONLY, 0);
      if (fd < 0 || ops_->fsync(fd) != 0) {
        error = "cannot sync the previous run's last file " + tail.newest.string() + ": " + std::strerror(errno);
        if (fd >= 0) ops_->close(fd);
        return false;
      }
      ops_->close(fd);
    }
    // A file without a complete record (created just before a crash) holds nothing.
    if (tail.good_size == 0) fs::remove(tail.newest, ec);
    if (fs::exists(tail.newest, ec)) ops_->chmod(tail.newest.string(), 0440);
  }
  std::string genesis;
  if (tail.empty) {
    genesis = random_genesis();
    head_seq_ = 0;
    head_hash_ = genesis;
  } else {
    head_seq_ = tail.last_seq;
    head_hash_ = tail.head_hash;
  }
  committed_seq_ = head_seq_;
  committed_hash_ = head_hash_;
  next_seq_ = taken_seq_ = acked_ = synced_ = head_seq_;
  acked_pub_ = acked_;
  stats_.last_seq = stats_.appended = stats_.durable = head_seq_;
  if (!open_checkpoint_file(error) || !open_new_file(error)) return false;
  last_cp_ = last_sync_ = clock_->now();
  AuditRecord st;
  st.event = "audit.start";
  st.genesis = genesis;
  st.detail = detail;
  enqueue_internal(st);
  if (!drain_internal()) {
    error = "cannot write audit.start to " + path_ + ": " + std::strerror(fail_errno_);
    return false;
  }
  writer_ = std::thread([this] { run(); });
  return true;
}

// mu_ held. Encodes the body into the arena; no allocation once the arena, the entry
// vector and scratch_ have grown to the steady-state batch size.
AuditTicket FileSink::append_locked(const AuditRecord& r, Kind kind) {
  const std::size_t off = q_bytes_.size();
  BodyLayout lay;
  if (kind != Kind::checkpoint) {
    apply_statement_text_into(scratch_, cfg_.statement_text, r.statement, r.protocol);
    if (scratch_.size() > cfg_.max_statement_text) {
      AuditRecord capped = r;  // rare: a statement longer than max_statement_text
      capped.statement = scratch_;
      cap_statement_text(capped.statement, capped.statement_length, capped.statement_sha256,
                         cfg_.max_statement_text);
      append_body(q_bytes_, capped, capped.statement, &lay);
    } else {
      append_body(q_bytes_, r, scratch_, &lay);
    }
  } else {
    lay.head_end = lay.shape_end = off;
  }
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       clock_->now().time_since_epoch()).count();
  last_ts_us_ = std::max<std::int64_t>(last_ts_us_, now);  // ts never goes backwards along seq
  Entry e;
  e.seq = ++next_seq_;
  e.ts_us = last_ts_us_;
  e.off = static_cast<std::uint32_t>(off);
  e.len = static_cast<std::uint32_t>(q_bytes_.size() - off);
  e.head_len = static_cast<std::uint32_t>(lay.head_end - off);
  e.shape_len = static_cast<std::uint32_t>(lay.shape_end - lay.head_end);
  e.kind = kind;
  q_.push_back(e);
  if (kind == Kind::record) record_hi_ = e.seq;
  stats_.appended = e.seq;
  return AuditTicket{e.seq, epoch_, true};
}

AuditTicket FileSink::append(const AuditRecord& record) {
  bool wake = false;
  AuditTicket t;
  {
    std::lock_guard lk(mu_);
    const bool open = cfg_.on_failure == OnFailure::fail_open;
    if (stop_ || refusing_ || q_.size() >= cfg_.max_queue) {
      const bool accepted = open && !stop_;
      ++(accepted ? stats_.dropped : stats_.refused);
      if (!stop_) ++(accepted ? loss_dropped_ : loss_refused_);
      if (!stop_ && !refusing_ && observer_) observer_->queue_full();
      if (!stop_ && !refusing_ && !writer_kicked_) writer_kicked_ = wake = true;  // write the notice
      t = AuditTicket{0, epoch_, accepted};
    } else {
      t = append_locked(record, Kind::record);
    }
  }
  if (wake) cv_.notify_one();
  return t;
}

AuditTicket FileSink::enqueue_internal(const AuditRecord& r, Kind kind) {
  std::lock_guard lk(mu_);
  writer_kicked_ = true;
  return append_locked(r, kind);
}

DurableState FileSink::state_locked(const AuditTicket& t) const {
  if (t.seq == 0) return t.accepted ? DurableState::durable : DurableState::failed;
  if (t.epoch == epoch_) return t.seq <= acked_ ? DurableState::durable : DurableState::pending;
  const auto& [e, w] = epoch_end_[t.epoch % epoch_end_.size()];
  if (e == t.epoch && t.seq <= w) return DurableState::durable;
  // Lost with its epoch. fail_open: the submitter was promised "accepted" (counted, audited).
  return cfg_.on_failure == OnFailure::fail_open ? DurableState::durable : DurableState::failed;
}

DurableState FileSink::state(const AuditTicket& t) const {
  if (t.seq != 0) {
    // Without the lock for a ticket of the current epoch (state_locked's first case): an
    // acked value read between two loads of the same epoch was the watermark during that
    // epoch (the epoch only grows; all three are sequentially consistent, and acked_pub_
    // is stored after epoch_pub_ when both change).
    const std::uint64_t e1 = epoch_pub_.load();
    const std::uint64_t acked = acked_pub_.load();
    const std::uint64_t e2 = epoch_pub_.load();
    if (e1 == t.epoch && e2 == t.epoch) return t.seq <= acked ? DurableState::durable : DurableState::pending;
  }
  std::lock_guard lk(mu_);
  return state_locked(t);
}

std::uint64_t FileSink::last_appended() const {
  std::lock_guard lk(mu_);
  return next_seq_;
}

std::uint64_t FileSink::durable_seq() const {
  std::lock_guard lk(mu_);
  return synced_;
}

bool FileSink::wait_async(const AuditTicket& lowest, std::uint64_t highest_seq, DurableListener& l) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (state_locked(lowest) != DurableState::pending) return false;
    l.want_seq_ = lowest.seq;
    wake = note_waited_locked(std::max(lowest.seq, highest_seq));
    if (!writer_kicked_) writer_kicked_ = wake = true;  // a held wait starts the flush
  }
  if (wake) cv_.notify_one();
  return true;
}

// mu_ held. The writer's group window ends once every appended record is waited for.
bool FileSink::note_waited_locked(std::uint64_t seq) {
  waited_hi_ = std::max(waited_hi_, std::min(seq, next_seq_));
  return delaying_ && !records_in_flight(GroupWindowState{record_hi_, waited_hi_, taken_seq_, q_.size(), cfg_.max_queue});
}

// mu_ held: every seq after the durable watermark is lost (queued ones are dropped, the
// writer's in-flight batch may still reach the disk, but its waiters were told "failed").
void FileSink::end_epoch_locked(std::vector<Answer>& answers) {
  epoch_end_[epoch_ % epoch_end_.size()] = {epoch_, acked_};
  ++epoch_;
  epoch_pub_ = epoch_;
  const bool open = cfg_.on_failure == OnFailure::fail_open;
  std::uint64_t lost = 0;
  for (const Entry& e : q_) lost += e.kind == Kind::record;
  (open ? stats_.dropped : stats_.refused) += lost;
  (open ? loss_dropped_ : loss_refused_) += lost;
  q_.clear();
  q_bytes_.clear();
  for (auto& c : q_cb_) answers.push_back({std::move(c.done), open});
  q_cb_.clear();
  next_seq_ = taken_seq_;
  record_hi_ = std::min(record_hi_, next_seq_);
  waited_hi_ = std::min(waited_hi_, next_seq_);
  refusing_ = true;
  stats_.healthy = false;
}

void FileSink::timed_out(const AuditTicket& t) {
  std::vector<Answer> answers;
  {
    std::lock_guard lk(mu_);
    if (state_locked(t) != DurableState::pending) return;
    ++stats_.timeouts;
    ++timeouts_since_;
    stalled_ = true;
    end_epoch_locked(answers);
    for (auto& a : answers) immediate_.push_back(std::move(a));
    writer_kicked_ = true;
  }
  if (observer_) observer_->failed("max_wait");
  cv_.notify_one();
  notify_listeners();
}

void FileSink::add_listener(DurableListener& l) {
  std::lock_guard ll(listen_mu_);
  std::lock_guard lk(mu_);
  listeners_.push_back(&l);
  to_notify_.reserve(listeners_.size());
}

void FileSink::remove_listener(DurableListener& l) {
  std::lock_guard ll(listen_mu_);  // not while the writer is calling it
  std::lock_guard lk(mu_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), &l), listeners_.end());
  l.want_seq_ = 0;
}

// One call per waiting listener whose lowest wanted seq is no longer pending.
void FileSink::notify_listeners() {
  std::lock_guard ll(listen_mu_);
  to_notify_.clear();
  {
    std::lock_guard lk(mu_);
    for (DurableListener* l : listeners_) {
      if (l->want_seq_ == 0) continue;
      const AuditTicket probe{l->want_seq_, epoch_, true};
      if (l->want_seq_ <= acked_ || refusing_ || state_locked(probe) != DurableState::pending) {
        l->want_seq_ = 0;
        to_notify_.push_back(l);
      }
    }
  }
  durable_cv_.notify_all();
  for (DurableListener* l : to_notify_) l->durable_advanced();
}

bool FileSink::wait_durable(const AuditTicket& t) {
  std::unique_lock lk(mu_);
  if (state_locked(t) == DurableState::pending) {
    const bool ends_window = note_waited_locked(t.seq);
    if (!writer_kicked_ || ends_window) {
      writer_kicked_ = true;
      cv_.notify_one();
    }
  }
  if (!durable_cv_.wait_for(lk, cfg_.max_wait, [&] { return state_locked(t) != DurableState::pending; })) {
    lk.unlock();
    timed_out(t);
    return false;
  }
  return state_locked(t) == DurableState::durable;
}

void FileSink::submit(AuditRecord record, OnDurable on_durable) {
  submit_deferred(std::move(record), std::move(on_durable));
  kick_writer(true);
}

void FileSink::submit_deferred(AuditRecord record, OnDurable on_durable) {
  if (!on_durable) on_durable = [](bool) {};
  const AuditTicket t = append(record);
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    ++submitted_;
    if (t.seq == 0) {
      immediate_.push_back({std::move(on_durable), t.accepted});
      if (!writer_kicked_) writer_kicked_ = wake = true;
    } else if (t.epoch != epoch_) {  // lost between append and here
      immediate_.push_back({std::move(on_durable), state_locked(t) == DurableState::durable});
      if (!writer_kicked_) writer_kicked_ = wake = true;
    } else {
      q_cb_.push_back({t, std::move(on_durable)});
    }
  }
  if (wake) cv_.notify_one();
}

// waits_for_all: the caller waits for everything appended so far (the callback API does
// not say which records), so the writer holds no group window for them.
void FileSink::kick_writer(bool waits_for_all) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (waits_for_all) wake = note_waited_locked(next_seq_);
    if (!writer_kicked_) writer_kicked_ = wake = true;
  }
  if (wake) cv_.notify_one();
}

// Only the writer thread writes: an I/O thread never blocks on write()/fdatasync(), so a
// stalled disk cannot freeze sessions and their timeouts.
void FileSink::lead() { kick_writer(true); }

void FileSink::flush() {
  std::unique_lock lk(mu_);
  const std::uint64_t target = submitted_;
  answered_cv_.wait(lk, [&] { return answered_ >= target; });
}

SinkStats FileSink::stats() const {
  std::lock_guard lk(mu_);
  SinkStats s = stats_;
  s.queued = q_.size();
  s.durable = synced_;
  return s;
}

void FileSink::answer(OnDurable& done, bool ok) {
  if (!done) return;
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

std::optional<FileSink::CheckpointInfo> FileSink::force_checkpoint(std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::optional<CheckpointInfo>>>();
  auto f = p->get_future();
  {
    std::lock_guard lk(mu_);
    if (stop_) return std::nullopt;
    cp_waiters_.push_back(std::move(p));
    writer_kicked_ = true;
  }
  cv_.notify_one();
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
}

}  // namespace segproxy::audit
