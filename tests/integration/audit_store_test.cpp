// The central audit store (issue 17, docs/audit.md "Central store") against the real
// PostgreSQL of the test environment: a database per test set up by `segproxyctl audit
// store init`, proxies shipping their logs to it over verify-full TLS as the shipping role.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"
#include "audit/store/store_connection.hpp"
#include "support/audit_store_fixture.hpp"
#include "support/ctl.hpp"
#include "support/metrics_scrape.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

// Polls `pred` every 100 ms up to `timeout` (a generous bound, not a timing assertion).
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds timeout = 120s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

using AuditStore = AuditStoreTest;

TEST_F(AuditStore, TwoInstancesShipEveryRecordExactlyOnceAcrossSigkillMidBatchAndRestart) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  ASSERT_NO_FATAL_FAILURE(Start("it-b"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-b", 60));
  // Load on it-a while it is killed: its shipper is in the middle of its small batches.
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop.load()) {
      PgConnPtr c = pg_connect(proxy_conninfo(Instance("it-a").port, ClientCert::Spiffe));
      for (int k = 0; k < 50 && !stop.load() && PQstatus(c.get()) == CONNECTION_OK; ++k) pg_exec(c.get(), "SELECT 1");
      if (PQstatus(c.get()) != CONNECTION_OK) std::this_thread::sleep_for(20ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return std::stoull("0" + StoreValue("SELECT count(*) FROM segproxy_audit.records WHERE instance = 'it-a'")) > 40; }));
  ASSERT_EQ(::kill(Instance("it-a").proc->pid(), SIGKILL), 0);
  Instance("it-a").proc->stop();  // reaps it
  std::this_thread::sleep_for(200ms);
  stop = true;
  load.join();
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));  // same directory: the chain continues
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 40));
  EXPECT_TRUE(Converged("it-a"));
  EXPECT_TRUE(Converged("it-b"));

  // No duplicate, no gap (the primary key and Converged's 1..n check), byte for byte;
  // the chain and the signed checkpoints verify from the store alone.
  const ProcResult v = Ctl({"audit", "verify", "--postgres", StoreSu(), "--pubkey", dir_ + "/signing.pub"});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_NE(v.out.find("instance it-a: OK"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("instance it-b: OK"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("0 signatures verified"), std::string::npos) << v.out;
  // Every queryable column is the line's field (COPY BINARY: seq as int8, ts as
  // microseconds since 2000, the strings as their bytes); the hash is the line's (no
  // column of its own since schema version 2, the view reads it from the line).
  EXPECT_EQ(StoreValue("SELECT count(*) FROM segproxy_audit.records, LATERAL (SELECT line::json AS j) l WHERE "
                       "seq IS DISTINCT FROM (j->>'seq')::bigint OR event IS DISTINCT FROM j->>'event' OR "
                       "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') IS DISTINCT FROM j->>'ts' OR "
                       "session_id IS DISTINCT FROM j->>'session_id' OR "
                       "identity IS DISTINCT FROM coalesce(j->>'identity', j->>'spiffe_id', j->>'cn') OR "
                       "cert_sha256 IS DISTINCT FROM j->>'cert_sha256' OR segment IS DISTINCT FROM j->>'segment' OR "
                       "decision IS DISTINCT FROM j->>'decision' OR fingerprint IS DISTINCT FROM j->>'fingerprint'"),
            "0");
  EXPECT_EQ(StoreValue("SELECT count(*) FROM segproxy_audit.records_resolved WHERE hash IS DISTINCT FROM "
                       "line::json->>'hash' OR hash !~ '^[0-9a-f]{64}$'"),
            "0");
  EXPECT_NE(StoreValue("SELECT count(*) FROM segproxy_audit.records WHERE event = 'session.open' AND identity IS NOT NULL"),
            "0");
  // Statement rows get an identity in the resolved view (from their own fields or from
  // the session.open of their session).
  EXPECT_EQ(StoreValue("SELECT count(*) FROM segproxy_audit.records_resolved WHERE event = 'statement.decision' "
                       "AND identity IS NULL"),
            "0");
  EXPECT_NE(StoreValue("SELECT count(*) FROM segproxy_audit.records_resolved WHERE event = 'statement.decision' "
                       "AND identity = 'spiffe://example.org/ns/billing/sa/api'"),
            "0");
  // The export from the store is the file export of the same records, line for line.
  const ProcResult from_store = Ctl({"audit", "export", "--postgres", StoreSu(), "--instance", "it-b"});
  ASSERT_EQ(from_store.exit_code, 0) << from_store.describe();
  const ProcResult from_dir = Ctl({"audit", "export", Instance("it-b").dir});
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.describe();
  ASSERT_FALSE(from_store.out.empty());
  EXPECT_EQ(from_dir.out.substr(0, from_store.out.size()), from_store.out);
}

// Issue 18: the CSV export carries shadow_decision, shadow_rule and grant_id, from the
// central store (--postgres) exactly as from the log directory: a statement a shadow
// rule would deny and one only an emergency grant allows, exported both ways.
TEST_F(AuditStore, CsvExportFromTheStoreAndTheDirectoryCarriesShadowAndGrantColumns) {
  ProxyConfigOptions base;
  base.billing_policy =
      "    rules:\n"
      "      - {id: read-orders, tables: [public.orders], allow: [select]}\n"
      "      - {id: no-orders-candidate, tables: [public.orders], deny: [select], shadow: true}\n"
      "    statements: [transaction, session_safe]\n";
  const std::string socket = dir_ + "/admin.sock";
  base.extra_yaml = "admin: {socket: \"" + socket + "\"}\n";
  ASSERT_NO_FATAL_FAILURE(Start("it-a", "    batch: 7\n    interval: 50ms\n", base));
  const ProcResult g = run_ctl(socket, {"grant", "--segment", "billing", "--tables", "customers_pii", "--ops", "select",
                                        "--ttl", "1h", "--reason", "INC-44"});
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  const std::string grant_id = g.out.substr(0, g.out.find('\n'));
  {
    PgConnPtr c = pg_connect(proxy_conninfo(Instance("it-a").port, ClientCert::Spiffe));
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    const QueryOutcome shadowed = pg_exec(c.get(), "SELECT count(*) FROM orders");
    ASSERT_TRUE(shadowed.ok) << shadowed.error;
    const QueryOutcome granted = pg_exec(c.get(), "SELECT count(*) FROM customers_pii");
    ASSERT_TRUE(granted.ok) << granted.error;
  }
  ASSERT_TRUE(Converged("it-a"));
  const std::vector<std::string> filter = {"--format", "csv", "--event", "statement.decision"};
  std::vector<std::string> store_args = {"audit", "export", "--postgres", StoreSu(), "--instance", "it-a"};
  std::vector<std::string> dir_args = {"audit", "export", Instance("it-a").dir};
  store_args.insert(store_args.end(), filter.begin(), filter.end());
  dir_args.insert(dir_args.end(), filter.begin(), filter.end());
  const ProcResult from_store = Ctl(store_args);
  ASSERT_EQ(from_store.exit_code, 0) << from_store.describe();
  const ProcResult from_dir = Ctl(dir_args);
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.describe();
  EXPECT_EQ(from_store.out, from_dir.out);
  EXPECT_NE(from_store.out.find(",reason,shadow_decision,shadow_rule,grant_id,"), std::string::npos) << from_store.out;
  // The statement and its outcome columns (the texts hold no comma or quote).
  EXPECT_NE(from_store.out.find("SELECT count(*) FROM orders,"), std::string::npos) << from_store.out;
  EXPECT_NE(from_store.out.find(",deny,no-orders-candidate,,"), std::string::npos) << from_store.out;
  EXPECT_NE(from_store.out.find(",,," + grant_id + ","), std::string::npos) << "grant " << grant_id << "\n"
                                                                             << from_store.out;
}

TEST_F(AuditStore, StoreUnavailableThenBackTheShipperCatchesUpWhileSessionsContinue) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a", "    batch: 50\n    interval: 50ms\n    warn_lag_records: 5\n"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 10));
  ASSERT_TRUE(Converged("it-a"));
  const std::uint16_t metrics = Instance("it-a").metrics_port;
  EXPECT_TRUE(eventually([&] { return sample(http_get(metrics, "/metrics"), "segproxy_audit_ship_lag_records") == 0; }));

  // The store refuses the shipping role and drops its connection.
  StoreExec("ALTER ROLE " + role_ + " NOLOGIN");
  StoreExec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role_ + "'");
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 40));  // sessions never wait for the store
  EXPECT_TRUE(eventually([&] { return sample(http_get(metrics, "/metrics"), "segproxy_audit_ship_lag_records") > 5; }));
  EXPECT_GT(sample(http_get(metrics, "/metrics"), "segproxy_audit_ship_lag_seconds"), 0);
  const std::string ready = http_get(metrics, "/readyz");
  EXPECT_NE(ready.find("200"), std::string::npos) << ready;
  EXPECT_NE(ready.find("warning: audit shipping lags"), std::string::npos) << ready;

  StoreExec("ALTER ROLE " + role_ + " LOGIN");
  EXPECT_TRUE(Converged("it-a"));
  EXPECT_TRUE(eventually([&] { return sample(http_get(metrics, "/metrics"), "segproxy_audit_ship_lag_records") == 0; }));
  EXPECT_EQ(http_get(metrics, "/readyz").find("warning"), std::string::npos);
  const ProcResult v = Ctl({"audit", "verify", "--postgres", StoreSu(), "--instance", "it-a"});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
}

