// FileSink: group commit, gap-free seq, rotation with the chain kept and 0440 files,
// checkpoints, restart, fail_closed / fail_open with recovery, bounded queue.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <future>
#include <thread>

#include "audit/record_codec.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(FileSink, ManyThreadsGroupCommitAllAcknowledgedSeqGapFreeAndVerifiable) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  constexpr int kThreads = 8, kPer = 250;
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i)
        sink->submit(statement_record(t * kPer + i), [&](bool good) { ++(good ? ok : bad); });
    });
  }
  for (auto& th : threads) th.join();
  sink->flush();
  EXPECT_EQ(ok.load(), kThreads * kPer);
  EXPECT_EQ(bad.load(), 0);
  const SinkStats st = sink->stats();
  EXPECT_LT(st.syncs, static_cast<std::uint64_t>(kThreads * kPer));  // shared fdatasyncs
  sink.reset();
  const auto recs = all_records(dir.path());
  ASSERT_GE(recs.size(), static_cast<std::size_t>(kThreads * kPer + 1));
  for (std::size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].seq, i + 1);
  EXPECT_EQ(recs.front().event, "audit.start");
  EXPECT_EQ(recs.back().event, "audit.checkpoint");  // final checkpoint on close
  EXPECT_EQ(recs[1].instance, "proxy-a");
  EXPECT_EQ(recs[1].statement.find_first_of("0123456789"), std::string::npos);  // normalized
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
  EXPECT_EQ(v.records, recs.size());
}

TEST(FileSink, TicketWaitsUntilDurable) {
  TempDir dir;
  std::string err;
  auto cfg = base_config(dir.path());
  cfg.durability = Durability::fsync_each;
  cfg.statement_text = StatementText::full;
  auto sink = FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  Ticket t = sink->submit(statement_record(7));
  EXPECT_TRUE(t.wait());
  EXPECT_TRUE(t.ready());
  const std::string data = slurp(log_paths(dir.path()).back());
  EXPECT_NE(data.find("where id = 7"), std::string::npos);  // full text kept
}

TEST(FileSink, RotationKeepsTheChainAcrossFilesAndMakesRotatedFilesReadOnly) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  auto cfg = base_config(dir.path());
  cfg.rotate_size = 2000;
  std::string err;
  auto sink = FileSink::open(cfg, err, {clock, nullptr, nullptr});
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(sink->submit(statement_record(i)).wait());
  clock->advance(1s);
  sink.reset();
  const auto files = log_paths(dir.path());
  ASSERT_GE(files.size(), 3u);
  for (const auto& f : files) {
    const auto perms = fs::status(f).permissions();
    EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_read | fs::perms::group_read) << f;
    EXPECT_LE(fs::file_size(f), 2000u + 1000u);
  }
  // File names carry the first seq; the first record of file k chains from file k-1.
  std::string prev_last_hash;
  for (const auto& f : files) {
    const auto lines = lines_of(slurp(f));
    std::string e;
    auto first = decode_record(lines.front(), e);
    auto last = decode_record(lines.back(), e);
    ASSERT_TRUE(first && last);
    EXPECT_EQ(parse_log_file_name(f.filename().string()), first->seq);
    if (!prev_last_hash.empty()) {
      EXPECT_EQ(first->prev_hash, prev_last_hash);
    }
    prev_last_hash = last->hash;
  }
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
  EXPECT_EQ(v.files, files.size());
}

TEST(FileSink, TimeRotationUsesTheInjectedClock) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  auto cfg = base_config(dir.path());
  cfg.rotate_every = 3600s;
  std::string err;
  auto sink = FileSink::open(cfg, err, {clock, nullptr, nullptr});
  ASSERT_TRUE(sink) << err;
  EXPECT_TRUE(sink->submit(statement_record(1)).wait());
  clock->advance(3601s);
  EXPECT_TRUE(sink->submit(statement_record(2)).wait());
  sink.reset();
  EXPECT_EQ(log_paths(dir.path()).size(), 2u);
  EXPECT_TRUE(verify(dir.path()).ok());
}

