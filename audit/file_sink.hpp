#pragma once
// The JSON Lines file sink: one writer thread, bounded queue, group commit (one write +
// one fdatasync for every record queued meanwhile), a durable watermark that I/O threads
// wait on (one wake-up per group commit per waiting thread), rotation by size/time
// (rotated files become 0440 and are never written again), signed checkpoints every N
// records / T seconds (also appended to checkpoints.jsonl), fail_closed / fail_open with
// a recovery probe that always starts a new segment. See docs/audit.md.
//
// Files: file_sink.cpp (append, tickets, waits, the old callback API), file_sink_writer.cpp
// (writer loop, line assembly, de-duplication), file_sink_chain.cpp (segments, commit,
// failure and recovery, checkpoints).
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.hpp"
#include "audit/config.hpp"
#include "audit/file_ops.hpp"
#include "audit/hash_chain.hpp"
#include "audit/sink.hpp"

namespace segproxy::audit {

// Optional instrumentation (proxy metrics). Called from the writer thread, except
// queue_full (from submit, any thread): implementations must be thread-safe and cheap.
class SinkObserver {
 public:
  virtual ~SinkObserver() = default;
  // One batch on disk: `records` lines, write() took `write_seconds`, fdatasync took
  // `sync_seconds` (negative: no sync, durability interval).
  virtual void committed(std::size_t records, double write_seconds, double sync_seconds) = 0;
  // "write", "fdatasync", "rotate", ... (the failing step), when writing stops working.
  virtual void failed(const char* what) = 0;
  virtual void queue_full() = 0;
};

struct FileSinkDeps {
  std::shared_ptr<Clock> clock;  // default SystemClock
  std::shared_ptr<FileOps> ops;  // default PosixFileOps
  std::shared_ptr<SinkObserver> observer;  // may be null
};

struct SinkStats {
  std::uint64_t written = 0;   // records on disk (incl. audit.* records)
  std::uint64_t refused = 0;   // submissions answered false (fail_closed)
  std::uint64_t dropped = 0;   // submissions answered true but not written (fail_open)
  std::uint64_t batches = 0;   // successful commits
  std::uint64_t syncs = 0;     // fdatasync calls on log files
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpoint_file_errors = 0;
  std::uint64_t last_seq = 0;  // last record on disk
  std::uint64_t queued = 0;    // submissions waiting for the writer
  std::uint64_t appended = 0;  // seq of the last appended record
  std::uint64_t durable = 0;   // the durable watermark
  std::uint64_t deduplicated = 0;  // records written with same_as
  std::uint64_t segments = 0;  // log files created by this writer
  std::uint64_t timeouts = 0;  // waits that passed audit.max_wait
  std::uint64_t group_delays = 0;  // groups the writer held open for records in flight (group_delay)
  bool healthy = true;
};

class FileSink final : public AuditSink {
 public:
  // Creates cfg.dir (0750) if needed, loads the signing key, continues the chain of an
  // existing log (truncating a torn, never-acknowledged tail line) or starts a new one
  // from a random genesis, opens a new file and writes audit.start durably before the
  // writer thread starts. nullptr + error when any of that fails.
  static std::unique_ptr<FileSink> open(const AuditConfig& cfg, std::string& error,
                                        FileSinkDeps deps = {});
  ~FileSink() override;  // drains the queue, writes a final checkpoint, makes the file 0440

  // The write-ahead API (sink.hpp).
  AuditTicket append(const AuditRecord& record) override;
  DurableState state(const AuditTicket& t) const override;
  // Also tells the writer that every seq up to `highest_seq` is waited for (its group
  // window, group_window.hpp).
  using AuditSink::wait_async;
  bool wait_async(const AuditTicket& lowest, std::uint64_t highest_seq, DurableListener& l) override;
  void timed_out(const AuditTicket& t) override;
  void add_listener(DurableListener& l) override;
  void remove_listener(DurableListener& l) override;
  std::chrono::milliseconds max_wait() const override { return cfg_.max_wait; }
  std::uint64_t last_appended() const;  // seq of the last appended record
  std::uint64_t durable_seq() const;    // highest seq covered by a completed fdatasync
  // Blocks until `t` is not pending, at most audit.max_wait (then: timed_out(t), false).
  bool wait_durable(const AuditTicket& t);

