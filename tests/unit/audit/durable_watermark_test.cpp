// The write-ahead API of FileSink (issue 14): append returns the seq at once, the durable
// watermark, listeners woken at most once per group commit, audit.max_wait (a flush that
// hangs counts as a write failure), a failed fdatasync never retried on the same file,
// a directory entry that cannot be synced fails the segment.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "audit/record_codec.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;
using namespace std::chrono_literals;

class CountingListener : public DurableListener {
 public:
  void durable_advanced() noexcept override {
    {
      std::lock_guard lk(mu);
      ++calls;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t calls = 0;
};

TEST(DurableWatermark, AppendReturnsGapFreeSeqsAtOnceAndTheWatermarkCoversThemAfterTheFlush) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  const std::uint64_t before = sink->last_appended();
  EXPECT_EQ(sink->durable_seq(), before);  // audit.start is durable before open returns
  std::vector<AuditTicket> tickets;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        AuditTicket k = sink->append(statement_record(t * 100 + i));
        std::lock_guard lk(mu);
        tickets.push_back(k);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::sort(tickets.begin(), tickets.end(), [](const AuditTicket& a, const AuditTicket& b) { return a.seq < b.seq; });
  for (std::size_t i = 0; i < tickets.size(); ++i) EXPECT_EQ(tickets[i].seq, before + 1 + i);
  EXPECT_EQ(sink->last_appended(), before + 200);
  EXPECT_TRUE(sink->wait_durable(tickets.back()));
  EXPECT_GE(sink->durable_seq(), tickets.back().seq);
  for (const auto& k : tickets) EXPECT_EQ(sink->state(k), DurableState::durable);
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

TEST(DurableWatermark, AWaitingListenerIsWokenAtMostOncePerGroupCommitAndAWaitStartsTheFlush) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  CountingListener l;
  sink->add_listener(l);
  const std::uint64_t batches0 = sink->stats().batches;
  // 100 sessions of one I/O thread append; the thread waits once for the highest seq.
  AuditTicket last;
  for (int i = 0; i < 100; ++i) last = sink->append(statement_record(i));
  // Nothing kicks the writer but the wait.
  ASSERT_TRUE(sink->wait_async(last, l));
  {
    std::unique_lock lk(l.mu);
    ASSERT_TRUE(l.cv.wait_for(lk, 5s, [&] { return l.calls > 0; }));
  }
  EXPECT_EQ(sink->state(last), DurableState::durable);
  const std::uint64_t commits = sink->stats().batches - batches0;
  EXPECT_GE(commits, 1u);
  {
    std::lock_guard lk(l.mu);
    EXPECT_LE(l.calls, commits) << "more wake-ups than group commits";
    EXPECT_EQ(l.calls, 1u);
  }
  // A settled ticket is not registered (the caller resumes at once).
  EXPECT_FALSE(sink->wait_async(last, l));
  sink->remove_listener(l);
}

// fdatasync blocks until released: the flush hangs.
class HangingSyncOps : public PosixFileOps {
 public:
  std::atomic<bool> hang{false};
  std::atomic<bool> inside{false};
  int fdatasync(int fd) override {
    while (hang.load()) {
      inside = true;
      std::this_thread::sleep_for(1ms);
    }
    inside = false;
    return PosixFileOps::fdatasync(fd);
  }
};

TEST(DurableWatermark, AFlushThatHangsPastMaxWaitCountsAsAWriteFailureAndWritingResumesByItself) {
  TempDir dir;
  auto ops = std::make_shared<HangingSyncOps>();
  auto cfg = base_config(dir.path());
  cfg.max_wait = 100ms;
  std::string err;
  auto sink = FileSink::open(cfg, err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  ASSERT_TRUE(sink->wait_durable(sink->append(statement_record(1))));
  ops->hang = true;
  const AuditTicket held = sink->append(statement_record(2));
  EXPECT_FALSE(sink->wait_durable(held));  // bounded by max_wait (the sync still hangs)
  EXPECT_EQ(sink->state(held), DurableState::failed);
  EXPECT_EQ(sink->stats().timeouts, 1u);
  EXPECT_FALSE(sink->stats().healthy);
  // While the flush hangs, new records are refused at once (fail_closed).
  const AuditTicket refused = sink->append(statement_record(3));
  EXPECT_EQ(refused.seq, 0u);
  EXPECT_EQ(sink->state(refused), DurableState::failed);
  ops->hang = false;
  for (int i = 0; i < 300 && !sink->stats().healthy; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sink->stats().healthy);
  // The record whose wait timed out stays failed even though its line reached the disk.
  EXPECT_EQ(sink->state(held), DurableState::failed);
  EXPECT_TRUE(sink->wait_durable(sink->append(statement_record(4))));
  sink.reset();
  const VerifyResult v = verify(dir.path());
  ASSERT_TRUE(v.ok()) << v.summary();
  bool resumed = false;
  for (const auto& r : all_records(dir.path())) {
    if (r.event == "audit.resume") {
      resumed = true;
      EXPECT_NE(r.detail.find("audit.max_wait"), std::string::npos) << r.detail;
      EXPECT_NE(r.detail.find("1 submissions refused"), std::string::npos) << r.detail;
    }
  }
  EXPECT_TRUE(resumed);
}

// Records which file every fdatasync went to; fails the first one on demand.
class SyncTrackingOps : public PosixFileOps {
 public:
  std::atomic<int> fail_next_sync{0};
  std::mutex mu;
  std::map<int, std::string> paths;  // open fds
  std::vector<std::string> synced;   // path of each fdatasync, in order
  std::string failed_path;
  std::size_t failed_index = 0;  // into `synced`
  int open(const std::string& path, int flags, mode_t mode) override {
    const int fd = PosixFileOps::open(path, flags, mode);
    std::lock_guard lk(mu);
    if (fd >= 0) paths[fd] = path;
    return fd;
  }
  int fdatasync(int fd) override {
    std::lock_guard lk(mu);
    synced.push_back(paths[fd]);
    if (fail_next_sync.exchange(0) != 0) {
      failed_path = paths[fd];
      failed_index = synced.size() - 1;
      errno = EIO;
      return -1;
    }
    return PosixFileOps::fdatasync(fd);
  }
};

TEST(DurableWatermark, AFailedFdatasyncIsNeverRetriedOnTheSameFileTheNextRecordsGoToANewSegment) {
  TempDir dir;
  auto ops = std::make_shared<SyncTrackingOps>();
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  ASSERT_TRUE(sink->wait_durable(sink->append(statement_record(1))));
  const std::uint64_t durable_before = sink->durable_seq();
  ops->fail_next_sync = 1;
  const AuditTicket lost = sink->append(statement_record(2));
  EXPECT_FALSE(sink->wait_durable(lost));
  EXPECT_EQ(sink->durable_seq(), durable_before);  // the watermark never covers it
  for (int i = 0; i < 300 && !sink->stats().healthy; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sink->stats().healthy);
  const AuditTicket after = sink->append(statement_record(3));
  EXPECT_TRUE(sink->wait_durable(after));
  EXPECT_EQ(after.seq, lost.seq + 1);  // audit.resume took the lost record's seq
  EXPECT_NE(after.epoch, lost.epoch);
  EXPECT_EQ(sink->state(lost), DurableState::failed);  // a reused seq does not revive it
  std::vector<std::string> synced;
  std::string failed_path;
  std::size_t failed_index = 0;
  {
    std::lock_guard lk(ops->mu);
    synced = ops->synced;
    failed_path = ops->failed_path;
    failed_index = ops->failed_index;
  }
  ASSERT_FALSE(failed_path.empty());
  const auto first_failure = synced.begin() + static_cast<std::ptrdiff_t>(failed_index);
  std::string all;
  for (const auto& p : synced) all += p + "\n";
  EXPECT_EQ(std::count(first_failure, synced.end(), failed_path), 1) << "fdatasync retried on " << failed_path << "\n" << all;
  EXPECT_EQ(sink->stats().segments, 2u);
  sink.reset();
  EXPECT_EQ(log_paths(dir.path()).size(), 2u);
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

class DirSyncFailOps : public PosixFileOps {
 public:
  int fsync(int fd) override {
    errno = EIO;
    (void)fd;
    return -1;
  }
};

TEST(DurableWatermark, ASegmentWhoseDirectoryEntryCannotBeSyncedIsNotUsed) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err, {nullptr, std::make_shared<DirSyncFailOps>(), nullptr});
  EXPECT_FALSE(sink);
  EXPECT_NE(err.find("cannot sync directory"), std::string::npos) << err;
  EXPECT_TRUE(log_paths(dir.path()).empty());
}

TEST(DurableWatermark, FailOpenTicketsOfALostEpochCountAsDurable) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  auto cfg = base_config(dir.path());
  cfg.on_failure = OnFailure::fail_open;
  std::string err;
  auto sink = FileSink::open(cfg, err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  ops->sync_errno = EIO;
  const AuditTicket t = sink->append(statement_record(1));
  EXPECT_TRUE(sink->wait_durable(t));  // accepted, counted as lost
  EXPECT_GE(sink->stats().dropped, 1u);
  ops->sync_errno = 0;
}

}  // namespace
}  // namespace segproxy::audit
