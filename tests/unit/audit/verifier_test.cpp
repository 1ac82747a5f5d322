// Verifier: every tamper case is reported with file, line and seq; a torn tail is not
// tampering; truncation after a signed checkpoint is caught through the checkpoint file.
#include <gtest/gtest.h>

#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;

class VerifierTest : public ::testing::Test {
 protected:
  // A signed log of `n` statements in several files, checkpoints every 5 records.
  void make_log(int n, std::uint64_t rotate_size = 0) {
    keys_ = generate_ed25519_pem();
    spit(dir_ / "signing.pem", keys_.private_pem);
    spit(dir_ / "public.pem", keys_.public_pem);
    auto cfg = base_config(log_);
    cfg.signing_key = dir_ / "signing.pem";
    cfg.checkpoint_every_records = 5;
    cfg.rotate_size = rotate_size;
    std::string err;
    auto sink = FileSink::open(cfg, err);
    ASSERT_TRUE(sink) << err;
    for (int i = 0; i < n; ++i) ASSERT_TRUE(sink->submit(statement_record(i)).wait());
  }
  VerifyResult run() { return verify(log_, dir_ / "public.pem"); }
  std::vector<fs::path> files() { return log_paths(log_); }

  TempDir dir_;
  fs::path log_ = dir_ / "log";
  Ed25519PemPair keys_;
};

TEST_F(VerifierTest, IntactLogVerifiesWithCounts) {
  make_log(30, 2500);
  const VerifyResult v = run();
  ASSERT_TRUE(v.ok()) << v.summary();
  EXPECT_GT(v.files, 2u);
  EXPECT_EQ(v.records, v.last_seq);
  EXPECT_GE(v.checkpoints, 6u);
  EXPECT_EQ(v.signatures_verified, v.checkpoints + v.checkpoint_file_entries);
  EXPECT_EQ(v.summary().rfind("OK: ", 0), 0u);
}

TEST_F(VerifierTest, EditedRecordIsTamperingAtItsFileLineAndSeq) {
  make_log(10);
  const fs::path f = files().front();
  auto lines = lines_of(slurp(f));
  const auto pos = lines[3].find("\"decision\":\"allow\"");
  ASSERT_NE(pos, std::string::npos);
  lines[3].replace(pos, 18, "\"decision\":\"deny\"");
  spit(f, join_lines(lines));
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered) << v.summary();
  EXPECT_EQ(v.file, f.string());
  EXPECT_EQ(v.line, 4u);
  EXPECT_EQ(v.seq, 4u);
  EXPECT_NE(v.message.find("hash mismatch"), std::string::npos);
}

TEST_F(VerifierTest, EditedRecordWithRecomputedHashStillBreaksTheNextLink) {
  make_log(10);
  const fs::path f = files().front();
  auto lines = lines_of(slurp(f));
  std::string e;
  auto r = decode_record(lines[2], e);
  ASSERT_TRUE(r);
  r->decision = "deny";
  r->hash = compute_record_hash(*r);
  lines[2] = encode_record(*r);
  spit(f, join_lines(lines));
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered);
  EXPECT_EQ(v.line, 4u);
  EXPECT_NE(v.message.find("prev_hash"), std::string::npos);
}

TEST_F(VerifierTest, DeletedRecordIsTampering) {
  make_log(10);
  const fs::path f = files().front();
  auto lines = lines_of(slurp(f));
  lines.erase(lines.begin() + 4);
  spit(f, join_lines(lines));
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered);
  EXPECT_EQ(v.line, 5u);
  EXPECT_EQ(v.seq, 6u);
  EXPECT_NE(v.message.find("expected seq 5"), std::string::npos) << v.message;
}

TEST_F(VerifierTest, ReorderedRecordsAreTampering) {
  make_log(10);
  const fs::path f = files().front();
  auto lines = lines_of(slurp(f));
  std::swap(lines[2], lines[3]);
  spit(f, join_lines(lines));
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered);
  EXPECT_EQ(v.line, 3u);
  EXPECT_EQ(v.seq, 4u);
}

TEST_F(VerifierTest, RemovedMiddleFileIsTampering) {
  make_log(30, 2500);
  const auto fs_ = files();
  ASSERT_GE(fs_.size(), 3u);
  fs::remove(fs_[1]);
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered) << v.summary();
  EXPECT_EQ(v.file, fs_[2].string());
  EXPECT_EQ(v.line, 1u);
  EXPECT_NE(v.message.find("records missing"), std::string::npos);
}