  // The callback API (sink.hpp): append + one callback from the writer thread.
  using AuditSink::submit;
  void submit(AuditRecord record, OnDurable on_durable) override;
  void submit_deferred(AuditRecord record, OnDurable on_durable) override;
  // Wakes the writer thread for what is queued (never writes on the calling thread).
  void lead() override;

  // Blocks until every submission made before the call has been answered.
  void flush();
  // Writes a signed audit.checkpoint now (also when nothing was written since the last
  // one) and waits until it is durable. nullopt when the log cannot be written or the
  // writer did not answer within `timeout`.
  struct CheckpointInfo {
    std::uint64_t seq = 0;       // the checkpoint record's own seq
    std::uint64_t head_seq = 0;  // the record it signs
    std::string head_hash;
    bool signed_ = false;
  };
  std::optional<CheckpointInfo> force_checkpoint(std::chrono::milliseconds timeout);
  SinkStats stats() const;

 private:
  using TimePoint = std::chrono::system_clock::time_point;
  // record: a submitter's; internal: the writer's own (audit.start, notices); checkpoint:
  // a reserved seq the writer fills in when it gets there (head = the record before it).
  enum class Kind : std::uint8_t { record, internal, checkpoint };
  // One queued record: its body (canonical fields "event" .. "signature", see
  // record_codec append_body) lives in the queue's byte arena at [off, off + len);
  // body = head (event .. backend_user) | shape (statement .. reason) | tail.
  struct Entry {
    std::uint64_t seq = 0;
    std::int64_t ts_us = 0;  // microseconds since the epoch, assigned at append
    std::uint32_t off = 0, len = 0, head_len = 0, shape_len = 0;
    Kind kind = Kind::record;
  };
  struct Callback {
    AuditTicket ticket;
    OnDurable done;
  };
  struct Answer {
    OnDurable done;
    bool ok;
  };
  using CheckpointPromise = std::shared_ptr<std::promise<std::optional<CheckpointInfo>>>;
  // The writer's de-duplication table (same_as): head + shape of a recent record.
  struct DedupSlot {
    std::uint64_t seq = 0;
    std::string key;
  };

  FileSink(const AuditConfig& cfg, FileSinkDeps deps);
  bool start(std::string& error);

  // file_sink.cpp
  AuditTicket append_locked(const AuditRecord& r, Kind kind);  // mu_ held
  DurableState state_locked(const AuditTicket& t) const;
  void end_epoch_locked(std::vector<Answer>& answers);  // mu_ held: pending seqs fail
  void kick_writer(bool waits_for_all);
  // mu_ held: `seq` is waited for; true when that ends the writer's group window.
  bool note_waited_locked(std::uint64_t seq);
  void notify_listeners();  // writer or waiter thread, mu_ not held
  void answer(OnDurable& done, bool ok);

  // file_sink_writer.cpp (writer thread)
  void run();
  // mu_ held by `lk`: the group commit window (audit.group_delay).
  void group_window(std::unique_lock<std::mutex>& lk);
  void process(const std::string& bytes, const std::vector<Entry>& batch);
  void append_line(const std::string& bytes, const Entry& e);
  void append_ts(std::int64_t ts_us);
  void append_checkpoint_line(const Entry& e);
  void answer_callbacks();
  void publish_durable();
  void idle_work();
  AuditTicket enqueue_internal(const AuditRecord& r, Kind kind = Kind::internal);
  bool write_notice(const char* event);
  void resolve_checkpoints(bool failed);
  bool drain_internal();

  // file_sink_chain.cpp (writer thread)
  bool commit();
  bool rotate();
  bool open_new_file(std::string& error);
  bool recover();
  void fail_write(int err, const char* what);
  void enter_failure(int err, const char* what);
  void retire_file();
  bool open_checkpoint_file(std::string& error);
  bool checkpoint_due() const;
  bool rotation_due() const;
  bool write_all(int fd, const char* data, std::size_t n);
  void write_checkpoint_file();
  void close_file_readonly();
  // Zeros ahead of the records up to at least `need` bytes (docs/audit.md "Preallocated
  // segments"); best effort.
  void preallocate(std::uint64_t need);

  AuditConfig cfg_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<FileOps> ops_;
  std::shared_ptr<SinkObserver> observer_;
  std::unique_ptr<CheckpointSigner> signer_;

