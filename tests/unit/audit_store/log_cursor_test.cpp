// The central store's pure parts (no database): columns taken from a canonical line by
// key (the scan and the COPY BINARY encoding: store_row_test.cpp), and the LogCursor that
// feeds the shipper only complete, chained, durable lines across rotated files.
#include <gtest/gtest.h>

#include "../audit/audit_test_support.hpp"
#include "audit/record_codec.hpp"
#include "audit/store/log_cursor.hpp"
#include "audit/store/store_connection.hpp"

namespace segproxy::audit::store {
namespace {

using namespace audit::test;

TEST(StoreRow, ColumnsAreTakenByKeyAndAbsentKeysAreNull) {
  const std::string line =
      R"({"seq":7,"ts":"2026-11-22T00:00:00.000001Z","instance":"a","event":"statement.decision","session_id":"s1",)"
      R"("cn":"api","segment":"billing","decision":"deny","prev_hash":"p","hash":"h"})";
  std::string why;
  auto row = extract_row(line, why);
  ASSERT_TRUE(row) << why;
  EXPECT_EQ(row->seq, 7u);
  EXPECT_EQ(row->event, "statement.decision");
  EXPECT_EQ(row->identity, "api");  // no identity, no spiffe_id: the CN
  EXPECT_EQ(row->decision, "deny");
  EXPECT_FALSE(row->fingerprint);
  EXPECT_FALSE(row->cert_sha256);
  // A record format that names the identity itself wins over the certificate fields.
  auto named = extract_row(R"({"seq":1,"ts":"t","event":"e","identity":"x","spiffe_id":"y","prev_hash":"p","hash":"h"})", why);
  ASSERT_TRUE(named) << why;
  EXPECT_EQ(named->identity, "x");
  EXPECT_FALSE(extract_row(R"({"seq":0,"ts":"t","event":"e","prev_hash":"p","hash":"h"})", why));
  EXPECT_FALSE(extract_row(R"({"seq":1,"ts":"t","event":"e","prev_hash":"p"})", why));
  EXPECT_FALSE(extract_row("not json", why));
}

class LogCursorTest : public ::testing::Test {
 protected:
  // A log of audit.start + n statements in files of ~rotate bytes.
  void write_log(int n, std::uint64_t rotate = 0) {
    auto cfg = base_config(log_);
    cfg.rotate_size = rotate;
    cfg.checkpoint_every_records = 0;
    std::string err;
    auto sink = FileSink::open(cfg, err);
    ASSERT_TRUE(sink) << err;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  }
  std::vector<std::uint64_t> read_all(LogCursor& c, std::uint64_t limit) {
    std::vector<std::uint64_t> seqs;
    std::string_view line;
    StoreRow row;
    std::string why;
    for (;;) {
      const auto st = c.next(limit, line, row, why);
      if (st == LogCursor::Status::error) ADD_FAILURE() << why;
      if (st != LogCursor::Status::line) break;
      seqs.push_back(row.seq);
    }
    return seqs;
  }
  TempDir dir_;
  fs::path log_ = dir_ / "log";
};

TEST_F(LogCursorTest, ReadsEveryRecordOnceInOrderAcrossRotatedFilesUpToTheLimit) {
  write_log(200, 64 * 1024);
  ASSERT_GE(log_paths(log_).size(), 2u);  // crosses at least one rotation
  LogCursor c(log_);
  std::string why;
  ASSERT_EQ(c.oldest_seq(why), 1u);
  ASSERT_TRUE(c.seek(1, why)) << why;
  const auto first = read_all(c, 50);
  ASSERT_EQ(first.size(), 50u);
  EXPECT_EQ(first.front(), 1u);
  EXPECT_EQ(first.back(), 50u);
  const auto rest = read_all(c, ~0ull);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front(), 51u);
  for (std::size_t k = 1; k < rest.size(); ++k) EXPECT_EQ(rest[k], rest[k - 1] + 1);
  EXPECT_GE(rest.back(), 201u);  // audit.start + 200 statements (+ the final checkpoint)
}

TEST_F(LogCursorTest, SeekingInTheMiddleKnowsThePreviousHashAndAPeekDoesNotConsume) {
  write_log(30, 64 * 1024);
  LogCursor c(log_);
  std::string why;
  ASSERT_TRUE(c.seek(11, why)) << why;
  EXPECT_EQ(c.next_seq(), 11u);
  EXPECT_EQ(c.prev_hash().size(), 64u);
  std::string_view line;
  StoreRow row;
  ASSERT_EQ(c.next(~0ull, line, row, why, /*peek=*/true), LogCursor::Status::line) << why;
  EXPECT_EQ(row.seq, 11u);
  EXPECT_EQ(row.prev_hash, c.prev_hash());
  ASSERT_EQ(c.next(~0ull, line, row, why), LogCursor::Status::line) << why;
  EXPECT_EQ(row.seq, 11u);
  EXPECT_EQ(c.next_seq(), 12u);
  EXPECT_EQ(c.next(11, line, row, why), LogCursor::Status::none);  // beyond the limit
}

TEST_F(LogCursorTest, ARecordThatDoesNotChainFromTheStoresHeadIsAnError) {
  write_log(5);
  LogCursor c(log_);
  std::string why;
  ASSERT_TRUE(c.seek(1, why)) << why;
  c.expect_prev_hash(std::string(64, 'a'));  // a store head from another chain
  std::string_view line;
  StoreRow row;
  EXPECT_EQ(c.next(~0ull, line, row, why), LogCursor::Status::error);
  EXPECT_NE(why.find("does not chain"), std::string::npos) << why;
}

TEST_F(LogCursorTest, SeekingPastTheEndOfTheLocalLogFails) {
  write_log(5);
  LogCursor c(log_);
  std::string why;
  EXPECT_FALSE(c.seek(500, why));
  EXPECT_NE(why.find("no record 499"), std::string::npos) << why;
}

TEST_F(LogCursorTest, AnIncompleteLastLineIsNotReadUntilItIsComplete) {
  write_log(3);
  const auto files = log_paths(log_);
  {
    std::ofstream(files.back(), std::ios::app | std::ios::binary) << R"({"seq":99,"ts":)";
  }
  LogCursor c(log_);
  std::string why;
  ASSERT_TRUE(c.seek(1, why)) << why;
  const auto seqs = read_all(c, ~0ull);
  ASSERT_FALSE(seqs.empty());
  EXPECT_LT(seqs.back(), 99u);
}

TEST_F(LogCursorTest, TheLiveSegmentsZeroTailIsTheEndForNowAndRecordsWrittenOverItAreReadLater) {
  auto cfg = base_config(log_);
  cfg.checkpoint_every_records = 0;
  std::string err;
  auto sink = FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  const auto files = log_paths(log_);
  ASSERT_EQ(files.size(), 1u);
  const std::string data = slurp(files.back());
  ASSERT_GT(data.size(), without_zero_tail(data)) << "the live segment has no zeros ahead of its records";
  LogCursor c(log_);
  std::string why;
  ASSERT_TRUE(c.seek(1, why)) << why;
  const auto before = read_all(c, ~0ull);
  ASSERT_EQ(before.size(), 4u);  // audit.start + 3 (a zero byte is never read as a line)
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  const auto after = read_all(c, ~0ull);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after.front(), 5u);
}

