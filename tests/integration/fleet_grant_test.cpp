// Emergency grants through etcd (issue 18 part 2, docs/fleet.md "Grants"): two real
// segproxy processes with a `control_plane:` block against the real three-member etcd
// cluster. A grant made on instance A applies on instance B (same id, same expiry), an
// ungrant on B ends it on A, and a grant expires on every instance by itself.
#include <chrono>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "support/etcd_cluster.hpp"
#include "support/fixture.hpp"
#include "support/pg.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;
constexpr const char* kDenied = "SELECT count(*) FROM customers_pii";

template <class F>
bool eventually(F ok, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (ok()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(100ms);
  }
}

class FleetGrantTest : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }

  struct Instance {
    std::string name, dir, config, socket;
    std::uint16_t port = 0;
    ProxyProcess proc;
  };

  bool start(Instance& in) {
    const EtcdCluster& c = etcd_cluster();
    std::string endpoints;
    for (const auto& e : c.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
    in.dir = dir_ + "/" + in.name;
    run_process({"mkdir", "-p", in.dir}, 5s);
    in.socket = in.dir + "/admin.sock";
    in.config = in.dir + "/segproxy.yaml";
    in.port = free_port();
    ProxyConfigOptions opts;
    opts.log_level = "info";
    opts.billing_policy =
        "    rules:\n"
        "      - {id: read-orders, tables: [public.orders], allow: [select]}\n"
        "    statements: [transaction, session_safe]\n";
    opts.extra_yaml = "control_plane:\n  etcd:\n    endpoints: [" + endpoints + "]\n" +
                      "    tls: {ca: \"" + c.ca + "\", cert: \"" + c.cert + "\", key: \"" + c.key + "\"}\n" +
                      "    prefix: " + prefix_ + "\n  instance: " + in.name + "\n" + "admin: {socket: \"" +
                      in.socket + "\", revocations_file: \"" + in.dir + "/revocations.json\", grants_file: \"" +
                      in.dir + "/grants.json\"}\n";
    write_file(in.config, render_config(in.port, opts));
    std::string error;
    if (in.proc.start(env().segproxy_bin, {"--config", in.config}, in.dir + "/segproxy.log", in.port, 30s, &error)) {
      return true;
    }
    ADD_FAILURE() << "segproxy " << in.name << " did not start: " << error << "\n" << in.proc.log();
    return false;
  }

  std::unique_ptr<Instance> make(const std::string& label) {
    auto in = std::make_unique<Instance>();
    in->name = unique_name(label);
    return in;
  }

  ProcResult ctl(const Instance& in, std::vector<std::string> args) const {
    std::vector<std::string> argv{env().segproxyctl_bin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--socket");
    argv.push_back(in.socket);
    return run_process(argv, 60s);
  }

  static bool allowed_on(const Instance& in) {
    auto c = pg_connect(proxy_conninfo(in.port, ClientCert::Spiffe));
    return PQstatus(c.get()) == CONNECTION_OK && pg_exec(c.get(), kDenied).ok;
  }

  std::string prefix_ = "/segproxy-it/" + unique_name("grant");
};

TEST_F(FleetGrantTest, GrantOnOneInstanceAppliesOnTheOtherAndUngrantThereEndsItEverywhere) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto a = make("grant-a"), b = make("grant-b");
  ASSERT_TRUE(start(*a));
  ASSERT_TRUE(start(*b));
  ASSERT_FALSE(allowed_on(*b));

  const ProcResult g = ctl(*a, {"grant", "--segment", "billing", "--tables", "customers_pii", "--ops", "select",
                                "--ttl", "1h", "--reason", "INC-44 fleet"});
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string id = g.out.substr(0, g.out.find('\n'));
  EXPECT_NE(g.out.find("written to etcd at revision"), std::string::npos) << g.describe();
  EXPECT_TRUE(allowed_on(*a));
  EXPECT_TRUE(eventually([&] { return allowed_on(*b); })) << "the grant made on A never applied on B";
  EXPECT_NE(ctl(*b, {"grants"}).out.find(id), std::string::npos) << "B lists the grant under another id";

  const ProcResult u = ctl(*b, {"ungrant", id});
  ASSERT_EQ(u.exit_code, 0) << u.describe();
  EXPECT_FALSE(allowed_on(*b));
  EXPECT_TRUE(eventually([&] { return !allowed_on(*a); })) << "the ungrant on B never reached A";
}

TEST_F(FleetGrantTest, FleetGrantExpiresOnEveryInstanceByItself) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto a = make("grant-c"), b = make("grant-d");
  ASSERT_TRUE(start(*a));
  ASSERT_TRUE(start(*b));
  const ProcResult g = ctl(*a, {"grant", "--segment", "billing", "--tables", "customers_pii", "--ops", "select",
                                "--ttl", "8s", "--reason", "INC-45 short"});
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  ASSERT_TRUE(eventually([&] { return allowed_on(*b); })) << "the grant never applied on B";
  EXPECT_TRUE(eventually([&] { return !allowed_on(*a) && !allowed_on(*b); }, 40s)) << "the grant outlived its TTL";
  EXPECT_TRUE(eventually([&] { return ctl(*b, {"grants"}).out.find("no grants") != std::string::npos; }, 20s));
}

}  // namespace
}  // namespace segproxy::it
