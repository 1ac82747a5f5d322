// `segproxyctl audit store init` migrating a central store that already holds shipped
// records (docs/audit.md "Central store", schema versions): a store created at schema
// version 1 - migration 1 exactly as released, which keeps each line's hash in a column of
// its own and indexes ts with a btree - receives records from a running proxy, is migrated
// to the newest version while that proxy keeps shipping, and still verifies and exports.
#include <gtest/gtest.h>

#include "support/audit_store_fixture.hpp"

namespace segproxy::it {
namespace {

class AuditStoreFromVersion1 : public AuditStoreTest {
 protected:
  AuditStoreFromVersion1() { initial_schema_version_ = "1"; }

  std::string Count(const std::string& where) {
    return StoreValue("SELECT count(*) FROM segproxy_audit.records WHERE instance = 'it-a'" + where);
  }
};

TEST_F(AuditStoreFromVersion1, MigratingAStoreThatIsShippedToLosesNoRowAndItStillVerifiesAndExportsByteForByte) {
  // Version 1 as released: the hash column, a btree on ts.
  ASSERT_EQ(StoreValue("SELECT max(version) FROM segproxy_audit.schema_version"), "1");
  ASSERT_EQ(StoreValue("SELECT count(*) FROM pg_attribute WHERE attrelid = 'segproxy_audit.records'::regclass "
                       "AND attname = 'hash' AND NOT attisdropped"),
            "1");
  ASSERT_EQ(StoreValue("SELECT am.amname FROM pg_class i JOIN pg_am am ON am.oid = i.relam "
                       "WHERE i.oid = 'segproxy_audit.records_ts'::regclass"),
            "btree");

  // A proxy of this build ships into the old layout (a proxy upgraded before its store),
  // the hash column filled from the line.
  ASSERT_NO_FATAL_FAILURE(Start("it-a"));
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 30));
  ASSERT_TRUE(Converged("it-a"));
  EXPECT_EQ(Count(" AND hash IS DISTINCT FROM line::json->>'hash'"), "0");
  const std::string before = Count("");
  const std::vector<std::string> verify_signed = {"audit", "verify", "--postgres", StoreSu(), "--instance",
                                                  "it-a",  "--pubkey", dir_ + "/signing.pub"};
  ProcResult v = Ctl(verify_signed);
  ASSERT_EQ(v.exit_code, 0) << v.describe();

  // Migrate while the proxy runs: its shipper's next COPY into the old columns fails, it
  // reads the store again and continues in the new layout from the store's head.
  const ProcResult migrate = Ctl({"audit", "store", "init", "--postgres", StoreSu(), "--shipper-role", role_});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.describe();
  EXPECT_NE(migrate.out.find("applied migration 2"), std::string::npos) << migrate.out;
  EXPECT_EQ(migrate.out.find("applied migration 1"), std::string::npos) << migrate.out;
  EXPECT_EQ(StoreValue("SELECT max(version) FROM segproxy_audit.schema_version"), "2");
  EXPECT_EQ(StoreValue("SELECT count(*) FROM pg_attribute WHERE attrelid = 'segproxy_audit.records'::regclass "
                       "AND attname = 'hash' AND NOT attisdropped"),
            "0");
  EXPECT_EQ(StoreValue("SELECT am.amname FROM pg_class i JOIN pg_am am ON am.oid = i.relam "
                       "WHERE i.oid = 'segproxy_audit.records_ts'::regclass"),
            "brin");
  EXPECT_GE(std::stoull(Count("")), std::stoull(before));  // migrating removed no row
  ASSERT_NO_FATAL_FAILURE(Traffic("it-a", 30));
  EXPECT_TRUE(Converged("it-a"));  // exactly the local log, 1..n, byte for byte
  ASSERT_GT(std::stoull(Count("")), std::stoull(before));

  // The view still shows every row's hash (from the line) and the identity of its session.
  EXPECT_EQ(StoreValue("SELECT count(*) FROM segproxy_audit.records_resolved WHERE instance = 'it-a' AND "
                       "(hash IS DISTINCT FROM line::json->>'hash' OR hash !~ '^[0-9a-f]{64}$')"),
            "0");
  EXPECT_EQ(StoreValue("SELECT count(*) FROM segproxy_audit.records_resolved WHERE event = 'statement.decision' "
                       "AND identity IS NULL"),
            "0");
  // Still append-only.
  PgConnPtr su = pg_connect(StoreSu());
  for (const char* sql : {"UPDATE segproxy_audit.records SET decision = 'allow' WHERE seq = 2",
                          "DELETE FROM segproxy_audit.records WHERE seq = 2"}) {
    const QueryOutcome q = pg_exec(su.get(), sql);
    EXPECT_FALSE(q.ok) << sql;
    EXPECT_EQ(q.sqlstate, "42501") << sql << ": " << q.error;
  }

  // Rows shipped before and after the migration verify as one chain, signatures included,
  // also from a --since inside the old rows (found through the BRIN index on ts).
  Instance("it-a").proc->stop();
  v = Ctl(verify_signed);
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  EXPECT_NE(v.out.find("instance it-a: OK"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("0 signatures verified"), std::string::npos) << v.out;
  const std::string since = StoreValue(
      "SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM segproxy_audit.records "
      "WHERE instance = 'it-a' AND seq = 10");
  v = Ctl({"audit", "verify", "--postgres", StoreSu(), "--instance", "it-a", "--since", since});
  EXPECT_EQ(v.exit_code, 0) << v.describe();
  const ProcResult from_store = Ctl({"audit", "export", "--postgres", StoreSu(), "--instance", "it-a"});
  ASSERT_EQ(from_store.exit_code, 0) << from_store.describe();
  const ProcResult from_dir = Ctl({"audit", "export", Instance("it-a").dir});
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.describe();
  // (The directory also holds the checkpoint written when the proxy stopped, shipped by
  // its next start: the store's export is the directory's up to there.)
  ASSERT_FALSE(from_store.out.empty());
  EXPECT_EQ(from_dir.out.substr(0, from_store.out.size()), from_store.out);

  // Migrations are never undone.
  const ProcResult down = Ctl({"audit", "store", "init", "--postgres", StoreSu(), "--schema-version", "1"});
  EXPECT_EQ(down.exit_code, 2) << down.describe();
  EXPECT_NE(down.err.find("never undone"), std::string::npos) << down.describe();
}

}  // namespace
}  // namespace segproxy::it
