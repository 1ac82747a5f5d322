// The instance registry (issue 16, docs/fleet.md): two real segproxy processes with a
// `control_plane:` block register themselves in the real three-member etcd cluster;
// `segproxyctl fleet --json` lists them from etcd directly, with their listeners and live
// session counts; an instance that stops leaves the registry (its lease is revoked).
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "json/json.hpp"
#include "support/etcd_cluster.hpp"
#include "support/fixture.hpp"
#include "support/pg.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

class FleetRegistryTest : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }

  std::string control_plane_yaml(const std::string& instance) const {
    const EtcdCluster& c = etcd_cluster();
    std::string endpoints;
    for (const auto& e : c.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
    return "control_plane:\n"
           "  etcd:\n"
           "    endpoints: [" + endpoints + "]\n"
           "    tls: {ca: \"" + c.ca + "\", cert: \"" + c.cert + "\", key: \"" + c.key + "\"}\n"
           "    prefix: " + prefix_ + "\n"
           "  instance: " + instance + "\n";
  }

  // Starts a proxy in DIR/<name>/ with the control plane block; returns its port.
  std::uint16_t start_instance(const std::string& name, ProxyProcess& proc, std::string& config) {
    const std::string dir = dir_ + "/" + name;
    run_process({"mkdir", "-p", dir}, 5s);
    ProxyConfigOptions opts;
    opts.extra_yaml = control_plane_yaml(name);
    std::string error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::uint16_t port = free_port();
      config = dir + "/segproxy.yaml";
      write_file(config, render_config(port, opts));
      if (proc.start(env().segproxy_bin, {"--config", config}, dir + "/segproxy.log", port, kProxyStartTimeout, &error)) {
        return port;
      }
    }
    ADD_FAILURE() << "segproxy " << name << " did not start: " << error << "\n" << proc.log();
    return 0;
  }

  // `segproxyctl fleet --config CONFIG --json`, parsed; instance name -> record.
  std::map<std::string, json::Value> fleet(const std::string& config, std::string& raw) {
    ProcResult r = run_process({env().segproxyctl_bin, "fleet", "--config", config, "--json"}, 30s);
    raw = r.describe();
    std::map<std::string, json::Value> out;
    if (r.exit_code != 0) return out;
    json::ParseResult p = json::parse(r.out);
    if (!p || p.value->find("instances") == nullptr) return out;
    for (const json::Value& i : p.value->find("instances")->as_array()) {
      out[i.find("instance")->as_string()] = i;
    }
    return out;
  }

  std::string prefix_ = "/segproxy-it/" + unique_name("fleet");
};

