#pragma once
// The JSON Lines file sink: one writer thread, bounded queue, group commit (one write +
// one fdatasync for every record queued meanwhile; deferred records wait for the next
// lead() or the writer's tick, so many sessions share one wake-up and one sync),
// rotation by size/time (rotated files become 0440 and are never written again),
// signed checkpoints every N records / T seconds (also appended to checkpoints.jsonl),
// fail_closed / fail_open with a recovery probe. See docs/audit.md.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <mutex>
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
  std::uint64_t last_seq = 0;
  // Every record up to this seq is written and synced (durability interval: as of the
  // last fdatasync): what may leave the host (the central store's shipper reads up to it).
  std::uint64_t durable_seq = 0;
  std::uint64_t queued = 0;    // submissions waiting for the writer
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
  struct Pending {
    std::string body;  // encode_body() of the submitted record (caller's thread)
    OnDurable done;
  };
  struct Answer {
    OnDurable done;
    bool ok;
  };
  using TimePoint = std::chrono::system_clock::time_point;

  FileSink(const AuditConfig& cfg, FileSinkDeps deps);
  bool start(std::string& error);
  void run();
  void enqueue(AuditRecord&& record, OnDurable&& on_durable, bool kick);
  void kick_writer();  // wakes the writer unless it was already woken for this queue
  void process(std::vector<Pending>& batch);
  void idle_work();
  bool commit();
  bool rotate();
  bool open_new_file(std::string& error);
  bool recover();
  void enter_failure(int err, const char* what);
  void rollback(int err, const char* what);
  void fail_all(std::vector<OnDurable>& dones);
  void note_losses();
  void append_notice(const char* event);
  bool open_checkpoint_file(std::string& error);
  void answer(OnDurable& done, bool ok);
  void answer_all(std::vector<OnDurable>& dones, bool ok);
  void stamp(AuditRecord& r);
  void append_ts(TimePoint t);  // ,"ts":"<format_timestamp(t)>" onto buf_
  void append_record(AuditRecord r, OnDurable done);
  void append_encoded(const std::string& body, OnDurable done);
  CheckpointInfo append_checkpoint();
  void answer_checkpoint_waiters();
  bool checkpoint_due() const;
  bool rotation_due() const;
  bool write_all(int fd, const std::string& data);
  void write_checkpoint_file();
  void close_file_readonly();

  AuditConfig cfg_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<FileOps> ops_;
  std::shared_ptr<SinkObserver> observer_;
  std::unique_ptr<CheckpointSigner> signer_;

  // Shared with submitters.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable answered_cv_;
  std::vector<Pending> queue_;  // swapped with the writer's batch (capacity reused)
  std::vector<Answer> immediate_;  // answered by the writer without writing
  std::vector<std::shared_ptr<std::promise<std::optional<CheckpointInfo>>>> cp_waiters_;
  bool stop_ = false;
  bool writer_kicked_ = false;  // notified since it last took the queue
  std::uint64_t submitted_ = 0;
  std::uint64_t answered_ = 0;
  SinkStats stats_;  // guarded by mu_ (writer updates under the lock)
  std::uint64_t queue_full_refused_ = 0;
  std::uint64_t queue_full_dropped_ = 0;

  // Writer thread only (and start(), before the thread runs).
  HashChain chain_{0, {}};
  HashChain committed_chain_{0, {}};
  std::uint64_t since_cp_ = 0, committed_since_cp_ = 0;
  TimePoint last_cp_{}, file_start_{}, last_ts_{}, last_sync_{};
  std::string buf_;                // encoded, not yet written
  std::vector<OnDurable> buf_done_;  // callbacks of records in buf_
  std::vector<std::string> buf_cp_lines_;  // checkpoint lines in buf_
  std::vector<OnDurable> answering_;  // commit(): callbacks being answered (reused)
  std::string instance_json_;  // ,"instance":"..." (empty when cfg_.instance is empty)
  Sha256 sha_;                 // reused digest context
  std::int64_t ts_second_ = -1;  // the second ts_prefix_ formats ("...T12:34:56.")
  std::string ts_prefix_;
  bool unsynced_ = false;          // interval durability: written but not synced
  int fd_ = -1;
  std::string path_;
  std::uint64_t file_bytes_ = 0;
  int cp_fd_ = -1;
  std::uint64_t cp_bytes_ = 0;
  std::uint64_t notice_refused_ = 0, notice_dropped_ = 0;  // counted by a notice in buf_
  bool notice_in_buf_ = false;
  bool failed_ = false;
  int fail_errno_ = 0;
  std::string fail_what_;
  std::string fail_since_;
  std::uint64_t fail_refused_ = 0, fail_dropped_ = 0;
  std::chrono::steady_clock::time_point next_probe_{};

  std::thread writer_;
};

}  // namespace segproxy::audit
