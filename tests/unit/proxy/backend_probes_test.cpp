// The per-backend cap on concurrent MySQL stall probes (daemon/mysql/backend_probes.hpp).
#include "daemon/mysql/backend_probes.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

ProbeVerdict failed(std::string error) { return ProbeVerdict{false, std::move(error)}; }

TEST(BackendProbes, NoMoreThanTheCapOfProbesOfOneBackendRunAtOnceAndOtherBackendsAreNotAffected) {
  BackendProbes probes(nullptr);
  std::vector<std::optional<BackendProbes::Probe>> started;
  int attached = 0;
  for (int i = 0; i < 10; ++i) {
    auto p = probes.start_or_wait("db:3306", 2, [](const ProbeVerdict&) {});
    if (p) started.push_back(std::move(p));
    else ++attached;
  }
  EXPECT_EQ(started.size(), 2u);
  EXPECT_EQ(attached, 8);
  EXPECT_EQ(probes.in_flight("db:3306"), 2u);
  auto other = probes.start_or_wait("other:3306", 2, [](const ProbeVerdict&) {});
  EXPECT_TRUE(other.has_value());
  EXPECT_EQ(probes.in_flight("other:3306"), 1u);
  // A cap of 0 still lets one probe run (a session must get a verdict).
  auto zero = probes.start_or_wait("zero:3306", 0, [](const ProbeVerdict&) {});
  EXPECT_TRUE(zero.has_value());
  EXPECT_FALSE(probes.start_or_wait("zero:3306", 0, [](const ProbeVerdict&) {}).has_value());
}

TEST(BackendProbes, EverySessionWaitingOverTheCapGetsTheVerdictOfTheProbeThatStartedFirst) {
  BackendProbes probes(nullptr);
  auto first = probes.start_or_wait("db:3306", 2, [](const ProbeVerdict&) {});
  auto second = probes.start_or_wait("db:3306", 2, [](const ProbeVerdict&) {});
  ASSERT_TRUE(first && second);
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(probes.start_or_wait("db:3306", 2, [&](const ProbeVerdict& v) {
                           got.push_back((v.answers ? "answers: " : "silent: ") + v.error);
                         }).has_value());
  }
  second->finish(ProbeVerdict{true, ""});
  EXPECT_TRUE(got.empty()) << "the waiters are attached to the first probe, not the second";
  first->finish(failed("connect: timed out"));
  EXPECT_EQ(got, (std::vector<std::string>{"silent: connect: timed out", "silent: connect: timed out",
                                           "silent: connect: timed out"}));
  EXPECT_EQ(probes.in_flight("db:3306"), 0u);
  // The slots are free again; a verdict is delivered once.
  first->finish(ProbeVerdict{true, ""});
  EXPECT_EQ(got.size(), 3u);
  EXPECT_TRUE(probes.start_or_wait("db:3306", 2, [](const ProbeVerdict&) {}).has_value());
}

TEST(BackendProbes, AProbeTornDownUnfinishedFreesItsSlotAndDropsItsWaitersUncalled) {
  BackendProbes probes(nullptr);
  int calls = 0;
  {
    auto p = probes.start_or_wait("db:3306", 1, [](const ProbeVerdict&) {});
    ASSERT_TRUE(p);
    EXPECT_FALSE(probes.start_or_wait("db:3306", 1, [&](const ProbeVerdict&) { ++calls; }).has_value());
    std::optional<BackendProbes::Probe> moved(std::move(*p));  // the moved-from one frees nothing
    p.reset();
    EXPECT_EQ(probes.in_flight("db:3306"), 1u);
  }
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(probes.in_flight("db:3306"), 0u);
  EXPECT_TRUE(probes.start_or_wait("db:3306", 1, [](const ProbeVerdict&) {}).has_value());
}

TEST(BackendProbes, ProbesAreCountedByResultWaitsSeparatelyAndInFlightGoesBackToZero) {
  ProxyMetrics pm("dev", 0);
  BackendProbes probes(&pm);
  for (const ProbeVerdict& v : {ProbeVerdict{true, ""}, ProbeVerdict{true, "greeting: ERR 1040 Too many connections"},
                                failed("connect: timed out"), failed("connect: timed out")}) {
    auto p = probes.start_or_wait("db:3306", 1, [](const ProbeVerdict&) {});
    ASSERT_TRUE(p);
    EXPECT_TRUE(has_line(pm.render(), "segproxy_backend_probes_in_flight{backend=\"db:3306\"} 1")) << pm.render();
    EXPECT_FALSE(probes.start_or_wait("db:3306", 1, [](const ProbeVerdict&) {}).has_value());
    p->finish(v);
  }
  const std::string out = pm.render();
  EXPECT_TRUE(has_line(out, "segproxy_backend_probes_total{backend=\"db:3306\",result=\"answered\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_backend_probes_total{backend=\"db:3306\",result=\"refused\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_backend_probes_total{backend=\"db:3306\",result=\"failed\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_backend_probe_waits_total{backend=\"db:3306\"} 4")) << out;
  EXPECT_TRUE(has_line(out, "segproxy_backend_probes_in_flight{backend=\"db:3306\"} 0")) << out;
}

}  // namespace
}  // namespace segproxy::proxy
