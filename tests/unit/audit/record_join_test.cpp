// Volume (issue 14): identity once per session, repeated statements as same_as, outcomes
// folded into statement.result; exports and the joining reader give self-contained
// records back, and the chain still verifies.
#include <gtest/gtest.h>

#include <sstream>

#include "audit/exporters.hpp"
#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"
#include "audit/result_fold.hpp"
#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;

AuditRecord open_record(const std::string& session) {
  AuditRecord r = statement_record(0);
  r.event = "session.open";
  r.session_id = session;
  r.statement.clear();
  r.fingerprint.clear();
  r.tables.clear();
  r.decision.clear();
  r.rule_id.clear();
  return r;
}

// What a session writes after session.open: its session_id and the statement.
AuditRecord compact_statement(const std::string& session, const std::string& text) {
  AuditRecord r;
  r.event = "statement.decision";
  r.session_id = session;
  r.statement = text;
  r.fingerprint = "00000000000000ab";
  r.tables = {{"public.pgbench_accounts", "select"}};
  r.decision = "allow";
  r.rule_id = "pgbench-rw";
  return r;
}

std::vector<std::string> raw_lines(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& p : log_paths(dir))
    for (const auto& l : lines_of(slurp(p))) out.push_back(l);
  return out;
}

TEST(RecordJoin, RepeatedStatementsAreWrittenAsSameAsAndExportsJoinIdentityAndStatementBack) {
  TempDir dir;
  auto cfg = base_config(dir.path());
  cfg.statement_text = StatementText::full;
  std::string err;
  {
    auto sink = FileSink::open(cfg, err);
    ASSERT_TRUE(sink) << err;
    sink->append(open_record("7"));
    for (int i = 0; i < 3; ++i) sink->append(compact_statement("7", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"));
    sink->append(compact_statement("7", "SELECT 2"));
    ASSERT_TRUE(sink->wait_durable(sink->append(compact_statement("7", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"))));
  }
  ASSERT_TRUE(verify(dir.path()).ok()) << verify(dir.path()).summary();
  std::size_t same_as = 0, with_cn = 0;
  for (const auto& l : raw_lines(dir.path())) {
    same_as += l.find(R"("same_as":)") != std::string::npos;
    with_cn += l.find(R"("cn":)") != std::string::npos;
  }
  EXPECT_EQ(same_as, 3u);  // the 2nd, 3rd and 5th pgbench statement
  EXPECT_EQ(with_cn, 1u);  // identity once: session.open
  std::ostringstream out;
  ExportOptions opts;
  opts.filter.event = "statement.*";
  opts.filter.identity = "api";  // matches the joined cn
  const ExportResult res = export_log(dir.path(), out, opts);
  ASSERT_TRUE(res.ok()) << res.verification.summary();
  EXPECT_EQ(res.exported, 5u);
  EXPECT_EQ(res.unresolved, 0u);
  std::istringstream in(out.str());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::string e;
    auto r = decode_record(line, e);
    ASSERT_TRUE(r) << e << ": " << line;
    EXPECT_EQ(r->cn, "api");
    EXPECT_EQ(r->spiffe_id, "spiffe://example.org/ns/billing/api");
    EXPECT_EQ(r->backend_user, "billing_ro");
    EXPECT_FALSE(r->statement.empty());
    EXPECT_EQ(r->tables.size(), 1u);
    EXPECT_EQ(r->decision, "allow");
    ++n;
  }
  EXPECT_EQ(n, 5);
  // raw: the logged lines unchanged.
  std::ostringstream raw;
  opts.format = ExportFormat::raw;
  opts.filter = {};
  export_log(dir.path(), raw, opts);
  std::string expected;
  for (const auto& l : raw_lines(dir.path())) expected += l + "\n";
  EXPECT_EQ(raw.str(), expected);
}

TEST(RecordJoin, SameAsNeverCrossesAFileAndATamperedReferenceIsReported) {
  TempDir dir;
  auto cfg = base_config(dir.path());
  cfg.rotate_size = 1;  // every batch in a new file
  std::string err;
  {
    auto sink = FileSink::open(cfg, err);
    ASSERT_TRUE(sink) << err;
    ASSERT_TRUE(sink->wait_durable(sink->append(compact_statement("7", "SELECT 1"))));
    ASSERT_TRUE(sink->wait_durable(sink->append(compact_statement("7", "SELECT 1"))));
  }
  for (const auto& l : raw_lines(dir.path())) EXPECT_EQ(l.find("same_as"), std::string::npos) << l;
  // A hand-made same_as to a record of another session: the verifier refuses it.
  TempDir dir2;
  {
    auto sink = FileSink::open(base_config(dir2.path()), err);
    ASSERT_TRUE(sink) << err;
    sink->append(compact_statement("7", "SELECT 1"));
    ASSERT_TRUE(sink->wait_durable(sink->append(compact_statement("8", "SELECT 1"))));
  }
  const auto files = log_paths(dir2.path());
  ASSERT_EQ(files.size(), 1u);
  auto lines = lines_of(slurp(files[0]));
  ASSERT_GE(lines.size(), 3u);  // audit.start, the two statements (and the final checkpoint)
  std::string e;
  auto first = decode_record(lines[1], e);
  auto second = decode_record(lines[2], e);
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(second->same_as);  // another session: written in full
  AuditRecord forged = *second;
  copy_statement_fields(AuditRecord{}, forged);
  forged.same_as = first->seq;
  forged.hash = compute_record_hash(forged);
  lines[2] = encode_record(forged);
  spit(files[0], join_lines(lines));
  const VerifyResult v = verify(dir2.path());
  EXPECT_EQ(v.status, VerifyStatus::tampered) << v.summary();
  EXPECT_NE(v.message.find("same_as"), std::string::npos) << v.message;
}

TEST(ResultFold, OutcomesAreFoldedIntoOneRecordAndCsvExportsOneRowPerStatement) {
  ResultFolder f(3);
  EXPECT_FALSE(f.add(41, 1, 120, "", ""));
  EXPECT_FALSE(f.add(std::nullopt, 0, 80, "42P01", std::string(400, 'x')));
  EXPECT_TRUE(f.add(43, 5, 99, "", ""));
  AuditRecord r;
  r.event = "statement.result";
  r.session_id = "7";
  f.take(r);
  EXPECT_TRUE(f.empty());
  ASSERT_EQ(r.results.size(), 3u);
  EXPECT_EQ(r.results[1].error.size(), ResultFolder::kMaxError);
  r.seq = 9;
  r.ts = "2026-11-22T00:00:00.000000Z";
  r.prev_hash = std::string(64, 'a');
  r.hash = compute_record_hash(r);
  const std::string line = encode_record(r);
  EXPECT_NE(line.find(R"("results":[{"seq":41,"rows":1,"duration_us":120},{"rows":0,"duration_us":80,"sqlstate":"42P01")"),
            std::string::npos)
      << line;
  std::string e;
  auto back = decode_record(line, e);
  ASSERT_TRUE(back) << e;
  EXPECT_EQ(*back, r);

  TempDir dir;
  std::string err;
  {
    auto sink = FileSink::open(base_config(dir.path()), err);
    ASSERT_TRUE(sink) << err;
    sink->append(open_record("7"));
    AuditRecord res;
    res.event = "statement.result";
    res.session_id = "7";
    res.results = r.results;
    ASSERT_TRUE(sink->wait_durable(sink->append(res)));
  }
  std::ostringstream csv;
  ExportOptions opts;
  opts.format = ExportFormat::csv;
  opts.filter.event = "statement.result";
  export_log(dir.path(), csv, opts);
  const auto rows = lines_of(csv.str());
  ASSERT_EQ(rows.size(), 4u) << csv.str();  // header + one row per outcome
  EXPECT_NE(rows[1].find("billing_ro"), std::string::npos) << rows[1];  // joined identity
  EXPECT_NE(rows[2].find("42P01"), std::string::npos) << rows[2];
  EXPECT_NE(rows[3].find("decision seq 43"), std::string::npos) << rows[3];
}

}  // namespace
}  // namespace segproxy::audit
