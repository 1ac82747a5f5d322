// Exporters: CSV (RFC 4180 quoting, header), filters, OCSF fields, verification while
// exporting.
#include <gtest/gtest.h>

#include <sstream>

#include "audit/exporters.hpp"
#include "audit/record_codec.hpp"
#include "audit_test_support.hpp"

namespace segproxy::audit {
namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(Exporters, CsvQuotesCommasQuotesAndNewlinesPerRfc4180) {
  EXPECT_EQ(csv_quote("plain"), "plain");
  EXPECT_EQ(csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_quote("l1\nl2"), "\"l1\nl2\"");
  EXPECT_EQ(csv_quote("cr\r"), "\"cr\r\"");
  AuditRecord r = statement_record(1);
  r.seq = 5;
  r.ts = "2026-11-22T00:00:00.000000Z";
  r.statement = "select 'a,b', \"x\"";
  r.tables = {{"t1", "select"}, {"t2", "update"}};
  r.rows = 2;
  const std::string row = to_csv_row(r);
  EXPECT_EQ(row.substr(row.size() - 2), "\r\n");
  EXPECT_NE(row.find("\"select 'a,b', \"\"x\"\"\""), std::string::npos) << row;
  EXPECT_NE(row.find(",t1:select;t2:update,"), std::string::npos);
  EXPECT_EQ(row.rfind("5,2026-11-22T00:00:00.000000Z,", 0), 0u);
  // Same number of columns as the header (no embedded separators in this row otherwise).
  const std::string h = csv_header();
  EXPECT_EQ(h.rfind("seq,ts,instance,event,", 0), 0u);
}

TEST(Exporters, FiltersSelectByTimeIdentitySegmentAndEventPrefix) {
  AuditRecord r = statement_record(1);
  r.ts = "2026-11-22T10:00:00.000000Z";
  const auto t = *parse_timestamp(r.ts);
  ExportFilter f;
  EXPECT_TRUE(matches(r, f));
  f.since = t;
  EXPECT_TRUE(matches(r, f));  // inclusive
  f.until = t;
  EXPECT_FALSE(matches(r, f));  // exclusive
  f = {};
  f.until = t + 1us;
  EXPECT_TRUE(matches(r, f));
  f = {};
  f.identity = "api";
  EXPECT_TRUE(matches(r, f));
  f.identity = "spiffe://example.org/ns/billing/api";
  EXPECT_TRUE(matches(r, f));
  f.identity = "someone-else";
  EXPECT_FALSE(matches(r, f));
  f = {};
  f.segment = "billing";
  EXPECT_TRUE(matches(r, f));
  f.segment = "hr";
  EXPECT_FALSE(matches(r, f));
  f = {};
  f.event = "statement.*";
  EXPECT_TRUE(matches(r, f));
  f.event = "statement.decision";
  EXPECT_TRUE(matches(r, f));
  f.event = "session.*";
  EXPECT_FALSE(matches(r, f));
}

TEST(Exporters, OcsfMapsStatementsToDatastoreActivityWithRequiredFields) {
  AuditRecord r = statement_record(3);
  r.seq = 9;
  r.ts = "2026-11-22T10:00:00.250000Z";
  r.decision = "deny";
  r.tables = {{"public.orders", "delete"}};
  const std::string o = to_ocsf(r);
  for (const char* needle :
       {"\"class_uid\":6005", "\"category_uid\":6", "\"activity_id\":7", "\"type_uid\":600507",
        "\"time\":1795341600250", "\"severity_id\":3", "\"status_id\":2", "\"disposition_id\":2",
        "\"metadata\":{\"version\":\"1.1.0\"", "\"product\":{\"name\":\"segproxy\"",
        "\"actor\":{\"user\":{\"name\":\"api\",\"uid\":\"spiffe://example.org/ns/billing/api\"}}",
        "\"src_endpoint\":{\"ip\":\"10.0.0.1\",\"port\":", "\"database\":{\"name\":\"shop\"",
        "\"table\":{\"name\":\"public.orders\"}", "\"query_info\":{\"query_string\":",
        "\"unmapped\":{\"event\":\"statement.decision\",\"segment\":\"billing\""})
    EXPECT_NE(o.find(needle), std::string::npos) << needle << "\n" << o;
  AuditRecord open;
  open.event = "session.open";
  open.ts = r.ts;
  open.client_addr = "[::1]:6000";
  const std::string so = to_ocsf(open);
  EXPECT_NE(so.find("\"activity_id\":3"), std::string::npos) << so;
  EXPECT_NE(so.find("\"ip\":\"::1\",\"port\":6000"), std::string::npos) << so;
  AuditRecord admin;
  admin.event = "admin.revoke";
  admin.ts = r.ts;
  const std::string ao = to_ocsf(admin);
  EXPECT_NE(ao.find("\"class_uid\":6003"), std::string::npos);
  EXPECT_NE(ao.find("\"api\":{\"operation\":\"admin.revoke\"}"), std::string::npos);
}

class ExportLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    auto cfg = base_config(dir_.path());
    auto sink = FileSink::open(cfg, err, {clock_, nullptr, nullptr});
    ASSERT_TRUE(sink) << err;
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(sink->submit(statement_record(i, i % 2 ? "hr" : "billing")).wait());
      clock_->advance(1s);
    }
  }
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  TempDir dir_;
};

TEST_F(ExportLogTest, JsonlExportIsTheVerifiedCanonicalLinesMatchingTheFilter) {
  std::ostringstream out;
  ExportOptions o;
  o.filter.segment = "hr";
  const ExportResult r = export_log(dir_.path(), out, o);
  EXPECT_TRUE(r.ok()) << r.verification.summary();
  EXPECT_EQ(r.exported, 5u);
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 5u);
  std::string e;
  for (const auto& l : lines) {
    auto rec = decode_record(l, e);
    ASSERT_TRUE(rec) << e;
    EXPECT_EQ(rec->segment, "hr");
  }
}

TEST_F(ExportLogTest, CsvExportHasHeaderAndOneRowPerRecordWithinTheTimeWindow) {
  std::ostringstream out;
  ExportOptions o;
  o.format = ExportFormat::csv;
  const auto base = ManualClock().now();
  o.filter.since = base + 2s;
  o.filter.until = base + 5s;
  o.filter.event = "statement.*";
  const ExportResult r = export_log(dir_.path(), out, o);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exported, 3u);
  EXPECT_EQ(out.str().rfind(csv_header(), 0), 0u);
}

TEST_F(ExportLogTest, ExportStopsAndFailsAtTamperingUnlessVerificationIsDisabled) {
  const fs::path f = log_paths(dir_.path()).front();
  auto lines = lines_of(slurp(f));
  const auto pos = lines[5].find("\"decision\":\"allow\"");
  ASSERT_NE(pos, std::string::npos);
  lines[5].replace(pos, 18, "\"decision\":\"deny\"");
  spit(f, join_lines(lines));
  std::ostringstream out;
  ExportOptions o;
  o.format = ExportFormat::ocsf;
  ExportResult r = export_log(dir_.path(), out, o);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.verification.status, VerifyStatus::tampered);
  EXPECT_EQ(r.verification.seq, 6u);
  EXPECT_EQ(r.exported, 5u);  // records before the problem
  std::ostringstream all;
  o.verify = false;
  r = export_log(dir_.path(), all, o);
  EXPECT_TRUE(r.ok()) << r.verification.summary();
  EXPECT_EQ(r.exported, lines_of(slurp(f)).size());
}

}  // namespace
}  // namespace segproxy::audit