// The shipper sends a batch in CopyData messages of 64 KiB that split rows anywhere: a
// backlog of more than one message's bytes, shipped as one COPY, arrives whole, once, byte
// for byte.
TEST_F(AuditStore, ABacklogLargerThanOneCopyDataMessageShipsAsOneCopyByteForByte) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a", "    batch: 5000\n    interval: 50ms\n"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 3));
  ASSERT_TRUE(Converged("it-a"));
  StoreExec("ALTER ROLE " + role_ + " NOLOGIN");
  StoreExec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role_ + "'");
  ASSERT_TRUE(eventually(
      [&] { return StoreValue("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + role_ + "'") == "0"; }));
  // Nothing reaches the store from here until LOGIN: every record after `head` is backlog.
  const std::string head = StoreValue("SELECT max(seq) FROM segproxy_audit.records WHERE instance = 'it-a'");
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 400));
  StoreExec("ALTER ROLE " + role_ + " LOGIN");
  EXPECT_TRUE(Converged("it-a"));
  const std::string after = "FROM segproxy_audit.records WHERE instance = 'it-a' AND seq > " + head;
  // The backlog (every record after `head`, well under `batch`) went in the first COPY.
  EXPECT_GT(std::stoll(StoreValue("SELECT sum(octet_length(line)) " + after + " AND shipped_at = (SELECT "
                                  "min(shipped_at) " + after + ")")),
            2 * 65536);
  const ProcResult v = Ctl({"audit", "verify", "--postgres", StoreSu(), "--instance", "it-a"});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST_F(AuditStore, TheStoreIsAppendOnlyAndTheShippingRoleHasInsertAndSelectOnly) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 5));
  ASSERT_TRUE(Converged("it-a"));
  PgConnPtr su = pg_connect(StoreSu());
  for (const char* sql : {"UPDATE segproxy_audit.records SET decision = 'allow' WHERE seq = 2",
                          "DELETE FROM segproxy_audit.records WHERE seq = 2", "TRUNCATE segproxy_audit.records"}) {
    const QueryOutcome q = pg_exec(su.get(), sql);
    EXPECT_FALSE(q.ok) << sql;
    EXPECT_EQ(q.sqlstate, "42501") << sql << ": " << q.error;
    EXPECT_NE(q.error.find("append-only"), std::string::npos) << q.error;
  }
  const std::string pw = read_secret(ship_pw_file_);
  PgConnPtr ship = pg_connect("host=127.0.0.1 port=" + env().pgport + " dbname=" + db_ + " user=" + role_ +
                              " password=" + conninfo_quote(pw) + " sslmode=require");
  ASSERT_EQ(PQstatus(ship.get()), CONNECTION_OK) << PQerrorMessage(ship.get());
  EXPECT_TRUE(pg_exec(ship.get(), "SELECT max(seq) FROM segproxy_audit.records").ok);
  for (const char* sql : {"UPDATE segproxy_audit.records SET decision = 'allow' WHERE seq = 2",
                          "DELETE FROM segproxy_audit.records WHERE seq = 2", "TRUNCATE segproxy_audit.records",
                          "ALTER TABLE segproxy_audit.records DISABLE TRIGGER records_append_only",
                          "DELETE FROM segproxy_audit.schema_version"}) {
    const QueryOutcome q = pg_exec(ship.get(), sql);
    EXPECT_FALSE(q.ok) << sql;
    EXPECT_EQ(q.sqlstate.substr(0, 2), "42") << sql << ": " << q.error;
  }
  // init again: nothing to migrate, grants re-applied.
  const ProcResult again = Ctl({"audit", "store", "init", "--postgres", StoreSu(), "--shipper-role", role_});
  EXPECT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_NE(again.out.find("already current"), std::string::npos) << again.out;
}

