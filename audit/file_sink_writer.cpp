// FileSink, the writer thread: the loop (take everything queued in one swap, write it as
// one group, answer), line assembly (seq, ts, instance spliced around the body, hash
// chain, same_as de-duplication of repeated statements), checkpoint lines, notices and
// the idle work (overload notices, checkpoint cadence, interval syncs, recovery probes).
#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "audit/file_sink.hpp"
#include "audit/group_window.hpp"
#include "audit/record_codec.hpp"

namespace segproxy::audit {
namespace {

constexpr auto kTick = std::chrono::milliseconds(50);

std::uint64_t fnv1a(std::string_view a, std::string_view b) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : a) h = (h ^ c) * 1099511628211ull;
  for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

}  // namespace

void FileSink::run() {
  // Named for operators (top -H, /proc/<pid>/task/*/comm) and for the tests that stall it.
  pthread_setname_np(pthread_self(), "segproxy-audit");
  for (;;) {
    bool stopping = false;
    {
      // Deferred submissions do not wake the writer: it takes them at the next kick
      // (a wait, lead()) or tick.
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, kTick, [&] {
        return stop_ || writer_kicked_ || !immediate_.empty() || !cp_waiters_.empty();
      });
      if (writer_kicked_ && !stop_) group_window(lk);
      stopping = stop_;
    }
    drain_internal();
    idle_work();
    if (stopping) {
      std::lock_guard lk(mu_);
      if (q_.empty() && immediate_.empty() && cp_waiters_.empty()) break;
    }
  }
  if (!failed_ && since_cp_ > 0) {
    enqueue_internal(AuditRecord{}, Kind::checkpoint);
    drain_internal();
  }
}

// mu_ held by `lk`. Waits up to audit.group_delay while records of other sessions are in
// flight (audit/group_window.hpp); a wait that covers them all (note_waited_locked) ends it.
void FileSink::group_window(std::unique_lock<std::mutex>& lk) {
  if (cfg_.durability != Durability::group || refusing_) return;
  const auto counters = [&] { return GroupWindowState{record_hi_, waited_hi_, taken_seq_, q_.size(), cfg_.max_queue}; };
  if (!hold_group_open(counters(), cfg_.group_delay)) return;
  ++stats_.group_delays;
  delaying_ = true;
  cv_.wait_for(lk, cfg_.group_delay, [&] {
    return stop_ || !cp_waiters_.empty() || !hold_group_open(counters(), cfg_.group_delay);
  });
  delaying_ = false;
}

// Takes everything queued (one swap; the capacities go back and forth), writes it as one
// group and answers. false when the log is (now) failed.
bool FileSink::drain_internal() {
  {
    std::lock_guard lk(mu_);
    w_bytes_.swap(q_bytes_);
    w_batch_.swap(q_);
    w_cb_in_.swap(q_cb_);
    w_answers_.swap(immediate_);
    w_cp_waiters_.swap(cp_waiters_);
    taken_seq_ = next_seq_;
    writer_kicked_ = false;
  }
  for (auto& a : w_answers_) answer(a.done, a.ok);
  w_answers_.clear();
  for (auto& c : w_cb_in_) pending_cb_.push_back(std::move(c));
  w_cb_in_.clear();
  for (auto& w : w_cp_waiters_) {
    if (failed_) {
      w->set_value(std::nullopt);
      continue;
    }
    const AuditTicket t = enqueue_internal(AuditRecord{}, Kind::checkpoint);
    cp_pending_.push_back({t.seq, std::move(w), {}});
  }
  w_cp_waiters_.clear();
  if (!w_batch_.empty()) process(w_bytes_, w_batch_);
  w_batch_.clear();
  w_bytes_.clear();
  answer_callbacks();
  return !failed_;
}