TEST(FileSink, CheckpointsEveryNRecordsAndEveryTSecondsSignedAndCopiedToCheckpointFile) {
  TempDir dir;
  const auto keys = generate_ed25519_pem();
  spit(dir / "signing.pem", keys.private_pem);
  spit(dir / "public.pem", keys.public_pem);
  const fs::path logdir = dir / "log";
  auto clock = std::make_shared<ManualClock>();
  auto cfg = base_config(logdir);
  cfg.signing_key = dir / "signing.pem";
  cfg.checkpoint_every_records = 10;
  cfg.checkpoint_every = 60s;
  std::string err;
  auto sink = FileSink::open(cfg, err, {clock, nullptr, nullptr});
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 25; ++i) EXPECT_TRUE(sink->submit(statement_record(i)).wait());
  EXPECT_EQ(sink->stats().checkpoints, 2u);  // after 10 and 20 records (audit.start counts)
  clock->advance(61s);
  for (int i = 0; i < 100 && sink->stats().checkpoints < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(sink->stats().checkpoints, 3u);  // time trigger while idle
  sink.reset();
  const auto cps = lines_of(slurp(logdir / kCheckpointFileName));
  EXPECT_EQ(cps.size(), 3u);  // the final close adds none: nothing new since the last one
  std::string e;
  auto cp = decode_record(cps.front(), e);
  ASSERT_TRUE(cp) << e;
  EXPECT_EQ(cp->event, "audit.checkpoint");
  EXPECT_EQ(*cp->head_seq + 1, cp->seq);
  EXPECT_FALSE(cp->signature.empty());
  const VerifyResult v = verify(logdir, dir / "public.pem");
  EXPECT_TRUE(v.ok()) << v.summary();
  EXPECT_EQ(v.checkpoints, 3u);
  EXPECT_EQ(v.signatures_verified, 6u);  // in the log and in the checkpoint file
}

TEST(FileSink, RestartContinuesTheChainAndTruncatesATornUnacknowledgedTail) {
  TempDir dir;
  std::string err;
  {
    auto sink = FileSink::open(base_config(dir.path()), err);
    ASSERT_TRUE(sink) << err;
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(sink->submit(statement_record(i)).wait());
  }
  // Simulate kill -9 during a write: a partial line at the end of the newest file.
  const fs::path newest = log_paths(dir.path()).back();
  spit(newest, slurp(newest) + R"({"seq":99,"ts":"2026)");
  EXPECT_EQ(verify(dir.path()).status, VerifyStatus::torn_tail);
  {
    auto sink = FileSink::open(base_config(dir.path()), err);
    ASSERT_TRUE(sink) << err;
    EXPECT_TRUE(sink->submit(statement_record(9)).wait());
  }
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
  EXPECT_EQ(log_paths(dir.path()).size(), 2u);
  const auto recs = all_records(dir.path());
  std::size_t starts = 0;
  for (const auto& r : recs) {
    if (r.event != "audit.start") continue;
    ++starts;
    if (r.seq > 1) {
      EXPECT_TRUE(r.genesis.empty());
      EXPECT_NE(r.detail.find("torn"), std::string::npos);
    }
  }
  EXPECT_EQ(starts, 2u);
}

