// Exporters: CSV (RFC 4180 quoting, header), filters, OCSF fields, verification while
// exporting.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

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

// RFC 4180 fields of one CSV line (no CRLF inside quotes in these tests).
std::vector<std::string> csv_fields(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// Issue 18: the shadow outcome and the emergency grant of a statement reach CSV exports
// (file and central store share to_csv_row), in columns named by the header, right after
// `reason` as in the canonical record; every row has as many fields as the header.
TEST(Exporters, CsvCarriesShadowDecisionShadowRuleAndGrantIdInTheirNamedColumns) {
  const std::vector<std::string> header = csv_fields(csv_header());
  const auto col = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<std::size_t>(it - header.begin());
  };
  ASSERT_EQ(col("shadow_decision"), col("reason") + 1);
  ASSERT_EQ(col("shadow_rule"), col("reason") + 2);
  ASSERT_EQ(col("grant_id"), col("reason") + 3);
  AuditRecord shadowed = statement_record(1);
  shadowed.shadow_decision = "deny";
  shadowed.shadow_rule = "no-pii, candidate";  // needs quoting
  AuditRecord granted = statement_record(2);
  granted.grant_id = "3f9c0a1b2c4d,0a1b2c3d4e5f";  // several grants: comma-separated
  granted.rows = 3;
  const AuditRecord plain = statement_record(3);
  const auto s = csv_fields(to_csv_row(shadowed));
  const auto g = csv_fields(to_csv_row(granted));
  const auto p = csv_fields(to_csv_row(plain));
  for (const auto* f : {&s, &g, &p}) EXPECT_EQ(f->size(), header.size());
  EXPECT_EQ(s[col("shadow_decision")], "deny");
  EXPECT_EQ(s[col("shadow_rule")], "no-pii, candidate");
  EXPECT_EQ(s[col("grant_id")], "");
  EXPECT_EQ(g[col("grant_id")], "3f9c0a1b2c4d,0a1b2c3d4e5f");
  EXPECT_EQ(g[col("shadow_decision")], "");
  EXPECT_EQ(g[col("rows")], "3");
  EXPECT_EQ(g[col("decision")], "allow");
  EXPECT_EQ(p[col("shadow_decision")] + p[col("shadow_rule")] + p[col("grant_id")], "");
  // OCSF keeps them among the unmapped fields.
  const std::string o = to_ocsf(shadowed);
  EXPECT_NE(o.find("\"shadow_decision\":\"deny\",\"shadow_rule\":\"no-pii, candidate\""), std::string::npos) << o;
  EXPECT_NE(to_ocsf(granted).find("\"grant_id\":\"3f9c0a1b2c4d,0a1b2c3d4e5f\""), std::string::npos);
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

// A repeated statement is logged compact (same_as): the CSV row of the repeat still
// carries the shadow outcome and the grant id, joined back from the first record.
TEST(ExportLog, CsvRowOfACompactRepeatCarriesTheJoinedShadowAndGrantFields) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  std::string err;
  auto sink = FileSink::open(base_config(dir.path()), err, {clock, nullptr, nullptr});
  ASSERT_TRUE(sink) << err;
  AuditRecord r = statement_record(1);
  r.shadow_decision = "deny";
  r.shadow_rule = "no-pii";
  r.grant_id = "3f9c0a1b2c4d";
  ASSERT_TRUE(sink->submit(r).wait());
  ASSERT_TRUE(sink->submit(r).wait());
  sink.reset();
  ASSERT_NE(slurp(log_paths(dir.path()).front()).find("\"same_as\":"), std::string::npos)
      << "the repeat was not logged compact: this test would not test the join";
  std::ostringstream out;
  ExportOptions o;
  o.format = ExportFormat::csv;
  o.filter.event = "statement.decision";
  const ExportResult res = export_log(dir.path(), out, o);
  ASSERT_TRUE(res.ok()) << res.verification.summary();
  ASSERT_EQ(res.exported, 2u);
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  const auto header = csv_fields(lines[0]);
  const auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  for (std::size_t k = 1; k < 3; ++k) {
    const auto f = csv_fields(lines[k]);
    ASSERT_EQ(f.size(), header.size()) << lines[k];
    EXPECT_EQ(f[col("shadow_decision")], "deny") << lines[k];
    EXPECT_EQ(f[col("shadow_rule")], "no-pii") << lines[k];
    EXPECT_EQ(f[col("grant_id")], "3f9c0a1b2c4d") << lines[k];
  }
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
