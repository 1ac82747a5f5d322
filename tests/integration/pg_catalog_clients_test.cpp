// System catalogs through the proxy with the real clients (issue 12 items 1.1, 2.5):
// psql's \dt and \d work for a segment with `catalog: metadata` and no wildcard rule and
// are refused (42501) without it; pg_dump of a table the segment may read works
// (empty search_path, catalog queries, LOCK ... IN ACCESS SHARE MODE, COPY ... TO
// stdout); a `*.*` rule reaches no relation of the server's system schemas.
#include <gtest/gtest.h>

#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

using CatalogClients = PolicyTest;

ProcResult psql_cmd(const std::string& conninfo, const std::string& command) {
  return run_process({"psql", "-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", command, conninfo},
                     std::chrono::seconds(60));
}

std::string table_policy(const std::string& table, const std::string& catalog_line) {
  return catalog_line +
         "    rules:\n"
         "      - {id: table-read, tables: [public." + table + "], allow: [select, copy_to]}\n"
         "    statements: [transaction, session_safe]\n";
}

TEST_F(CatalogClients, PsqlDescribeWorksWithCatalogMetadataAndNoWildcard) {
  const std::string t = unique_name("it_cat_psql");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 2));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(table_policy(t, "    catalog: metadata\n")));

  const ProcResult dt = psql_cmd(Conninfo(ClientCert::Spiffe), "\\dt public." + t);
  EXPECT_EQ(dt.exit_code, 0) << dt.describe();
  EXPECT_NE(dt.out.find(t), std::string::npos) << dt.describe();
  EXPECT_NE(dt.out.find("table"), std::string::npos) << dt.describe();

  const ProcResult d = psql_cmd(Conninfo(ClientCert::Spiffe), "\\d public." + t);
  EXPECT_EQ(d.exit_code, 0) << d.describe();
  for (const std::string& needle : {std::string("Table \"public.") + t + "\"", std::string("integer"),
                                    std::string("text"), t + "_pkey"}) {
    EXPECT_NE(d.out.find(needle), std::string::npos) << "missing: " << needle << "\n" << d.describe();
  }
}

TEST_F(CatalogClients, PsqlDescribeIsRefusedWithoutCatalogMetadata) {
  const std::string t = unique_name("it_cat_psql_none");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(table_policy(t, "")));
  for (const std::string& cmd : {"\\dt public." + t, "\\d public." + t}) {
    const ProcResult r = psql_cmd(Conninfo(ClientCert::Spiffe), cmd);
    EXPECT_NE(r.exit_code, 0) << cmd << "\n" << r.describe();
    EXPECT_NE(r.err.find("42501"), std::string::npos) << cmd << "\n" << r.describe();
    EXPECT_NE(r.err.find("segproxy: segment \"billing\" may not select from pg_catalog."), std::string::npos)
        << cmd << "\n" << r.describe();
  }
  // The table itself is still readable.
  const ProcResult q = psql_cmd(Conninfo(ClientCert::Spiffe), "select v from public." + t);
  EXPECT_EQ(q.exit_code, 0) << q.describe();
}

TEST_F(CatalogClients, WildcardRuleDoesNotLetPsqlDescribe) {
  const std::string t = unique_name("it_cat_psql_wild");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(
      "    rules:\n"
      "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
      "    statements: [transaction, session_safe]\n"));
  const ProcResult r = psql_cmd(Conninfo(ClientCert::Spiffe), "\\dt public." + t);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.err.find("42501"), std::string::npos) << r.describe();
}

TEST_F(CatalogClients, PgDumpOfAReadableTableWorksThroughTheProxy) {
  const std::string t = unique_name("it_cat_dump");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 3));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(table_policy(t, "    catalog: metadata\n")));
  const ProcResult r = run_process({"pg_dump", "-t", "public." + t, "-d", Conninfo(ClientCert::Spiffe)},
                                   std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("CREATE TABLE public." + t), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("COPY public." + t + " (id, v) FROM stdin;\n1\tv1\n2\tv2\n3\tv3\n\\.\n"), std::string::npos)
      << r.describe();
}

TEST_F(CatalogClients, PgDumpOfATableTheSegmentMayNotReadFails) {
  const std::string t = unique_name("it_cat_dump_ok");
  const std::string other = unique_name("it_cat_dump_no");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  ASSERT_NO_FATAL_FAILURE(CreateTable(other, 1));
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(table_policy(t, "    catalog: metadata\n")));
  const ProcResult r = run_process({"pg_dump", "-t", "public." + other, "-d", Conninfo(ClientCert::Spiffe)},
                                   std::chrono::seconds(120));
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.err.find("segproxy: segment \"billing\" may not"), std::string::npos) << r.describe();
  EXPECT_EQ(r.out.find("\n1\tv1\n"), std::string::npos) << r.describe();
}

// Every relation the server has in pg_catalog, information_schema and pg_toast, read
// qualified (and pg_catalog ones unqualified) through the proxy with `*.*` allow all:
// each is refused by segproxy.
TEST_F(CatalogClients, WildcardRuleGrantsNoRelationOfTheServersSystemSchemas) {
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(
      "    rules:\n"
      "      - {id: everything, tables: [\"*.*\"], allow: [all]}\n"
      "    statements: [transaction, session_safe]\n"));
  PgConnPtr su = superuser_connect();
  ASSERT_EQ(PQstatus(su.get()), CONNECTION_OK) << PQerrorMessage(su.get());
  PGresult* rels = PQexec(su.get(),
                          "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 't') AND "
                          "(n.nspname IN ('pg_catalog', 'information_schema') OR n.nspname LIKE 'pg_toast%') "
                          "ORDER BY 1, 2");
  ASSERT_EQ(PQresultStatus(rels), PGRES_TUPLES_OK) << PQerrorMessage(su.get());
  const int n = PQntuples(rels);
  std::vector<std::string> queries;
  for (int i = 0; i < n; ++i) {
    const std::string schema = PQgetvalue(rels, i, 0);
    const std::string rel = PQgetvalue(rels, i, 1);
    queries.push_back("SELECT 1 FROM " + schema + "." + rel + " LIMIT 0");
    if (schema == "pg_catalog") queries.push_back("SELECT 1 FROM " + rel + " LIMIT 0");
  }
  PQclear(rels);
  EXPECT_GT(n, 150);
  PgConnPtr conn = Connect(ClientCert::Spiffe);
  ASSERT_PG_CONNECTED(conn);
  int refused = 0;
  for (const std::string& q : queries) {
    PGresult* res = PQexec(conn.get(), q.c_str());
    const ErrorFields e = error_fields(res);
    const bool ok = PQresultStatus(res) == PGRES_FATAL_ERROR && e.sqlstate == "42501" &&
                    e.message.find("segproxy: segment \"billing\" may not select from") != std::string::npos;
    PQclear(res);
    EXPECT_TRUE(ok) << q << ": " << e.sqlstate << " " << e.message;
    refused += ok ? 1 : 0;
  }
  EXPECT_EQ(refused, static_cast<int>(queries.size()));
  // The session survived every refusal.
  EXPECT_EQ(pg_exec(conn.get(), "SELECT 'alive'").value, "alive");
}

}  // namespace
}  // namespace segproxy::it
