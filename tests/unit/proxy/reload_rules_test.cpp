// Which configuration changes a running proxy takes on reload and which need a restart
// (daemon/reload.hpp): listeners, threads, audit, admin, metrics and log are fixed for
// the life of the process; everything else is swapped.
#include <gtest/gtest.h>

#include <fstream>

#include "daemon/reload.hpp"

namespace segproxy::proxy {
namespace {

config::Config base() {
  config::Config c;
  config::Listener l;
  l.name = "pg-main";
  l.listen = {"127.0.0.1", 6432};
  l.backend.endpoint = {"db", 5432};
  c.listeners.push_back(l);
  config::Segment s;
  s.name = "billing";
  s.databases = {"shop"};
  c.segments.emplace("billing", s);
  c.audit = config::AuditSettings{};
  c.audit->dir = "/var/log/segproxy";
  return c;
}

TEST(ReloadRules, SegmentsPoliciesBackendsAndTlsFilesNeedNoRestart) {
  config::Config next = base();
  next.segments.at("billing").databases.push_back("shop2");
  next.segments.at("billing").limits.max_connections = 3;
  next.listeners[0].backend.endpoint.host = "db2";
  next.listeners[0].tls.crl = "/etc/ca.crl";
  next.identities.push_back(config::IdentityRule{});
  EXPECT_TRUE(restart_required_changes(base(), next).empty());
}

TEST(ReloadRules, MovedAddedOrRemovedListenerNeedsARestart) {
  config::Config moved = base();
  moved.listeners[0].listen.port = 6433;
  auto r = restart_required_changes(base(), moved);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].find("moved from 127.0.0.1:6432 to 127.0.0.1:6433"), std::string::npos) << r[0];

  config::Config added = base();
  added.listeners.push_back(added.listeners[0]);
  added.listeners[1].name = "pg-2";
  added.listeners[1].listen.port = 7000;
  r = restart_required_changes(base(), added);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].find("\"pg-2\" was added"), std::string::npos);

  config::Config removed = base();
  removed.listeners.clear();
  r = restart_required_changes(base(), removed);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].find("was removed"), std::string::npos);
}

TEST(ReloadRules, AuditAdminMetricsThreadsAndLogChangesNeedARestart) {
  config::Config next = base();
  next.audit->durability = "fsync_each";
  next.admin = config::AdminSettings{};
  next.metrics = config::MetricsSettings{};
  next.threads = 8;
  next.log.level = "debug";
  EXPECT_EQ(restart_required_changes(base(), next).size(), 5u);
}

TEST(ReloadRules, ControlPlaneChangesNeedARestart) {
  config::Config with = base();
  with.control_plane = config::ControlPlaneSettings{};
  with.control_plane->etcd.endpoints = {"https://127.0.0.1:2379"};
  config::Config moved = with;
  moved.control_plane->etcd.prefix = "/segproxy/other";
  moved.control_plane->line = 7;
  ASSERT_EQ(restart_required_changes(with, moved).size(), 1u);
  EXPECT_EQ(restart_required_changes(with, moved)[0], "the control_plane: section changed");
  EXPECT_EQ(restart_required_changes(base(), with).size(), 1u);  // added
  EXPECT_EQ(restart_required_changes(with, base()).size(), 1u);  // removed
}

TEST(ReloadRules, WhereASectionIsWrittenDoesNotCountAsAChange) {
  config::Config next = base();
  next.audit->line = 99;
  EXPECT_TRUE(restart_required_changes(base(), next).empty());
}

TEST(ReloadRules, ConfigVersionIsTheSha256OfTheFileBytes) {
  const std::string path = ::testing::TempDir() + "/reload_rules_hash.yaml";
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_EQ(file_sha256_hex(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(file_sha256_hex(path + ".missing"), "");
}

}  // namespace
}  // namespace segproxy::proxy