void FileSink::process(const std::string& bytes, const std::vector<Entry>& batch) {
  for (const Entry& e : batch) {
    if (failed_) return;  // the rest was lost with the failed write (fail_write)
    if (rotation_due() && !(commit() && rotate())) return;
    if (e.seq != head_seq_ + 1) {  // cannot happen: seqs are assigned under the lock in order
      fail_write(EINVAL, "sequence");
      return;
    }
    if (e.kind == Kind::checkpoint) append_checkpoint_line(e);
    else append_line(bytes, e);
    if (cfg_.durability == Durability::fsync_each && !commit()) return;
    if (!cp_reserved_ && checkpoint_due()) {
      enqueue_internal(AuditRecord{}, Kind::checkpoint);
      cp_reserved_ = true;
    }
  }
  commit();
}

// Same bytes as R"(,"ts":)" + append_json_string(format_timestamp(t)): the part up to
// the second is formatted once per second, without allocating.
void FileSink::append_ts(std::int64_t ts_us) {
  std::int64_t sec = ts_us / 1000000;
  std::int64_t frac = ts_us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --sec;
  }
  if (sec != ts_second_) {
    const std::time_t tt = static_cast<std::time_t>(sec);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[48];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    ts_prefix_.assign(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    ts_second_ = sec;
  }
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

// The canonical line of entry `e` (what encode_record gives for the record with seq, ts,
// instance, prev_hash and hash assigned), hashed into the chain. A statement record whose
// head (event, session fields) and statement fields equal those of a record written
// earlier in this file is written with "same_as" instead of its statement fields.
void FileSink::append_line(const std::string& bytes, const Entry& e) {
  const std::string_view body(bytes.data() + e.off, e.len);
  const std::string_view head = body.substr(0, e.head_len);
  const std::string_view shape = body.substr(e.head_len, e.shape_len);
  const std::string_view tail = body.substr(e.head_len + e.shape_len);
  const std::size_t start = buf_.size();
  buf_ += R"({"seq":)";
  append_uint(buf_, e.seq);
  append_ts(e.ts_us);
  buf_ += instance_json_;
  bool dedup = false;
  if (e.kind == Kind::record && !shape.empty() && head.find(R"(,"session_id":)") != std::string_view::npos) {
    DedupSlot& slot = dedup_[fnv1a(head, shape) % dedup_.size()];
    if (slot.seq != 0 && slot.seq >= file_first_seq_ && slot.key.size() == head.size() + shape.size() &&
        std::string_view(slot.key).substr(0, head.size()) == head &&
        std::string_view(slot.key).substr(head.size()) == shape) {
      buf_ += head;
      buf_ += R"(,"same_as":)";
      append_uint(buf_, slot.seq);
      buf_ += tail;
      dedup = true;
    } else {
      slot.seq = e.seq;
      slot.key.assign(head);
      slot.key.append(shape);
    }
  }
  if (!dedup) buf_ += body;
  buf_ += R"(,"prev_hash":")";
  buf_ += head_hash_;
  buf_ += '"';
  // hash = SHA-256(prev_hash || encode_record(r, with_hash=false))
  char hex[64];
  sha_.hex_into(hex, head_hash_, std::string_view(buf_).substr(start), "}");
  buf_ += R"(,"hash":")";
  buf_.append(hex, sizeof hex);
  buf_ += "\"}\n";
  head_seq_ = e.seq;
  head_hash_.assign(hex, sizeof hex);
  ++since_cp_;
  ++buf_records_;
  buf_dedup_ += dedup;
}

