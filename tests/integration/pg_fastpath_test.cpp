// PostgreSQL fast-path calls (FunctionCall) through the proxy (issue 12, 2.1): libpq's
// large-object API works for a segment granted the `large_objects` class, is refused
// (42501, session goes on) without it, and an OID the proxy cannot resolve is refused.
#include <gtest/gtest.h>
#include <libpq/libpq-fs.h>

#include <string>

#include "authz/sql/pg_fastpath.hpp"
#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

using FastPath = PolicyTest;

constexpr const char* kWithLargeObjects =
    "    rules:\n"
    "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
    "    statements: [transaction, session_safe, large_objects]\n"
    "    catalog: metadata\n";  // libpq reads pg_catalog.pg_proc before its first lo_* call

TEST_F(FastPath, LargeObjectsThroughLibpqWorkForASegmentGrantedLargeObjects) {
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(kWithLargeObjects));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  ASSERT_TRUE(pg_exec(conn.get(), "BEGIN").ok);
  const Oid lo = lo_creat(conn.get(), INV_READ | INV_WRITE);
  ASSERT_NE(lo, InvalidOid) << PQerrorMessage(conn.get());
  const int fd = lo_open(conn.get(), lo, INV_READ | INV_WRITE);
  ASSERT_GE(fd, 0) << PQerrorMessage(conn.get());
  const std::string data = "segproxy large object payload";
  ASSERT_EQ(lo_write(conn.get(), fd, data.data(), data.size()), static_cast<int>(data.size()))
      << PQerrorMessage(conn.get());
  ASSERT_EQ(lo_lseek(conn.get(), fd, 0, SEEK_SET), 0) << PQerrorMessage(conn.get());
  std::string back(data.size(), '\0');
  ASSERT_EQ(lo_read(conn.get(), fd, back.data(), back.size()), static_cast<int>(data.size()))
      << PQerrorMessage(conn.get());
  EXPECT_EQ(back, data);
  EXPECT_EQ(lo_close(conn.get(), fd), 0) << PQerrorMessage(conn.get());
  EXPECT_EQ(lo_unlink(conn.get(), lo), 1) << PQerrorMessage(conn.get());
  EXPECT_TRUE(pg_exec(conn.get(), "COMMIT").ok);
  EXPECT_EQ(SuValue("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = " + std::to_string(lo)), "0");
}

// psycopg2's test_read_large (driver suite, bench/RESULTS.md session 7): one lo_read of a
// 4 MB object is one FunctionCallResponse of 4 MB, above the 1 MiB control-message limit;
// the proxy once ended the session with "backend message 'V': length above the control
// message limit". It streams now, like a DataRow.
TEST_F(FastPath, LoReadOfFourMegabytesInOneCallReturnsTheWholeObject) {
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(kWithLargeObjects));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  ASSERT_TRUE(pg_exec(conn.get(), "BEGIN").ok);
  const Oid lo = lo_creat(conn.get(), INV_READ | INV_WRITE);
  ASSERT_NE(lo, InvalidOid) << PQerrorMessage(conn.get());
  const int fd = lo_open(conn.get(), lo, INV_READ | INV_WRITE);
  ASSERT_GE(fd, 0) << PQerrorMessage(conn.get());
  std::string data;
  data.reserve(4u * 1024u * 1024u);
  for (std::size_t i = 0; data.size() < 4u * 1024u * 1024u; ++i) data += static_cast<char>('a' + i % 26);
  ASSERT_EQ(lo_write(conn.get(), fd, data.data(), data.size()), static_cast<int>(data.size()))
      << PQerrorMessage(conn.get());
  ASSERT_EQ(lo_lseek(conn.get(), fd, 0, SEEK_SET), 0) << PQerrorMessage(conn.get());
  std::string back(data.size(), '\0');
  ASSERT_EQ(lo_read(conn.get(), fd, back.data(), back.size()), static_cast<int>(data.size()))
      << PQerrorMessage(conn.get());
  EXPECT_TRUE(back == data);
  EXPECT_EQ(lo_close(conn.get(), fd), 0) << PQerrorMessage(conn.get());
  EXPECT_TRUE(pg_exec(conn.get(), "ROLLBACK").ok);
  const QueryOutcome q = pg_exec(conn.get(), "select 1");
  EXPECT_TRUE(q.ok) << q.error;
}

TEST_F(FastPath, LargeObjectCallsAreRefusedWithoutTheLargeObjectsClassAndTheSessionGoesOn) {
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(
      "    rules:\n"
      "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
      "    statements: [transaction, session_safe]\n"
      "    catalog: metadata\n"));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  ASSERT_TRUE(pg_exec(conn.get(), "BEGIN").ok);
  EXPECT_EQ(lo_creat(conn.get(), INV_READ | INV_WRITE), InvalidOid);
  EXPECT_NE(std::string(PQerrorMessage(conn.get())).find("lo_creat"), std::string::npos) << PQerrorMessage(conn.get());
  // The refusal failed the transaction, as any refusal does; after ROLLBACK all is well.
  EXPECT_EQ(PQtransactionStatus(conn.get()), PQTRANS_INERROR);
  EXPECT_TRUE(pg_exec(conn.get(), "ROLLBACK").ok);
  const QueryOutcome q = pg_exec(conn.get(), "select 1");
  EXPECT_TRUE(q.ok) << q.error;
}

TEST_F(FastPath, FastPathCallOfAnOidTheProxyCannotResolveIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(kWithLargeObjects));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  // pg_terminate_backend(int4) is OID 2096 in every PostgreSQL since 8.4.
  ASSERT_EQ(SuValue("SELECT proname FROM pg_proc WHERE oid = 2096"), "pg_terminate_backend");
  PQArgBlock arg{};
  arg.len = 4;
  arg.isint = 1;
  arg.u.integer = 1;  // any pid: the call must never reach the server
  int result = 0;
  int result_len = 0;
  PgResultPtr res(PQfn(conn.get(), 2096, &result, &result_len, 1, &arg, 1));
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(PQresultStatus(res.get()), PGRES_FATAL_ERROR);
  const ErrorFields e = error_fields(res.get());
  EXPECT_EQ(e.sqlstate, "42501") << e.message;
  EXPECT_NE(e.message.find("OID 2096"), std::string::npos) << e.message;
  const QueryOutcome q = pg_exec(conn.get(), "select 1");
  EXPECT_TRUE(q.ok) << q.error;
}

TEST_F(FastPath, BuiltinOidTableMatchesTheServer) {
  int known = 0;
  for (std::int32_t oid = 1; oid < 16384; ++oid) {
    const std::string_view name = authz::sql::pg_fastpath_function(oid);
    if (name.empty()) continue;
    ++known;
    EXPECT_EQ(SuValue("SELECT proname || '.' || pronamespace::regnamespace FROM pg_proc WHERE oid = " +
                      std::to_string(oid)),
              std::string(name) + ".pg_catalog")
        << "OID " << oid;
  }
  EXPECT_GE(known, 13);
}

}  // namespace
}  // namespace segproxy::it