TEST_F(VerifierTest, TailTruncatedAfterASignedCheckpointIsCaughtByTheCheckpointFile) {
  make_log(12);
  const fs::path f = files().back();
  auto lines = lines_of(slurp(f));
  // Drop everything from the last checkpoint on: the log itself still chains.
  std::size_t last_cp = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("\"event\":\"audit.checkpoint\"") != std::string::npos) last_cp = i;
  ASSERT_GT(last_cp, 0u);
  lines.resize(last_cp);
  spit(f, join_lines(lines));
  EXPECT_TRUE(verify(log_, dir_ / "public.pem", dir_ / "absent.jsonl").status == VerifyStatus::io_error);
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::truncated) << v.summary();
  EXPECT_EQ(v.file, (log_ / kCheckpointFileName).string());
  EXPECT_EQ(v.seq, last_cp + 1);  // single file: line index == seq - 1
  EXPECT_NE(v.message.find("log ends at seq " + std::to_string(last_cp)), std::string::npos)
      << v.message;
}

TEST_F(VerifierTest, TornLastLineIsReportedAsTornTailNotTampering) {
  make_log(6);
  const fs::path f = files().back();
  const std::string data = slurp(f);
  spit(f, data.substr(0, data.size() - 40));  // the final record lost its end
  // A crash mid-write: that record never reached the checkpoint file.
  spit(dir_ / "empty.jsonl", "");
  const VerifyResult t = verify(log_, dir_ / "public.pem", dir_ / "empty.jsonl");
  EXPECT_EQ(t.status, VerifyStatus::torn_tail) << t.summary();
  EXPECT_TRUE(t.intact());
  EXPECT_EQ(t.file, f.string());
  EXPECT_EQ(t.line, lines_of(data).size());
  EXPECT_EQ(t.seq, t.last_seq + 1);
}

TEST_F(VerifierTest, IncompleteLineInAnOlderFileIsTampering) {
  make_log(30, 2500);
  const fs::path f = files().front();
  const std::string data = slurp(f);
  spit(f, data.substr(0, data.size() - 10));
  EXPECT_EQ(run().status, VerifyStatus::tampered);
}

TEST_F(VerifierTest, WrongPublicKeyFailsSignatureVerification) {
  make_log(10);
  spit(dir_ / "other.pem", generate_ed25519_pem().public_pem);
  const VerifyResult v = verify(log_, dir_ / "other.pem");
  EXPECT_EQ(v.status, VerifyStatus::bad_signature) << v.summary();
  EXPECT_NE(v.message.find("signed by key"), std::string::npos);
  EXPECT_TRUE(verify(log_).ok());  // chain alone still fine
}

TEST_F(VerifierTest, ForgedCheckpointWithRecomputedChainFailsSignature) {
  make_log(10);
  const fs::path f = files().front();
  auto lines = lines_of(slurp(f));
  std::string e;
  // Rewrite the first checkpoint's signature with garbage and re-chain everything after.
  std::string prev;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto r = decode_record(lines[i], e);
    ASSERT_TRUE(r);
    if (i > 0) r->prev_hash = prev;
    if (r->event == "audit.checkpoint") {
      r->head_hash = r->prev_hash;
      r->signature = std::string(128, '0');
    }
    r->hash = compute_record_hash(*r);
    prev = r->hash;
    lines[i] = encode_record(*r);
  }
  spit(f, join_lines(lines));
  fs::remove(log_ / kCheckpointFileName);
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::bad_signature) << v.summary();
  EXPECT_EQ(v.seq, 6u);
}

TEST_F(VerifierTest, MissingStartOrEmptyDirectoryIsReported) {
  TempDir empty;
  EXPECT_EQ(verify(empty.path()).status, VerifyStatus::io_error);
  make_log(3);
  const fs::path f = files().front();
  auto lines = lines_of(slurp(f));
  lines.erase(lines.begin());
  spit(f, join_lines(lines));
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered);
  EXPECT_EQ(v.line, 1u);
}

TEST_F(VerifierTest, CheckpointFileEntryThatDiffersFromTheLogIsTampering) {
  make_log(10);
  const fs::path cpf = log_ / kCheckpointFileName;
  auto lines = lines_of(slurp(cpf));
  ASSERT_FALSE(lines.empty());
  // Replace the log's first checkpoint by a self-consistent, re-signed variant.
  std::string e, err;
  auto r = decode_record(lines[0], e);
  ASSERT_TRUE(r);
  r->ts = "2030-01-01T00:00:00.000000Z";
  auto signer = CheckpointSigner::from_pem(keys_.private_pem, err);
  ASSERT_TRUE(signer);
  signer->sign(*r);
  r->hash = compute_record_hash(*r);
  lines[0] = encode_record(*r);
  spit(cpf, join_lines(lines));
  const VerifyResult v = run();
  EXPECT_EQ(v.status, VerifyStatus::tampered) << v.summary();
  EXPECT_EQ(v.seq, r->seq);
  EXPECT_NE(v.message.find("differs from checkpoint file"), std::string::npos);
}

}  // namespace
}  // namespace segproxy::audit
