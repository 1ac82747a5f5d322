#pragma once
// The central audit store tests (audit_store_test.cpp): a fresh database in the test
// PostgreSQL per test, initialised by `segproxyctl audit store init` with a shipping role
// of its own, and proxies ("instances") that ship their audit log to it.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.hpp"
#include "support/audit_support.hpp"
#include "support/fixture.hpp"
#include "support/pg.hpp"
#include "support/process.hpp"

namespace segproxy::it {

struct ShipInstance {
  std::string name;  // audit.instance
  std::string dir;   // its audit log directory
  std::uint16_t port = 0;
  std::uint16_t metrics_port = 0;
  std::string config;
  std::unique_ptr<ProxyProcess> proc = std::make_unique<ProxyProcess>();
};

class AuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SEGPROXY_IT_REQUIRE_ENV();
    dir_ = make_temp_dir(env().test_dir, "it-store-");
    ASSERT_FALSE(dir_.empty());
    db_ = unique_name("it_audit_store");
    role_ = unique_name("it_ship");
    ship_pw_file_ = dir_ + "/ship.pw";
    write_file(ship_pw_file_, "ship-" + unique_name("pw") + "\n");
    const auto keys = audit::generate_ed25519_pem();
    write_file(dir_ + "/signing.pem", keys.private_pem);
    write_file(dir_ + "/signing.pub", keys.public_pem);
    PgConnPtr su = pg_connect(cluster_su_conninfo("postgres"));
    ASSERT_EQ(PQstatus(su.get()), CONNECTION_OK) << PQerrorMessage(su.get());
    const QueryOutcome q = pg_exec(su.get(), "CREATE DATABASE " + db_ + " ENCODING 'UTF8' TEMPLATE template0");
    ASSERT_TRUE(q.ok) << q.error;
    created_ = true;
    std::vector<std::string> init_args = {"audit", "store", "init", "--postgres", cluster_su_conninfo(db_),
                                          "--shipper-role", role_, "--shipper-password-file", ship_pw_file_};
    if (!initial_schema_version_.empty()) {
      init_args.push_back("--schema-version");
      init_args.push_back(initial_schema_version_);
    }
    const ProcResult init = Ctl(init_args);
    ASSERT_EQ(init.exit_code, 0) << init.describe();
  }

  void TearDown() override {
    for (auto& [name, inst] : instances_) {
      const bool running = inst.proc->running();
      inst.proc->stop();
      if (HasFailure()) std::cerr << "--- segproxy log of " << name << " (running: " << running << ") ---\n" << inst.proc->log();
    }
    if (created_) {
      PgConnPtr su = pg_connect(cluster_su_conninfo("postgres"));
      pg_exec(su.get(), "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
      pg_exec(su.get(), "DROP ROLE IF EXISTS " + role_);
    }
    if (!HasFailure() && !dir_.empty()) remove_tree(dir_);
  }

  // The superuser over the unix socket, on database `db`.
  static std::string cluster_su_conninfo(const std::string& db) {
    const Env& e = env();
    return "host=" + (e.pgsockdir.empty() ? e.pghost : e.pgsockdir) + " port=" + e.pgport + " dbname=" + db +
           " user=" + e.pgsuperuser + " sslmode=disable connect_timeout=10";
  }
  std::string StoreSu() const { return cluster_su_conninfo(db_); }

  static ProcResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), env().segproxyctl_bin);
    return run_process(args, std::chrono::seconds(120));
  }

  // A value from the store, as the superuser.
  std::string StoreValue(const std::string& sql) {
    PgConnPtr su = pg_connect(StoreSu());
    const QueryOutcome q = pg_exec(su.get(), sql);
    EXPECT_TRUE(q.ok) << sql << ": " << q.error;
    return q.value;
  }
  void StoreExec(const std::string& sql) {
    PgConnPtr su = pg_connect(StoreSu());
    const QueryOutcome q = pg_exec(su.get(), sql);
    ASSERT_TRUE(q.ok) << sql << ": " << q.error;
  }

  // `audit:` with shipping to this test's store (and a metrics endpoint).
  std::string AuditYaml(const ShipInstance& i, const std::string& ship_extra) const {
    return "audit:\n"
           "  dir: \"" + i.dir + "\"\n"
           "  instance: " + i.name + "\n"
           "  checkpoint_every_records: 25\n"
           "  signing_key: \"" + dir_ + "/signing.pem\"\n" +
           (ship_extra == kNoShip ? std::string() : ShipYaml(ship_extra)) +
           "metrics: {listen: \"127.0.0.1:" + std::to_string(i.metrics_port) + "\"}\n";
  }
  std::string ShipYaml(const std::string& ship_extra) const {
    const Env& e = env();
    return "  ship:\n"
           "    postgres: {host: 127.0.0.1, port: " + e.pgport + ", dbname: " + db_ + ", user: " + role_ +
           ", password_file: \"" + ship_pw_file_ + "\", tls: {mode: verify-full, ca: \"" + e.pki_file("ca.crt") +
           "\", cert: \"" + e.pki_file("client-spiffe.crt") + "\", key: \"" + e.pki_file("client-spiffe.key") + "\"}}\n" +
           ship_extra;
  }
  static constexpr const char* kNoShip = "no-ship";

  ShipInstance& Instance(const std::string& name) {
    ShipInstance& i = instances_[name];
    if (i.name.empty()) {
      i.name = name;
      i.dir = dir_ + "/" + name + "-audit";
      i.config = dir_ + "/" + name + ".yaml";
    }
    return i;
  }

  // Starts (or restarts) instance `name` with the same log directory; `base` supplies the
  // policies and extra top-level YAML (the audit section is added).
  void Start(const std::string& name, const std::string& ship_extra = "    batch: 7\n    interval: 50ms\n",
             const ProxyConfigOptions& base = {}) {
    ShipInstance& i = Instance(name);
    std::string error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      i.port = free_port();
      i.metrics_port = free_port();
      ProxyConfigOptions opts = base;
      opts.log_level = "info";
      opts.extra_yaml = base.extra_yaml + AuditYaml(i, ship_extra);
      write_file(i.config, render_config(i.port, opts));
      if (i.proc->start(env().segproxy_bin, {"--config", i.config}, dir_ + "/" + name + ".log", i.port,
                        kProxyStartTimeout, &error))
        return;
    }
    FAIL() << "segproxy " << name << " did not start: " << error << "\n" << read_file(i.config);
  }

  // `n` statements through instance `name`, each its own round trip.
  void Traffic(const std::string& name, int n) {
    PgConnPtr c = pg_connect(proxy_conninfo(Instance(name).port, ClientCert::Spiffe));
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    for (int k = 0; k < n; ++k) {
      const QueryOutcome q = pg_exec(c.get(), "SELECT " + std::to_string(k) + " AS n");
      ASSERT_TRUE(q.ok) << q.error;
    }
  }

  // The local log's complete lines (index = seq - 1), verified.
  static std::vector<std::string> LocalLines(const std::string& dir) {
    std::vector<std::string> lines;
    audit::LogReader reader(dir, audit::VerifyOptions{});
    audit::AuditRecord r;
    std::string_view line;
    while (reader.next(r, line)) lines.emplace_back(line);
    EXPECT_TRUE(reader.result().intact()) << reader.result().summary();
    return lines;
  }

  // The store's lines of an instance in seq order, and whether seqs are exactly 1..n.
  std::vector<std::string> StoreLines(const std::string& instance, bool* contiguous) {
    PgConnPtr su = pg_connect(StoreSu());
    PgResultPtr r(PQexec(su.get(), ("SELECT seq, line FROM segproxy_audit.records WHERE instance = '" + instance +
                                    "' ORDER BY seq").c_str()));
    std::vector<std::string> out;
    *contiguous = true;
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << PQresultErrorMessage(r.get());
      return out;
    }
    for (int k = 0; k < PQntuples(r.get()); ++k) {
      if (std::stoull(PQgetvalue(r.get(), k, 0)) != static_cast<std::uint64_t>(k) + 1) *contiguous = false;
      out.emplace_back(PQgetvalue(r.get(), k, 1), static_cast<std::size_t>(PQgetlength(r.get(), k, 1)));
    }
    return out;
  }

  // Polls (bounded, generous) until the store holds exactly the instance's local log.
  ::testing::AssertionResult Converged(const std::string& name, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t local_n = 0, store_n = 0;
    bool contiguous = true;
    for (;;) {
      // The store first: records written after this read (a session.close, a checkpoint)
      // may be shipped before the local read below, never the other way round, so a
      // store ahead of the local log is a real fault, not a stale read.
      const auto stored = StoreLines(name, &contiguous);
      const auto local = LocalLines(Instance(name).dir);
      local_n = local.size();
      store_n = stored.size();
      if (!contiguous) return ::testing::AssertionFailure() << "store seqs of " << name << " are not 1..n";
      if (store_n > local_n) return ::testing::AssertionFailure() << "store ahead of the local log";
      for (std::size_t k = 0; k < store_n; ++k) {
        if (stored[k] != local[k])
          return ::testing::AssertionFailure() << name << " seq " << k + 1 << " differs:\n  local " << local[k]
                                               << "\n  store " << stored[k];
      }
      if (store_n == local_n && local_n > 0) return ::testing::AssertionSuccess();
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ::testing::AssertionFailure() << name << ": store has " << store_n << " of " << local_n
                                         << " local records after the wait";
  }

  std::string initial_schema_version_;  // empty: the newest (a fixture may start older)
  std::string dir_, db_, role_, ship_pw_file_;
  bool created_ = false;
  std::map<std::string, ShipInstance> instances_;
};

}  // namespace segproxy::it
