#include "daemon/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

TEST(Metrics, FloatsAreFormattedTheWayPrometheusParsesThem) {
  EXPECT_EQ(prom::format_double(0.005), "0.005");
  EXPECT_EQ(prom::format_double(60), "60");
  EXPECT_EQ(prom::format_double(1700000000), "1700000000");  // no exponent for integral values
  EXPECT_EQ(prom::format_double(1795000000.5), "1795000000.5");
  EXPECT_EQ(prom::format_double(2.5), "2.5");
  EXPECT_EQ(prom::format_double(1e-6), "1e-06");
  EXPECT_EQ(prom::format_double(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(prom::format_double(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(prom::format_double(std::nan("")), "NaN");
}

TEST(Metrics, CounterRendersHelpTypeAndTotalSuffix) {
  MetricsRegistry reg;
  auto& c = reg.counter("segproxy_things", "Things seen.", {"listener"});
  EXPECT_EQ(c.name(), "segproxy_things_total");
  c.with({"pg"}).inc(3);
  const std::string out = reg.render();
  EXPECT_TRUE(has_line(out, "# HELP segproxy_things_total Things seen.")) << out;
  EXPECT_TRUE(has_line(out, "# TYPE segproxy_things_total counter")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_things_total{listener=\"pg\"} 3")) << out;
}

TEST(Metrics, CounterIgnoresNegativeAndNonFiniteAmounts) {
  Counter c;
  c.inc(2);
  c.add(0.5);
  c.add(-1);
  c.add(std::nan(""));
  c.add(std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(c.value(), 2.5);
}

TEST(Metrics, GaugeGoesUpAndDownAndCanBeSet) {
  MetricsRegistry reg;
  auto& g = reg.gauge("segproxy_level", "Level.").get();
  g.inc();
  g.inc(4);
  g.dec(2);
  EXPECT_EQ(g.value(), 3);
  g.set(-7.25);
  EXPECT_TRUE(has_line(reg.render(), "segproxy_level -7.25"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsRegistry reg;
  reg.counter("segproxy_x_total", "X.", {"segment"}).with({"a\\b\"c\nd"}).inc();
  EXPECT_TRUE(has_line(reg.render(), R"(segproxy_x_total{segment="a\\b\"c\nd"} 1)")) << reg.render();
}

TEST(Metrics, InvalidUtf8InLabelValuesIsReplaced) {
  EXPECT_EQ(prom::escape_label_value("ok\xff"), "ok\xEF\xBF\xBD");
  EXPECT_EQ(prom::escape_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(prom::escape_label_value("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(Metrics, HelpTextEscapesBackslashAndNewlineButNotQuotes) {
  MetricsRegistry reg;
  reg.gauge("segproxy_h", "a \\ b\nc \"q\"");
  EXPECT_TRUE(has_line(reg.render(), R"(# HELP segproxy_h a \\ b\nc "q")")) << reg.render();
}

TEST(Metrics, HistogramBucketsAreCumulativeAndEndWithInf) {
  MetricsRegistry reg;
  auto& h = reg.histogram("segproxy_d_seconds", "D.", {0.005, 0.1, 1}).get();
  h.observe(0.001);
  h.observe(0.005);  // le is inclusive
  h.observe(0.05);
  h.observe(2.0);
  const std::string out = reg.render();
  EXPECT_TRUE(has_line(out, "# TYPE segproxy_d_seconds histogram")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_d_seconds_bucket{le=\"0.005\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_d_seconds_bucket{le=\"0.1\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_d_seconds_bucket{le=\"1\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_d_seconds_bucket{le=\"+Inf\"} 4")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_d_seconds_sum " + prom::format_double(0.001 + 0.005 + 0.05 + 2.0))) << out;
  EXPECT_TRUE(has_line(out, "segproxy_d_seconds_count 4")) << out;
}

TEST(Metrics, HistogramLeLabelComesAfterFamilyLabels) {
  MetricsRegistry reg;
  reg.histogram("segproxy_l_seconds", "L.", {1}, {"segment"}).with({"s"}).observe(std::chrono::milliseconds(5));
  const std::string out = reg.render();
  EXPECT_TRUE(has_line(out, "segproxy_l_seconds_bucket{segment=\"s\",le=\"1\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_l_seconds_count{segment=\"s\"} 1")) << out;
}

TEST(Metrics, HistogramRejectsUnorderedBoundsAndDropsExplicitInf) {
  MetricsRegistry reg;
  EXPECT_THROW(reg.histogram("segproxy_bad_seconds", "B.", {1, 0.5}), std::invalid_argument);
  auto& h = reg.histogram("segproxy_ok_seconds", "O.", {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.get().bounds().size(), 1u);
}

TEST(Metrics, SameLabelTupleReturnsTheSameSeries) {
  MetricsRegistry reg;
  auto& f = reg.counter("segproxy_s_total", "S.", {"a", "b"});
  Counter& x = f.with({"1", "2"});
  std::string a = "1";
  Counter& y = f.with({a, std::string("2")});
  EXPECT_EQ(&x, &y);
  EXPECT_NE(&x, &f.with({"2", "1"}));
  EXPECT_EQ(f.series_count(), 2u);
}

TEST(Metrics, WrongNumberOfLabelValuesIsAProgrammingError) {
  MetricsRegistry reg;
  auto& f = reg.counter("segproxy_w_total", "W.", {"a", "b"});
  EXPECT_THROW(f.with({"only-one"}), std::invalid_argument);
}

TEST(Metrics, InvalidOrDuplicateNamesAreRejected) {
  MetricsRegistry reg;
  EXPECT_THROW(reg.gauge("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(reg.gauge("segproxy_g", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(reg.gauge("segproxy_g", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(reg.histogram("segproxy_h_seconds", "x", {1}, {"le"}), std::invalid_argument);
  reg.gauge("segproxy_g", "x");
  EXPECT_THROW(reg.gauge("segproxy_g", "x"), std::invalid_argument);
}

TEST(Metrics, SeriesBeyondCapGoToOverflowSeries) {
  MetricsRegistry reg;
  auto& f = reg.counter("segproxy_capped_total", "C.", {"segment", "class"}, FamilyOptions{2});
  f.with({"a", "x"}).inc();
  f.with({"b", "x"}).inc();
  Counter& o1 = f.with({"c", "x"});
  Counter& o2 = f.with({"d", "y"});
  EXPECT_EQ(&o1, &o2);
  o1.inc();
  o2.inc();
  EXPECT_EQ(f.series_count(), 2u);
  EXPECT_EQ(&f.with({"a", "x"}), &f.with({"a", "x"}));  // existing tuples still resolve
  const std::string out = reg.render();
  EXPECT_TRUE(has_line(out, "segproxy_capped_total{segment=\"__overflow__\",class=\"__overflow__\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_metrics_label_overflow_total{family=\"segproxy_capped_total\"} 2")) << out;
  EXPECT_EQ(out.find("segment=\"c\""), std::string::npos);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry reg;
  auto& f = reg.counter("segproxy_c_total", "C.", {"t"});
  auto& h = reg.histogram("segproxy_c_seconds", "C.", {0.5}).get();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        f.with({i % 2 ? "odd" : "even"}).inc();  // lookups race with first-use inserts
        h.observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(f.with({"odd"}).integer_part() + f.with({"even"}).integer_part(),
            static_cast<std::uint64_t>(kThreads) * kPerThread);
  const auto snap = h.snapshot();
  EXPECT_EQ(snap.count, static_cast<std::uint64_t>(kThreads) * kPerThread);
  EXPECT_EQ(snap.cumulative[0], static_cast<std::uint64_t>(kThreads) * kPerThread / 2);
  EXPECT_DOUBLE_EQ(snap.sum, kThreads * (kPerThread / 2) * 1.25);  // exact in binary
}

TEST(Metrics, CallbackGaugeIsReadAtRenderTimeAndSilentWhenCleared) {
  MetricsRegistry reg;
  double depth = 3;
  auto& g = reg.callback_gauge("segproxy_queue_depth", "Q.", [&] { return depth; });
  EXPECT_TRUE(has_line(reg.render(), "segproxy_queue_depth 3"));
  depth = 9;
  EXPECT_TRUE(has_line(reg.render(), "segproxy_queue_depth 9"));
  g.clear();
  const std::string out = reg.render();
  EXPECT_TRUE(has_line(out, "# TYPE segproxy_queue_depth gauge"));
  EXPECT_EQ(out.find("segproxy_queue_depth 9"), std::string::npos);
}

TEST(Metrics, FamiliesRenderSortedByName) {
  MetricsRegistry reg;
  reg.gauge("segproxy_zz", "z").get().set(1);
  reg.gauge("segproxy_aa", "a").get().set(1);
  const std::string out = reg.render();
  const auto a = out.find("# HELP segproxy_aa");
  const auto m = out.find("# HELP segproxy_metrics_label_overflow_total");
  const auto z = out.find("# HELP segproxy_zz");
  ASSERT_NE(a, std::string::npos);
  EXPECT_LT(a, m);
  EXPECT_LT(m, z);
  EXPECT_EQ(out, reg.render());  // deterministic
}

TEST(ProxyMetrics, ListenerSeriesExistAtZeroAndMove) {
  ProxyMetrics pm("1.2.3", 1700000000);
  ListenerMetrics& l = pm.listener("pg_main");
  EXPECT_EQ(&l, &pm.listener("pg_main"));
  std::string out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_connections_refused_total{listener=\"pg_main\",reason=\"revoked\"} 0")) << out;
  l.connections_accepted->inc();
  l.connections_active->inc();
  l.refused(RefuseReason::MaxConnectionsPerIdentity).inc();
  l.tls_handshake_failed(TlsFailureReason::CertificateVerifyFailed).inc();
  l.bytes(Direction::BackendToClient).inc(1500);
  out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_connections_accepted_total{listener=\"pg_main\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_connections_active{listener=\"pg_main\"} 1")) << out;
  EXPECT_TRUE(has_line(
      out, "segproxy_connections_refused_total{listener=\"pg_main\",reason=\"max_connections_per_identity\"} 1"))
      << out;
  EXPECT_TRUE(has_line(
      out, "segproxy_tls_handshake_failures_total{listener=\"pg_main\",reason=\"certificate_verify_failed\"} 1"))
      << out;
  EXPECT_TRUE(has_line(out, "segproxy_bytes_total{listener=\"pg_main\",direction=\"backend_to_client\"} 1500")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_build_info{version=\"1.2.3\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_start_time_seconds 1700000000")) << out;
}

TEST(ProxyMetrics, StatementCountersUseTheClosedVocabulary) {
  ProxyMetrics pm("dev", 0);
  SegmentMetrics& s = pm.segment("billing");
  Counter& c = s.statements(StatementLabel::Select, Decision::Allow);
  EXPECT_EQ(&c, &s.statements(StatementLabel::Select, Decision::Allow));
  c.inc();
  s.statements(StatementLabel::Ddl, Decision::Deny).inc(2);
  s.limit_exceeded(LimitKind::StatementTimeout).inc();
  s.sessions_active().inc();
  s.statement_duration().observe(0.02);
  const std::string out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_statements_total{segment=\"billing\",class=\"select\",decision=\"allow\"} 1"))
      << out;
  EXPECT_TRUE(has_line(out, "segproxy_statements_total{segment=\"billing\",class=\"ddl\",decision=\"deny\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_limit_exceeded_total{segment=\"billing\",limit=\"statement_timeout\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_sessions_active{segment=\"billing\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_statement_duration_seconds_count{segment=\"billing\"} 1")) << out;
  // Unused classes export nothing.
  EXPECT_EQ(out.find("class=\"cursor\""), std::string::npos);
}

template <class E>
void expect_distinct_identifiers(std::size_t count) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view w = to_label(static_cast<E>(i));
    EXPECT_TRUE(prom::valid_label_name(w)) << w;
    EXPECT_TRUE(seen.insert(w).second) << "duplicate word " << w;
  }
}

TEST(ProxyMetrics, EveryVocabularyWordIsADistinctIdentifier) {
  expect_distinct_identifiers<RefuseReason>(kRefuseReasonCount);
  expect_distinct_identifiers<TlsFailureReason>(kTlsFailureReasonCount);
  expect_distinct_identifiers<StatementLabel>(kStatementLabelCount);
  expect_distinct_identifiers<Decision>(kDecisionCount);
  expect_distinct_identifiers<AuditFailureReason>(kAuditFailureReasonCount);
  expect_distinct_identifiers<ReloadOutcome>(kReloadOutcomeCount);
  expect_distinct_identifiers<Direction>(kDirectionCount);
  expect_distinct_identifiers<LimitKind>(kLimitKindCount);
  EXPECT_EQ(to_label(RefuseReason::Internal), "internal");
  EXPECT_EQ(to_label(StatementLabel::Multi), "multi");
  EXPECT_EQ(to_label(LimitKind::IdleTimeout), "idle_timeout");
  EXPECT_EQ(to_label(Direction::ClientToBackend), "client_to_backend");
}

TEST(ProxyMetrics, CallbackGaugesReadTheirSourceAtRenderTime) {
  ProxyMetrics pm("dev", 0);
  std::size_t revoked = 4;
  pm.set_revocations_active([&] { return static_cast<double>(revoked); });
  pm.set_audit_queue_depth([] { return 12.0; });
  std::string out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_revocations_active 4")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_audit_queue_depth 12")) << out;
  pm.set_audit_ship_lag([] { return 40.0; }, [] { return 2.5; });
  out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_audit_ship_lag_records 40")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_audit_ship_lag_seconds 2.5")) << out;
  pm.set_revocations_active(nullptr);
  out = pm.render();
  EXPECT_EQ(out.find("segproxy_revocations_active 4"), std::string::npos);
}

TEST(ProxyMetrics, AuditAndReloadSeriesExistAtZero) {
  ProxyMetrics pm("dev", 0);
  pm.config_reloads(ReloadOutcome::Failure).inc();
  pm.audit_failures(AuditFailureReason::Fsync).inc();
  pm.audit_records_written().inc(10);
  pm.audit_fsync_duration().observe(0.003);
  const std::string out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_config_reloads_total{outcome=\"success\"} 0")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_config_reloads_total{outcome=\"failure\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_audit_failures_total{reason=\"fsync\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_audit_records_written_total 10")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_audit_fsync_duration_seconds_count 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_policy_evaluation_duration_seconds_bucket{le=\"1e-06\"} 0")) << out;
}

TEST(ProxyMetrics, NamesBeyondTheCapShareOneOverflowEntry) {
  ProxyMetrics pm("dev", 0);
  for (std::size_t i = 0; i < ProxyMetrics::kMaxNames; ++i) pm.segment("s" + std::to_string(i));
  SegmentMetrics& a = pm.segment("late-1");
  SegmentMetrics& b = pm.segment("late-2");
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.name(), "__overflow__");
  EXPECT_EQ(&pm.segment("s0"), &pm.segment("s0"));
  EXPECT_NE(&pm.segment("s0"), &a);
}

}  // namespace
}  // namespace segproxy::proxy