TEST_F(FleetRegistryTest, EveryInstanceRegistersItselfAndLeavesTheRegistryWhenItStops) {
  SEGPROXY_IT_REQUIRE_ETCD();
  const std::string a = unique_name("proxy-a");
  const std::string b = unique_name("proxy-b");
  ProxyProcess pa, pb;
  std::string config_a, config_b;
  const std::uint16_t port_a = start_instance(a, pa, config_a);
  const std::uint16_t port_b = start_instance(b, pb, config_b);
  ASSERT_NE(port_a, 0);
  ASSERT_NE(port_b, 0);

  // Both appear (bounded wait: the first write follows the start at once).
  std::map<std::string, json::Value> listed;
  std::string raw;
  for (int i = 0; i < 40 && listed.size() < 2; ++i) {
    listed = fleet(config_a, raw);
    if (listed.size() < 2) std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(listed.size(), 2u) << raw;
  ASSERT_TRUE(listed.count(a) && listed.count(b)) << raw;
  const json::Value& ra = listed[a];
  EXPECT_FALSE(ra.find("version")->as_string().empty());
  EXPECT_EQ(ra.find("config_sha256")->as_string().size(), 64u);
  ASSERT_EQ(ra.find("listeners")->as_array().size(), 1u);
  EXPECT_EQ(ra.find("listeners")->as_array()[0].find("address")->as_string(),
            "127.0.0.1:" + std::to_string(port_a));
  EXPECT_GT(ra.find("started_at")->as_int(), 0);

  // A live session through A shows in A's record at a later heartbeat (bounded wait).
  PgConnPtr conn = pg_connect(proxy_conninfo(port_a, ClientCert::Spiffe));
  ASSERT_PG_CONNECTED(conn);
  bool counted = false;
  for (int i = 0; i < 60 && !counted; ++i) {
    listed = fleet(config_b, raw);  // any instance's config reads the same registry
    counted = listed.count(a) && listed[a].find("sessions")->as_int() == 1;
    if (!counted) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(counted) << raw;
  conn.reset();

  // The table form lists both too.
  ProcResult table = run_process({env().segproxyctl_bin, "fleet", "--config", config_a}, 30s);
  ASSERT_EQ(table.exit_code, 0) << table.describe();
  EXPECT_EQ(table.out.rfind("INSTANCE\tVERSION\tCONFIG\tSESSIONS\tLISTENERS\tAPPLIED\n", 0), 0u) << table.out;
  EXPECT_NE(table.out.find(a + "\t"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(b + "\t"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("2 instance(s) at etcd revision "), std::string::npos) << table.out;

  // B stops: its lease is revoked, its key disappears; A stays.
  pb.stop();
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    listed = fleet(config_a, raw);
    gone = listed.size() == 1 && listed.count(a);
    if (!gone) std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(gone) << raw;
}

TEST_F(FleetRegistryTest, InstanceNameDefaultsToTheHostName) {
  SEGPROXY_IT_REQUIRE_ETCD();
  const EtcdCluster& c = etcd_cluster();
  std::string endpoints;
  for (const auto& e : c.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
  ProxyConfigOptions opts;
  opts.extra_yaml = "control_plane:\n  etcd:\n    endpoints: [" + endpoints + "]\n"
                    "    tls: {ca: \"" + c.ca + "\", cert: \"" + c.cert + "\", key: \"" + c.key + "\"}\n"
                    "    prefix: " + prefix_ + "\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  std::map<std::string, json::Value> listed;
  std::string raw;
  for (int i = 0; i < 40 && listed.empty(); ++i) {
    listed = fleet(config_path_, raw);
    if (listed.empty()) std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(listed.size(), 1u) << raw;
  EXPECT_EQ(listed.begin()->first, std::string(host)) << raw;
}

TEST_F(FleetRegistryTest, ProxyServesSessionsWhileEtcdIsUnreachable) {
  SEGPROXY_IT_REQUIRE_ETCD();
  const EtcdCluster& c = etcd_cluster();
  ProxyConfigOptions opts;
  // Nothing listens on these ports: every registry call fails (bounded), sessions must not.
  opts.extra_yaml = "control_plane:\n"
                    "  etcd:\n"
                    "    endpoints: [https://127.0.0.1:" + std::to_string(free_port()) +
                    ", https://127.0.0.1:" + std::to_string(free_port()) + "]\n"
                    "    tls: {ca: \"" + c.ca + "\", cert: \"" + c.cert + "\", key: \"" + c.key + "\"}\n"
                    "  instance: lonely\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const QueryOutcome q = pg_exec(conn.get(), "SELECT 1");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "1");
  bool logged = false;
  for (int i = 0; i < 40 && !logged; ++i) {
    logged = proxy_.log().find("fleet.registry_failed") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(logged) << proxy_.log();
  ProcResult r = run_process({env().segproxyctl_bin, "fleet", "--config", config_path_}, 60s);
  EXPECT_EQ(r.exit_code, 1) << r.describe();  // etcd unreachable
  EXPECT_NE(r.err.find("no etcd member answered"), std::string::npos) << r.describe();
}

TEST_F(FleetRegistryTest, FleetCommandWithoutControlPlaneIsAConfigurationError) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  ProcResult r = run_process({env().segproxyctl_bin, "fleet", "--config", config_path_}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("no control_plane"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace segproxy::it
