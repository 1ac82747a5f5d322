// Prints the exposition of a ProxyMetrics that has seen some traffic, including label
// values that need escaping and a family pushed past its series cap. The ctest
// `metrics.promtool` pipes this into `promtool check metrics`.
#include <cstdio>
#include <string>

#include "daemon/metrics/metrics.hpp"
#include "daemon/metrics/proxy_metrics.hpp"

int main() {
  using namespace segproxy::proxy;
  ProxyMetrics pm("0.1.0-dev \"quoted\"", 1795000000.5);

  ListenerMetrics& pg = pm.listener("pg_main");
  pg.connections_accepted->inc(42);
  pg.connections_active->inc(3);
  pg.refused(RefuseReason::Revoked).inc(2);
  pg.refused(RefuseReason::MaxConnectionsPerIdentity).inc();
  pg.tls_handshake_failed(TlsFailureReason::CertificateVerifyFailed).inc();
  pg.bytes(Direction::ClientToBackend).inc(12345);
  pg.bytes(Direction::BackendToClient).inc(987654321);
  pg.backend_connect_duration->observe(0.0042);
  pg.backend_connect_duration->observe(12.0);  // beyond the last bucket

  // Names from a configuration may contain anything; they must come out escaped.
  ListenerMetrics& odd = pm.listener("edge \"west\"\\1\nline2 caf\xC3\xA9 bad\xFF");
  odd.connections_accepted->inc();

  SegmentMetrics& billing = pm.segment("billing");
  billing.sessions_active().inc(2);
  billing.statements(StatementLabel::Select, Decision::Allow).inc(100);
  billing.statements(StatementLabel::Insert, Decision::Allow).inc(7);
  billing.statements(StatementLabel::Ddl, Decision::Deny).inc();
  billing.statements(StatementLabel::Multi, Decision::Deny).inc();
  billing.statement_duration().observe(0.0003);
  billing.statement_duration().observe(0.25);
  billing.statement_duration().observe(120.0);
  billing.limit_exceeded(LimitKind::StatementTimeout).inc();

  SegmentMetrics& quoted = pm.segment("seg\\with\"quote\"\nnewline");
  quoted.statements(StatementLabel::Transaction, Decision::Allow).inc();

  for (int i = 0; i < 20; ++i) {
    ScopedTimer t(pm.policy_evaluation_duration());
  }
  pm.policy_evaluation_duration().observe(2e-6);
  pm.audit_records_written().inc(108);
  pm.audit_write_duration().observe(0.00007);
  pm.audit_fsync_duration().observe(0.0021);
  pm.audit_failures(AuditFailureReason::Fsync).inc();
  pm.config_reloads(ReloadOutcome::Success).inc();
  pm.config_reloads(ReloadOutcome::Failure).inc();
  pm.set_revocations_active([] { return 3.0; });
  pm.set_audit_queue_depth([] { return 0.0; });

  // A family past its cap: the overflow series and the overflow counter appear.
  auto& capped =
      pm.registry().counter("segproxy_test_capped_total", "A capped family (dump only).", {"name"}, FamilyOptions{2});
  for (int i = 0; i < 5; ++i) capped.with({"n" + std::to_string(i)}).inc();
  auto& frac = pm.registry().counter("segproxy_test_seconds_total", "A fractional counter (dump only).");
  frac.get().add(0.125);
  frac.get().inc(2);

  const std::string out = pm.render();
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
