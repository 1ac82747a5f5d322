// FileSink throughput (prints records/s; no timing assertions) and the byte-exact
// canonical encoding of submitted records with awkward field contents.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;

std::vector<std::string> all_lines(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& p : log_paths(dir))
    for (auto& l : lines_of(slurp(p))) out.push_back(std::move(l));
  return out;
}

// Closed loop: every thread submits one record and waits for its answer before the next
// (a session forwards a statement only after its decision record is durable).
double closed_loop_records_per_second(int threads, int per_thread) {
  TempDir dir;
  std::string err;
  AuditConfig cfg = base_config(dir.path());
  cfg.durability = Durability::group;
  auto sink = FileSink::open(cfg, err);
  EXPECT_TRUE(sink) << err;
  if (!sink) return 0;
  std::atomic<int> bad{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ths;
  for (int t = 0; t < threads; ++t) {
    ths.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        if (!sink->submit(statement_record(t * per_thread + i)).wait()) ++bad;
    });
  }
  for (auto& th : ths) th.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(bad.load(), 0);
  const SinkStats st = sink->stats();
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
  const double rate = threads * per_thread / secs;
  std::printf("[ perf ] closed loop %d threads x %d: %.0f records/s (%llu syncs)\n", threads,
              per_thread, rate, static_cast<unsigned long long>(st.syncs));
  return rate;
}

// Open loop: threads submit as fast as they can with callbacks, then flush.
double open_loop_records_per_second(int threads, int per_thread) {
  TempDir dir;
  std::string err;
  AuditConfig cfg = base_config(dir.path());
  cfg.durability = Durability::group;
  auto sink = FileSink::open(cfg, err);
  EXPECT_TRUE(sink) << err;
  if (!sink) return 0;
  std::atomic<int> ok{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ths;
  for (int t = 0; t < threads; ++t) {
    ths.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        sink->submit(statement_record(t * per_thread + i), [&](bool good) { ok += good; });
    });
  }
  for (auto& th : ths) th.join();
  sink->flush();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ok.load(), threads * per_thread);
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
  const double rate = threads * per_thread / secs;
  std::printf("[ perf ] open loop %d threads x %d: %.0f records/s\n", threads, per_thread, rate);
  return rate;
}

TEST(FileSinkPerf, GroupDurabilityThroughputIsPrinted) {
  EXPECT_GT(closed_loop_records_per_second(16, 400), 0);
  EXPECT_GT(open_loop_records_per_second(16, 2000), 0);
}

AuditRecord awkward_record(int i) {
  AuditRecord r = statement_record(i);
  r.session_id = "quote\" back\\slash \b\f\n\r\t ctl\x01\x1f end";
  r.client_addr = std::string("bad utf8 \xff\xc3 ok \xc3\xa9 \xe2\x82\xac");
  r.cn = "";  // omitted
  r.tables = {{"a\"b", "select"}, {"c", "insert"}};
  if (i % 2) r.rows = 7;
  r.duration_us = 0;
  r.sqlstate = i % 3 ? "" : "42501";
  r.detail = "detail " + std::to_string(i);
  r.genesis = "g";
  r.head_seq = 3;
  r.head_hash = "hh";
  r.key_id = "k";
  r.signature = "sig";
  r.statement = "select '\"x\"' from t";
  return r;
}

// Every line the sink writes is exactly encode_record of the record it holds, and the
// record holds exactly what was submitted plus the sink-assigned fields.
void check_exact_encoding(const std::string& instance) {
  TempDir dir;
  std::string err;
  AuditConfig cfg = base_config(dir.path());
  cfg.instance = instance;
  cfg.statement_text = StatementText::full;
  cfg.checkpoint_every_records = 5;
  auto sink = FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  constexpr int kN = 23;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(sink->submit(awkward_record(i)).wait());
  sink.reset();
  const auto lines = all_lines(dir.path());
  std::string prev;
  int seen = 0;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    std::string e;
    auto r = decode_record(lines[k], e);
    ASSERT_TRUE(r) << e << " in " << lines[k];
    EXPECT_EQ(encode_record(*r), lines[k]);
    EXPECT_EQ(r->seq, k + 1);
    EXPECT_EQ(compute_record_hash(*r), r->hash);
    if (k > 0) {
      EXPECT_EQ(r->prev_hash, prev);
    }
    prev = r->hash;
    EXPECT_EQ(r->instance, instance);
    if (r->event != "statement.decision") continue;
    if (r->same_as) {  // issue 14: a repeated statement is written as same_as; join it back
      std::string e2;
      auto target = decode_record(lines[*r->same_as - 1], e2);
      ASSERT_TRUE(target) << e2;
      copy_statement_fields(*target, *r);
      r->same_as.reset();
    }
    AuditRecord want = awkward_record(seen++);
    want.seq = r->seq;
    want.ts = r->ts;
    want.instance = instance;
    want.prev_hash = r->prev_hash;
    want.hash = r->hash;
    // The codec replaces invalid UTF-8; compare through one encode/decode round trip.
    auto canon = decode_record(encode_record(want), e);
    ASSERT_TRUE(canon) << e;
    EXPECT_EQ(*r, *canon);
  }
  EXPECT_EQ(seen, kN);
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

TEST(FileSinkPerf, SubmittedRecordsAreWrittenInExactCanonicalForm) {
  check_exact_encoding("proxy-a");
  check_exact_encoding("");
  check_exact_encoding("inst \"q\" \xc3\xa9");
}

}  // namespace
}  // namespace segproxy::audit