TEST(FileSink, FailClosedOnEnospcRefusesThenResumesByItselfWithAValidChain) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  auto cfg = base_config(dir.path());
  std::string err;
  auto sink = FileSink::open(cfg, err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  EXPECT_TRUE(sink->submit(statement_record(1)).wait());
  ops->write_errno = ENOSPC;
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(sink->submit(statement_record(2)).wait());
  EXPECT_FALSE(sink->stats().healthy);
  EXPECT_EQ(sink->stats().refused, 5u);
  ops->write_errno = 0;
  // Resumes by itself (probe) even without traffic, then accepts again.
  for (int i = 0; i < 200 && !sink->stats().healthy; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(sink->stats().healthy);
  EXPECT_TRUE(sink->submit(statement_record(3)).wait());
  sink.reset();
  const VerifyResult v = verify(dir.path());
  ASSERT_TRUE(v.ok()) << v.summary();
  const auto recs = all_records(dir.path());
  bool resumed = false;
  for (const auto& r : recs) {
    if (r.event == "audit.resume") {
      resumed = true;
      EXPECT_NE(r.detail.find("No space left on device"), std::string::npos) << r.detail;
      EXPECT_NE(r.detail.find("5 submissions refused"), std::string::npos) << r.detail;
    }
  }
  EXPECT_TRUE(resumed);
  // Only acknowledged statements are in the log: 1 before and 1 after the fault.
  std::size_t statements = 0;
  for (const auto& r : recs) statements += r.event == "statement.decision";
  EXPECT_EQ(statements, 2u);
}

TEST(FileSink, FailClosedOnFdatasyncEioRefusesTheBatchAndRollsItBack) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  ops->sync_errno = EIO;
  EXPECT_FALSE(sink->submit(statement_record(1)).wait());
  ops->sync_errno = 0;
  for (int i = 0; i < 200 && !sink->stats().healthy; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(sink->submit(statement_record(2)).wait());
  sink.reset();
  EXPECT_TRUE(verify(dir.path()).ok()) << verify(dir.path()).summary();
  std::size_t statements = 0;
  for (const auto& r : all_records(dir.path())) statements += r.event == "statement.decision";
  EXPECT_EQ(statements, 1u);  // the refused record was truncated away
}

TEST(FileSink, FailOpenAcknowledgesDuringTheFaultAndAuditsTheLossOnRecovery) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  auto cfg = base_config(dir.path());
  cfg.on_failure = OnFailure::fail_open;
  std::string err;
  auto sink = FileSink::open(cfg, err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  ops->write_errno = EIO;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(sink->submit(statement_record(i)).wait());
  EXPECT_EQ(sink->stats().dropped, 3u);
  ops->write_errno = 0;
  for (int i = 0; i < 200 && !sink->stats().healthy; ++i) std::this_thread::sleep_for(10ms);
  sink.reset();
  bool audited = false;
  for (const auto& r : all_records(dir.path()))
    if (r.event == "audit.resume" && r.detail.find("3 records lost") != std::string::npos)
      audited = true;
  EXPECT_TRUE(audited);
  EXPECT_TRUE(verify(dir.path()).ok());
}

// Blocks the writer inside write() until released, so the queue can fill up.
class GateFileOps : public PosixFileOps {
 public:
  std::atomic<bool> closed{false};
  std::atomic<bool> entered{false};
  ssize_t write(int fd, const void* d, std::size_t n) override {
    while (closed.load()) {
      entered = true;
      std::this_thread::sleep_for(1ms);
    }
    return PosixFileOps::write(fd, d, n);
  }
};

TEST(FileSink, QueueFullPastItsBoundRefusesUnderFailClosed) {
  TempDir dir;
  auto ops = std::make_shared<GateFileOps>();
  auto cfg = base_config(dir.path());
  cfg.max_queue = 4;
  std::string err;
  auto sink = FileSink::open(cfg, err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  ops->closed = true;
  auto first = sink->submit(statement_record(0));
  while (!ops->entered) std::this_thread::sleep_for(1ms);
  std::vector<Ticket> tickets;
  for (int i = 0; i < 10; ++i) tickets.push_back(sink->submit(statement_record(i)));
  ops->closed = false;
  EXPECT_TRUE(first.wait());
  int ok = 0, refused = 0;
  for (auto& t : tickets) ++(t.wait() ? ok : refused);
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(refused, 6);
  sink.reset();
  EXPECT_TRUE(verify(dir.path()).ok());
  bool noted = false;
  for (const auto& r : all_records(dir.path()))
    noted |= r.event == "audit.overload" && r.detail.find("6 submissions refused") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(FileSink, OpenFailsWhenTheSigningKeyIsMissing) {
  TempDir dir;
  auto cfg = base_config(dir / "log");
  cfg.signing_key = dir / "missing.pem";
  std::string err;
  EXPECT_FALSE(FileSink::open(cfg, err));
  EXPECT_NE(err.find("missing.pem"), std::string::npos);
}

// The previous run's records may be in the page cache only (kill -9 of the process, not of
// the machine): the restarted writer syncs that file before its chain continues from it,
// and refuses to start when it cannot.
TEST(FileSink, RestartSyncsThePreviousRunsLastFileBeforeTheChainContinuesFromIt) {
  class SyncRecordingOps : public FaultyFileOps {
   public:
    std::mutex mu;
    std::map<int, std::string> paths;
    std::vector<std::string> fsynced;
    int fsync_errno = 0;
    int open(const std::string& path, int flags, mode_t mode) override {
      const int fd = PosixFileOps::open(path, flags, mode);
      std::lock_guard lk(mu);
      if (fd >= 0) paths[fd] = path;
      return fd;
    }
    int fsync(int fd) override {
      std::lock_guard lk(mu);
      const std::string path = paths.count(fd) ? paths[fd] : std::string();
      if (fsync_errno != 0 && path.find("/audit-") != std::string::npos) {
        errno = fsync_errno;
        return -1;
      }
      fsynced.push_back(path);
      return PosixFileOps::fsync(fd);
    }
  };
  TempDir dir;
  std::string err;
  {
    auto sink = FileSink::open(base_config(dir.path()), err);
    ASSERT_TRUE(sink) << err;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(sink->submit(statement_record(i)).wait());
  }
  const std::string previous = log_paths(dir.path()).back().string();
  auto ops = std::make_shared<SyncRecordingOps>();
  {
    auto sink = FileSink::open(base_config(dir.path()), err, {nullptr, ops, nullptr});
    ASSERT_TRUE(sink) << err;
    std::lock_guard lk(ops->mu);
    EXPECT_NE(std::find(ops->fsynced.begin(), ops->fsynced.end(), previous), ops->fsynced.end())
        << "the previous run's last file was not synced";
  }
  auto failing = std::make_shared<SyncRecordingOps>();
  failing->fsync_errno = EIO;
  auto sink = FileSink::open(base_config(dir.path()), err, {nullptr, failing, nullptr});
  EXPECT_FALSE(sink);
  EXPECT_NE(err.find("cannot sync the previous run's last file"), std::string::npos) << err;
  EXPECT_TRUE(verify(dir.path()).ok());
}

TEST(FileSink, RestartRemovesAnEmptyNewestFileLeftByACrashRightAfterRotation) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  std::string err;
  {
    auto sink = FileSink::open(base_config(dir.path()), err, {clock, nullptr, nullptr});
    ASSERT_TRUE(sink) << err;
    EXPECT_TRUE(sink->submit(statement_record(1)).wait());
  }
  std::string e;
  const auto last = decode_record(lines_of(slurp(log_paths(dir.path()).back())).back(), e);
  ASSERT_TRUE(last);
  // Same second, same next seq: the name the restarted writer will want.
  const fs::path empty = dir / log_file_name(clock->now(), last->seq + 1);
  spit(empty, "");
  auto sink = FileSink::open(base_config(dir.path()), err, {clock, nullptr, nullptr});
  ASSERT_TRUE(sink) << err;
  EXPECT_TRUE(sink->submit(statement_record(2)).wait());
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

TEST(FileSink, IntervalDurabilityAcknowledgesAfterWriteAndSyncsPeriodically) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  auto cfg = base_config(dir.path());
  cfg.durability = Durability::interval;
  cfg.sync_interval = std::chrono::milliseconds(100);
  std::string err;
  auto sink = FileSink::open(cfg, err, {clock, nullptr, nullptr});
  ASSERT_TRUE(sink) << err;
  const auto syncs_before = sink->stats().syncs;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(sink->submit(statement_record(i)).wait());
  EXPECT_EQ(sink->stats().syncs, syncs_before);  // acknowledged without a sync
  clock->advance(1s);
  for (int i = 0; i < 100 && sink->stats().syncs == syncs_before; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_GT(sink->stats().syncs, syncs_before);
  sink.reset();
  EXPECT_TRUE(verify(dir.path()).ok());
}


TEST(FileSink, ForcedCheckpointIsDurableAndSignsTheCurrentHead) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  ASSERT_TRUE(sink->submit(statement_record(1)).wait());
  const auto cp = sink->force_checkpoint(10s);
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->head_seq + 1, cp->seq);
  // A second one with nothing new in between is still written (operators ask for it).
  const auto again = sink->force_checkpoint(10s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->seq, cp->seq + 1);
  EXPECT_EQ(again->head_seq, cp->seq);
  // Durable before the answer: on disk now, without closing the sink.
  const auto recs = all_records(dir.path());
  ASSERT_GE(recs.size(), again->seq);
  EXPECT_EQ(recs[again->seq - 1].event, "audit.checkpoint");
  EXPECT_EQ(recs[cp->seq - 1].head_hash, cp->head_hash);
}

// fdatasync answers only after a pause.
class SyncDelayOps : public PosixFileOps {
 public:
  explicit SyncDelayOps(std::chrono::microseconds delay) : delay_(delay) {}
  int fdatasync(int fd) override {
    if (delay_.count() == 0) return 0;  // thread hand-off is under test here, not the disk
    std::this_thread::sleep_for(delay_);
    return PosixFileOps::fdatasync(fd);
  }

 private:
  std::chrono::microseconds delay_;
};

TEST(FileSink, LeadHandsDeferredRecordsToTheWriterThreadAndNeverWritesOnTheCaller) {
  TempDir dir;
  std::string err;
  // Slow syncs: were the caller writing, lead() would take at least this long.
  auto sink = FileSink::open(base_config(dir.path()), err,
                             {nullptr, std::make_shared<SyncDelayOps>(3ms), nullptr});
  ASSERT_TRUE(sink) << err;
  std::promise<std::thread::id> answered_on;
  auto f = answered_on.get_future();
  sink->submit_deferred(statement_record(99), [&](bool) { answered_on.set_value(std::this_thread::get_id()); });
  sink->lead();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());  // the writer thread wrote and synced it
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

TEST(FileSink, DeferredRecordsNobodyLeadsAreWrittenByTheWriterThreadWithinItsTick) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  std::promise<bool> done;
  auto f = done.get_future();
  sink->submit_deferred(statement_record(5), [&](bool ok) { done.set_value(ok); });
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(f.get());
  EXPECT_EQ(sink->stats().written, 2u);  // audit.start + the record
}