// A read starts small and grows while it comes back full: lines longer than several
// reads, many of them back to back (a backlog), and short ones after them are all read
// whole, in order, each once.
TEST_F(LogCursorTest, LinesLongerThanOneReadAndABacklogOfThemAreReadWholeInOrder) {
  auto cfg = base_config(log_);
  cfg.checkpoint_every_records = 0;
  cfg.statement_text = StatementText::full;
  cfg.max_statement_text = 1u << 20;
  std::string err;
  auto sink = FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  for (int i = 0; i < 12; ++i) {
    AuditRecord r = statement_record(i);
    r.statement = "select '" + std::string((i % 3 == 0 ? 300u : 1u) << 10, static_cast<char>('a' + i)) + "'";
    ASSERT_TRUE(sink->submit(std::move(r)).wait());
  }
  LogCursor c(log_);
  std::string why;
  ASSERT_TRUE(c.seek(1, why)) << why;
  std::string_view line;
  StoreRow row;
  std::vector<std::size_t> sizes;
  while (c.next(~0ull, line, row, why) == LogCursor::Status::line) {
    ASSERT_EQ(row.seq, sizes.size() + 1);
    sizes.push_back(line.size());
  }
  EXPECT_TRUE(why.empty()) << why;
  ASSERT_EQ(sizes.size(), 13u);  // audit.start + 12
  for (int i = 0; i < 12; ++i) EXPECT_GT(sizes[i + 1], i % 3 == 0 ? 300u << 10 : 1u << 10) << i;
}

}  // namespace
}  // namespace segproxy::audit::store
