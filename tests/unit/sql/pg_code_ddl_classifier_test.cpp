// What the PostgreSQL classifier reports for issue 12 items 1.2-1.5: schema/database DDL
// as a whole-schema reference, server-reaching DDL as Forbidden, DO as AnonymousCode,
// string routine bodies as opaque code, and the prepared-name effects of a statement.
#include <gtest/gtest.h>

#include "tests/unit/sql/pg_test_support.hpp"

namespace segproxy::authz::sql::test {
namespace {

StatementPart one(std::string_view sql) {
  const StatementInfo info = classify_pg(sql, ClassifierOptions{});
  EXPECT_TRUE(info.parse_ok) << sql;
  EXPECT_EQ(info.statements.size(), 1u) << sql;
  return info.statements.empty() ? StatementPart{} : info.statements.front();
}

// "schema" per whole-schema reference, in order.
std::vector<std::string> whole_schemas(const StatementPart& p) {
  std::vector<std::string> out;
  for (const auto& t : p.tables) {
    if (t.whole_schema) {
      EXPECT_EQ(t.name, "*");
      EXPECT_EQ(t.op, TableOp::Alter);
      out.push_back(t.schema);
    }
  }
  return out;
}

TEST(PgCodeDdl, SchemaLevelDdlReportsEveryRelationOfTheSchema) {
  EXPECT_EQ(whole_schemas(one("DROP SCHEMA app")), (std::vector<std::string>{"app"}));
  EXPECT_EQ(whole_schemas(one("DROP SCHEMA IF EXISTS a, b CASCADE")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(whole_schemas(one("ALTER SCHEMA app RENAME TO app2")), (std::vector<std::string>{"app"}));
  EXPECT_EQ(whole_schemas(one("ALTER SCHEMA app OWNER TO mallory")), (std::vector<std::string>{"app"}));
  EXPECT_EQ(one("DROP SCHEMA app").klass, StatementClass::Ddl);
  // Not schema-wide: a table rename stays a table reference.
  EXPECT_TRUE(whole_schemas(one("ALTER TABLE app.t RENAME TO t2")).empty());
}

TEST(PgCodeDdl, RelationRenamedOrMovedNeedsAlterOnItsNewNameToo) {
  EXPECT_EQ(describe("ALTER TABLE app.t RENAME TO customers_pii"), "Ddl Alter:app.customers_pii Alter:app.t");
  EXPECT_EQ(describe("ALTER TABLE app.t SET SCHEMA public"), "Ddl Alter:app.t Alter:public.t");
  EXPECT_EQ(describe("ALTER VIEW v SET SCHEMA s"), "Ddl Alter:s.v Alter:~public.v");
  EXPECT_EQ(describe("ALTER TABLE app.t RENAME COLUMN a TO b"), "Ddl Alter:app.t");
}

TEST(PgCodeDdl, DatabaseLevelDdlReportsEveryRelationOfEverySchema) {
  EXPECT_EQ(whole_schemas(one("DROP DATABASE other")), (std::vector<std::string>{"*"}));
  EXPECT_EQ(one("DROP DATABASE other").klass, StatementClass::Ddl);
  EXPECT_EQ(whole_schemas(one("ALTER DATABASE shop RENAME TO shop2")), (std::vector<std::string>{"*"}));
  EXPECT_EQ(whole_schemas(one("ALTER DATABASE shop OWNER TO mallory")), (std::vector<std::string>{"*"}));
}

TEST(PgCodeDdl, ServerReachingDdlIsForbiddenWithItsReason) {
  for (const char* sql : {"CREATE EXTENSION dblink", "ALTER EXTENSION dblink UPDATE", "DROP EXTENSION dblink",
                          "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", "ALTER SERVER s OPTIONS (SET host 'x')",
                          "DROP SERVER s", "CREATE FOREIGN DATA WRAPPER w", "DROP FOREIGN DATA WRAPPER w",
                          "CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (password 'p')",
                          "DROP USER MAPPING FOR CURRENT_USER SERVER s",
                          "IMPORT FOREIGN SCHEMA public FROM SERVER s INTO public",
                          "CREATE FOREIGN TABLE ft (id int) SERVER s", "CREATE LANGUAGE plperlu",
                          "DROP LANGUAGE plperlu", "LOAD 'auto_explain'",
                          "CREATE FUNCTION f() RETURNS int AS 'evil.so', 'f' LANGUAGE c"}) {
    const StatementPart p = one(sql);
    EXPECT_EQ(p.klass, StatementClass::Forbidden) << sql;
    EXPECT_FALSE(p.forbidden_reason.empty()) << sql;
  }
  EXPECT_NE(one("CREATE EXTENSION dblink").forbidden_reason.find("server"), std::string::npos);
}

TEST(PgCodeDdl, DoIsAnonymousCodeAndCallIsProceduralWithItsRoutine) {
  EXPECT_EQ(describe("DO $$ BEGIN EXECUTE 'drop table t'; END $$"), "AnonymousCode");
  EXPECT_EQ(describe("CALL archive_orders()"), "Procedural fn:archive_orders");
}

TEST(PgCodeDdl, RoutineBodiesGivenAsStringsAreOpaqueCode) {
  EXPECT_TRUE(one("CREATE FUNCTION f() RETURNS int AS $$ select 1 $$ LANGUAGE sql").opaque_code);
  EXPECT_TRUE(one("CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN NULL; END $$").opaque_code);
  EXPECT_FALSE(one("CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1").opaque_code);
  EXPECT_FALSE(one("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END").opaque_code);
}

TEST(PgCodeDdl, PreparedNameEffectsAreReported) {
  EXPECT_EQ(one("PREPARE p AS SELECT 1").prepared_effect, PreparedEffect::Prepare);
  EXPECT_EQ(one("EXECUTE p").prepared_effect, PreparedEffect::Execute);
  EXPECT_EQ(one("EXPLAIN EXECUTE p").prepared_effect, PreparedEffect::Execute);
  EXPECT_EQ(one("CREATE TABLE t AS EXECUTE p").prepared_effect, PreparedEffect::Execute);
  EXPECT_EQ(one("DEALLOCATE p").prepared_effect, PreparedEffect::Deallocate);
  EXPECT_EQ(one("DEALLOCATE ALL").prepared_effect, PreparedEffect::DeallocateAll);
  EXPECT_EQ(one("DISCARD ALL").prepared_effect, PreparedEffect::DeallocateAll);
  EXPECT_EQ(one("DISCARD PLANS").prepared_effect, PreparedEffect::None);
}

}  // namespace
}  // namespace segproxy::authz::sql::test