void FileSink::append_checkpoint_line(const Entry& e) {
  AuditRecord cp;
  cp.event = "audit.checkpoint";
  cp.seq = e.seq;
  cp.ts = format_timestamp(TimePoint(std::chrono::microseconds(e.ts_us)));
  cp.instance = cfg_.instance;
  cp.head_seq = head_seq_;
  cp.head_hash = head_hash_;
  cp.prev_hash = head_hash_;
  if (signer_) {
    try {
      signer_->sign(cp);
    } catch (const std::exception& ex) {
      cp.key_id.clear();
      cp.signature.clear();
      cp.detail = std::string("signing failed: ") + ex.what();
    }
  }
  cp.hash = compute_record_hash(cp);
  std::string line = encode_record(cp);
  buf_ += line;
  buf_ += '\n';
  buf_cp_lines_.push_back(std::move(line));
  for (auto& w : cp_pending_) {
    if (w.seq == e.seq) w.info = CheckpointInfo{cp.seq, head_seq_, head_hash_, !cp.signature.empty()};
  }
  head_seq_ = e.seq;
  head_hash_ = cp.hash;
  since_cp_ = 0;
  ++buf_records_;
  last_cp_ = clock_->now();
  cp_reserved_ = false;
}

// Callbacks (callback API) in seq order, once their records are no longer pending.
void FileSink::answer_callbacks() {
  while (!pending_cb_.empty()) {
    const DurableState st = state(pending_cb_.front().ticket);
    if (st == DurableState::pending) break;
    answer(pending_cb_.front().done, st == DurableState::durable);
    pending_cb_.pop_front();
  }
}

// Forced checkpoints: answered once their line is durable (or lost with a failure).
void FileSink::resolve_checkpoints(bool failed) {
  std::size_t keep = 0;
  for (std::size_t i = 0; i < cp_pending_.size(); ++i) {
    CheckpointWait& w = cp_pending_[i];
    if (w.seq <= committed_seq_ && w.info.seq == w.seq) {
      w.promise->set_value(w.info);
    } else if (failed && w.seq > committed_seq_) {
      w.promise->set_value(std::nullopt);
    } else {
      if (keep != i) cp_pending_[keep] = std::move(w);
      ++keep;
    }
  }
  cp_pending_.resize(keep);
}

bool FileSink::write_notice(const char* event) {
  AuditRecord r;
  r.event = event;
  std::uint64_t refused = 0, dropped = 0;
  {
    std::lock_guard lk(mu_);
    refused = loss_refused_;
    dropped = loss_dropped_;
    loss_refused_ = loss_dropped_ = 0;
  }
  std::string d = std::string_view(event) == "audit.resume" ? resume_reason_
                                                             : "queue full (max_queue " + std::to_string(cfg_.max_queue) + ")";
  if (refused)
    d += "; " + std::to_string(refused) + " submissions refused (fail_closed: never acknowledged, never executed)";
  if (dropped)
    d += "; " + std::to_string(dropped) + " records lost (fail_open: acknowledged without being written)";
  r.detail = std::move(d);
  enqueue_internal(r);
  if (drain_internal()) return true;
  std::lock_guard lk(mu_);
  loss_refused_ += refused;
  loss_dropped_ += dropped;
  return false;
}

void FileSink::idle_work() {
  bool stalled = false, losses = false;
  {
    std::lock_guard lk(mu_);
    stalled = stalled_;
    losses = loss_refused_ != 0 || loss_dropped_ != 0;
  }
  if (failed_ || stalled) {
    if (stalled || std::chrono::steady_clock::now() >= next_probe_) recover();
    return;
  }
  if (losses && !write_notice("audit.overload")) return;
  if (!cp_reserved_ && checkpoint_due()) {
    enqueue_internal(AuditRecord{}, Kind::checkpoint);
    cp_reserved_ = true;
    if (!drain_internal()) return;
  }
  if (unsynced_ && clock_->now() - last_sync_ >= cfg_.sync_interval) {
    {
      std::lock_guard lk(mu_);
      ++stats_.syncs;
    }
    if (ops_->fdatasync(fd_) != 0) {
      fail_write(errno, "fdatasync (interval durability: acknowledged records may be lost)");
      return;
    }
    unsynced_ = false;
    last_sync_ = clock_->now();
    std::lock_guard lk(mu_);
    synced_ = committed_seq_;
  }
}

}  // namespace segproxy::audit