TEST_F(AuditStore, VerifyNamesTheFirstRowASuperuserEditedDeletedOrReordered) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 20));
  ASSERT_TRUE(Converged("it-a"));
  Instance("it-a").proc->stop();  // nothing is shipped meanwhile
  const auto verify = [&] { return Ctl({"audit", "verify", "--postgres", StoreSu(), "--instance", "it-a"}); };
  ProcResult v = verify();
  ASSERT_EQ(v.exit_code, 0) << v.describe();
  const std::string seq = StoreValue(
      "SELECT min(seq) FROM segproxy_audit.records WHERE instance = 'it-a' AND event = 'statement.decision'"
      " AND line LIKE '%\"decision\":\"allow\"%'");  // a full record, not a same_as repeat
  ASSERT_FALSE(seq.empty());
  const std::string where = " WHERE instance = 'it-a' AND seq = " + seq;
  StoreExec("ALTER TABLE segproxy_audit.records DISABLE TRIGGER records_append_only");

  // 1. The line edited (and its column made to match): the hash no longer holds.
  const std::string original = StoreValue("SELECT line FROM segproxy_audit.records" + where);
  StoreExec("UPDATE segproxy_audit.records SET line = replace(line, '\"decision\":\"allow\"', "
            "'\"decision\":\"deny\"'), decision = 'deny'" + where);
  v = verify();
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_NE(v.out.find("TAMPERED: seq " + seq + ":"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("altered"), std::string::npos) << v.out;

  // 2. Only a queryable column edited: the row disagrees with its own record.
  StoreExec("UPDATE segproxy_audit.records SET line = " + std::string("$x$") + original + "$x$, decision = 'allow'" + where);
  ASSERT_EQ(verify().exit_code, 0);
  const std::string identity = StoreValue("SELECT coalesce(identity, '<null>') FROM segproxy_audit.records" + where);
  StoreExec("UPDATE segproxy_audit.records SET identity = 'cn=someone-else'" + where);
  v = verify();
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_NE(v.out.find("seq " + seq + ": row seq " + seq + ": column identity differs"), std::string::npos) << v.out;
  StoreExec("UPDATE segproxy_audit.records SET identity = nullif('" + identity + "', '<null>')" + where);
  ASSERT_EQ(verify().exit_code, 0);

  // 3. Two rows' records swapped: the first of them holds another seq's record.
  const std::string next = std::to_string(std::stoull(seq) + 1);
  const auto swap = [&] {
    const std::string moved = " WHERE instance = 'it-a' AND seq = 1000000 + ";
    StoreExec("UPDATE segproxy_audit.records SET seq = seq + 1000000 WHERE instance = 'it-a' AND seq IN (" + seq +
              "," + next + ")");
    StoreExec("UPDATE segproxy_audit.records SET seq = " + seq + moved + next);
    StoreExec("UPDATE segproxy_audit.records SET seq = " + next + moved + seq);
  };
  swap();
  v = verify();
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_NE(v.out.find("row seq " + seq + " holds the record of seq " + next), std::string::npos) << v.out;
  swap();
  ASSERT_EQ(verify().exit_code, 0);

  // 4. A row deleted: the records after it are reported missing at that seq.
  StoreExec("DELETE FROM segproxy_audit.records" + where);
  v = verify();
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_NE(v.out.find("expected seq " + seq + ": records missing"), std::string::npos) << v.out;
}

