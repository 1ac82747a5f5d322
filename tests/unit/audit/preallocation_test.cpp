// FileSink's preallocated segments (docs/audit.md "Preallocated segments"): the live
// segment carries zeros ahead of its records so that a commit's fdatasync has no file size
// to write; the zeros are never part of the log for a reader, a closed segment ends with
// its last record, a restart cuts them off, and a segment whose zeros cannot be written
// grows with its records as before.
#include <gtest/gtest.h>

#include "audit/log_files.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;

// PosixFileOps whose pwrite (only preallocate() uses it) fails like a full disk.
class NoRoomForZerosOps : public PosixFileOps {
 public:
  ssize_t pwrite(int, const void*, std::size_t, off_t) override {
    errno = ENOSPC;
    return -1;
  }
};

std::uintmax_t size_of(const fs::path& p) { return fs::file_size(p); }

TEST(Preallocation, TheLiveSegmentHasZerosAheadOfItsRecordsThatVerifyAndExportIgnore) {
  TempDir dir;
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err);
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  const fs::path live = log_paths(dir.path()).back();
  const std::string data = slurp(live);
  const std::size_t records = without_zero_tail(data);
  EXPECT_GE(data.size(), 1u << 20) << "no zeros were written ahead of the records";
  ASSERT_GT(records, 0u);
  EXPECT_EQ(data[records - 1], '\n');
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();  // a zero tail is not a torn tail
  EXPECT_EQ(v.last_seq, sink->stats().last_seq);
  EXPECT_EQ(all_records(dir.path()).size(), sink->stats().last_seq);
}

TEST(Preallocation, ARotatedSegmentEndsWithItsLastRecord) {
  TempDir dir;
  auto cfg = base_config(dir.path());
  cfg.rotate_size = 16 * 1024;
  std::string err;
  auto sink = FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  const auto files = log_paths(dir.path());
  ASSERT_GE(files.size(), 3u);
  for (std::size_t k = 0; k + 1 < files.size(); ++k) {
    const std::string data = slurp(files[k]);
    ASSERT_FALSE(data.empty());
    EXPECT_EQ(data.back(), '\n') << files[k] << " keeps zeros after it was closed";
    EXPECT_LE(size_of(files[k]), 16u * 1024 + 4096) << "zeros beyond rotate_size";
  }
  sink.reset();
  const std::string last = slurp(log_paths(dir.path()).back());
  EXPECT_EQ(last.back(), '\n') << "the segment closed at shutdown keeps its zeros";
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

TEST(Preallocation, ARestartAfterACrashCutsTheZeroTailAndTheChainContinues) {
  TempDir dir;
  std::string err;
  std::uint64_t last = 0;
  fs::path crashed;
  {
    auto sink = FileSink::open(base_config(dir.path()), err);
    ASSERT_TRUE(sink) << err;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
    last = sink->stats().last_seq;
    crashed = log_paths(dir.path()).back();
    // What a SIGKILL leaves: the live segment and the checkpoint file as they are now
    // (copied before the clean close cuts the segment back and adds its final checkpoint).
    fs::copy_file(crashed, dir / "crashed.tmp");
    if (fs::exists(dir / kCheckpointFileName)) fs::copy_file(dir / kCheckpointFileName, dir / "checkpoints.tmp");
  }
  fs::permissions(crashed, fs::perms::owner_write, fs::perm_options::add);
  fs::copy_file(dir / "crashed.tmp", crashed, fs::copy_options::overwrite_existing);
  fs::remove(dir / "crashed.tmp");
  fs::remove(dir / kCheckpointFileName);
  if (fs::exists(dir / "checkpoints.tmp")) fs::rename(dir / "checkpoints.tmp", dir / kCheckpointFileName);
  ASSERT_GT(size_of(crashed), without_zero_tail(slurp(crashed)));
  EXPECT_TRUE(verify(dir.path()).ok()) << "a crash's zero tail reads as the end of the log";
  {
    auto sink = FileSink::open(base_config(dir.path()), err);
    ASSERT_TRUE(sink) << err;
    ASSERT_TRUE(sink->submit(statement_record(9)).wait());
    EXPECT_GT(sink->stats().last_seq, last + 1);  // audit.start of the restart, then the record
  }
  const std::string data = slurp(crashed);
  EXPECT_EQ(data.size(), without_zero_tail(data)) << "the restart left the zeros in the old segment";
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

TEST(Preallocation, ASegmentWhoseZerosCannotBeWrittenGrowsWithItsRecordsAndStaysDurable) {
  TempDir dir;
  auto ops = std::make_shared<NoRoomForZerosOps>();
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err, {nullptr, ops, nullptr});
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  EXPECT_TRUE(sink->stats().healthy);
  const fs::path live = log_paths(dir.path()).back();
  const std::string data = slurp(live);
  EXPECT_EQ(data.size(), without_zero_tail(data));
  EXPECT_EQ(all_records(dir.path()).size(), sink->stats().last_seq);
}

}  // namespace
}  // namespace segproxy::audit