  // Shared with submitters (mu_).
  mutable std::mutex mu_;
  std::condition_variable cv_;           // wakes the writer
  mutable std::condition_variable durable_cv_;   // wait_durable()
  std::condition_variable answered_cv_;  // flush()
  std::string q_bytes_;                  // arena of queued bodies (swapped with the writer's)
  std::vector<Entry> q_;                 // queued entries in seq order (swapped)
  std::vector<Callback> q_cb_;           // callbacks of queued entries (callback API)
  std::vector<Answer> immediate_;        // answered by the writer without writing
  std::vector<CheckpointPromise> cp_waiters_;
  std::string scratch_;                  // statement text under audit.statement_text
  std::uint64_t next_seq_ = 0;           // last assigned seq
  std::uint64_t taken_seq_ = 0;          // last seq the writer has taken from the queue
  std::uint64_t record_hi_ = 0;          // seq of the last submitter's record appended
  std::uint64_t waited_hi_ = 0;          // highest seq a wait (or lead / submit) asked for
  bool delaying_ = false;                // the writer is in its group window
  std::uint64_t acked_ = 0;              // watermark: durable (written, for `interval`)
  // Copies of acked_ and epoch_, stored under mu_ where those change, read by state()
  // without the lock (the I/O threads ask for every wait; the writer holds mu_ meanwhile).
  std::atomic<std::uint64_t> acked_pub_{0};
  std::atomic<std::uint64_t> epoch_pub_{1};
  std::uint64_t synced_ = 0;             // covered by a completed fdatasync
  std::uint64_t epoch_ = 1;
  std::array<std::pair<std::uint64_t, std::uint64_t>, 64> epoch_end_{};  // (epoch, watermark)
  std::int64_t last_ts_us_ = 0;
  bool refusing_ = false;                // failed or stalled: appends are refused / dropped
  bool stalled_ = false;                 // a wait passed max_wait (the writer must resume)
  std::uint64_t loss_refused_ = 0, loss_dropped_ = 0;  // not yet reported by a notice
  std::uint64_t timeouts_since_ = 0;
  std::vector<DurableListener*> listeners_;
  bool stop_ = false;
  bool writer_kicked_ = false;
  std::uint64_t submitted_ = 0;
  std::uint64_t answered_ = 0;
  SinkStats stats_;

  std::mutex listen_mu_;  // held while listeners are called (remove_listener waits for it)
  std::vector<DurableListener*> to_notify_;  // guarded by listen_mu_

  // Writer thread only (and start(), before the thread runs).
  std::string w_bytes_;
  std::vector<Entry> w_batch_;
  std::vector<Callback> w_cb_in_;  // swapped with q_cb_
  std::deque<Callback> pending_cb_;
  std::vector<Answer> w_answers_;
  std::vector<CheckpointPromise> w_cp_waiters_;
  struct CheckpointWait {
    std::uint64_t seq = 0;  // the reserved checkpoint's seq
    CheckpointPromise promise;
    CheckpointInfo info;
  };
  std::vector<CheckpointWait> cp_pending_;
  std::string resume_reason_;  // what the next audit.resume reports
  std::uint64_t head_seq_ = 0, committed_seq_ = 0;
  std::string head_hash_, committed_hash_;
  std::uint64_t since_cp_ = 0, committed_since_cp_ = 0;
  bool cp_reserved_ = false;
  TimePoint last_cp_{}, file_start_{}, last_sync_{};
  std::string buf_;                         // encoded, not yet written
  std::uint64_t buf_records_ = 0;
  std::uint64_t buf_dedup_ = 0;
  std::vector<std::string> buf_cp_lines_;   // checkpoint lines in buf_
  std::vector<DedupSlot> dedup_;
  std::string instance_json_;  // ,"instance":"..." (empty when cfg_.instance is empty)
  Sha256 sha_;
  std::int64_t ts_second_ = -1;
  std::string ts_prefix_;
  bool unsynced_ = false;
  int fd_ = -1;
  std::string path_;
  std::uint64_t file_first_seq_ = 0;
  std::uint64_t file_bytes_ = 0;   // records written to the segment (its data end)
  std::uint64_t zeroed_end_ = 0;   // the segment's size: zeros from file_bytes_ to here
  bool prealloc_failed_ = false;   // this segment grows with its records instead
  int cp_fd_ = -1;
  std::uint64_t cp_bytes_ = 0;
  bool failed_ = false;
  int fail_errno_ = 0;
  std::string fail_what_;
  std::string fail_since_;
  std::chrono::steady_clock::time_point next_probe_{};

  std::thread writer_;
};

}  // namespace segproxy::audit