// A repeat (`same_as`) pointed at a record that is not an earlier full record of its
// session, with its hash recomputed so that the chain holds: the verifier reads the
// target row and names the forgery. (The rows after it are deleted first: removing the
// tail is the one change the store alone cannot show, docs/audit.md.)
TEST_F(AuditStore, VerifyRefusesASameAsThatNamesAnythingButAnEarlierFullRecordOfItsSession) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 20));
  ASSERT_TRUE(Converged("it-a"));
  Instance("it-a").proc->stop();
  const auto verify = [&] { return Ctl({"audit", "verify", "--postgres", StoreSu(), "--instance", "it-a"}); };
  ASSERT_EQ(verify().exit_code, 0);
  const std::string seq = StoreValue(
      "SELECT max(seq) FROM segproxy_audit.records WHERE instance = 'it-a' AND event = 'statement.decision'"
      " AND line NOT LIKE '%\"same_as\":%'");
  ASSERT_FALSE(seq.empty());
  const std::string where = " WHERE instance = 'it-a' AND seq = " + seq;
  std::string why;
  auto rec = audit::decode_record(StoreValue("SELECT line FROM segproxy_audit.records" + where), why);
  ASSERT_TRUE(rec) << why;
  ASSERT_FALSE(rec->session_id.empty());
  const std::string open_seq = StoreValue(
      "SELECT seq FROM segproxy_audit.records WHERE instance = 'it-a' AND event = 'session.open' AND session_id = '" +
      rec->session_id + "'");
  ASSERT_FALSE(open_seq.empty());

  StoreExec("ALTER TABLE segproxy_audit.records DISABLE TRIGGER records_append_only");
  StoreExec("DELETE FROM segproxy_audit.records WHERE instance = 'it-a' AND seq > " + seq);
  ASSERT_EQ(verify().exit_code, 0);  // a shorter chain still verifies
  audit::AuditRecord forged = *rec;
  audit::copy_statement_fields(audit::AuditRecord{}, forged);
  forged.same_as = std::stoull(open_seq);  // the session's session.open: another event
  forged.hash = audit::compute_record_hash(forged);
  const std::string line = audit::encode_record(forged);
  auto cols = audit::store::extract_row(line, why);
  ASSERT_TRUE(cols) << why;
  const auto literal = [](const std::optional<std::string>& v) { return v ? "$x$" + *v + "$x$" : std::string("NULL"); };
  StoreExec("UPDATE segproxy_audit.records SET line = $x$" + line + "$x$, decision = " + literal(cols->decision) +
            ", fingerprint = " + literal(cols->fingerprint) + where);
  const ProcResult v = verify();
  EXPECT_EQ(v.exit_code, 1) << v.describe();
  EXPECT_NE(v.out.find("same_as " + open_seq + " does not name an earlier full record of the same session"),
            std::string::npos)
      << v.out;
}