TEST(FileSink, DeferredAndImmediateSubmittersOnManyThreadsKeepSeqGapFreeAndTheChainValid) {
  TempDir dir;
  std::string err;
  auto cfg = base_config(dir.path());
  cfg.checkpoint_every_records = 50;
  cfg.rotate_size = 64 * 1024;
  auto sink = FileSink::open(cfg, err, {nullptr, std::make_shared<SyncDelayOps>(0us), nullptr});
  ASSERT_TRUE(sink) << err;
  constexpr int kThreads = 8, kPer = 300;
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        auto cb = [&](bool good) { ++(good ? ok : bad); };
        const int n = t * kPer + i;
        if (n % 3 == 0) {
          sink->submit(statement_record(n), cb);  // the writer thread's way
        } else {
          sink->submit_deferred(statement_record(n), cb);
          if (n % 3 == 1) sink->lead();  // the others ride along (or wait for the tick)
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  sink->flush();
  EXPECT_EQ(ok.load(), kThreads * kPer);
  EXPECT_EQ(bad.load(), 0);
  sink.reset();
  const auto recs = all_records(dir.path());
  ASSERT_GE(recs.size(), static_cast<std::size_t>(kThreads * kPer + 1));
  for (std::size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].seq, i + 1);
  EXPECT_GT(log_paths(dir.path()).size(), 1u);  // rotated meanwhile
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
  EXPECT_EQ(v.records, recs.size());
}

}  // namespace
}  // namespace segproxy::audit