TEST_F(AuditStore, AStoreHoldingAnotherChainUnderTheSameInstanceNameStopsTheShipper) {
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 5));
  ASSERT_TRUE(Converged("it-a"));
  Instance("it-a").proc->stop();
  const std::string stored = StoreValue("SELECT count(*) FROM segproxy_audit.records WHERE instance = 'it-a'");
  // A new log under the same name (its directory wiped), longer than what the store holds
  // before shipping starts: only the hash at the store's head tells the chains apart.
  remove_tree(Instance("it-a").dir);
  ASSERT_NO_FATAL_FAILURE(Start("it-a", kNoShip));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 30));
  Instance("it-a").proc->stop();
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  EXPECT_TRUE(eventually([&] { return Instance("it-a").proc->log().find("audit.ship_failed") != std::string::npos; }));
  EXPECT_NE(Instance("it-a").proc->log().find("differs from the local one"), std::string::npos)
      << Instance("it-a").proc->log();
  EXPECT_EQ(StoreValue("SELECT count(*) FROM segproxy_audit.records WHERE instance = 'it-a'"), stored);
  const ProcResult v = Ctl({"audit", "verify", "--postgres", StoreSu(), "--instance", "it-a"});
  EXPECT_EQ(v.exit_code, 0) << v.describe();  // the store still holds one intact chain
}

}  // namespace
}  // namespace segproxy::it
