// PostgreSQL write-ahead classes (authz/wal/pg_write_class): read-only is proven by the
// fixed lists and the catalog, never assumed; contained needs a current catalog; commit
// points per issue 14. Catalog: wal_catalog_fixture.hpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "authz/wal/pg_write_class.hpp"
#include "wal_catalog_fixture.hpp"

namespace segproxy::authz::wal::test {
namespace {

struct Case {
  const char* sql;
  WriteClass want;
};

std::string name(WriteClass c) { return write_class_name(c); }

void check(const std::vector<Case>& cases, const ClassContext& ctx) {
  for (const Case& c : cases) {
    const PgWriteClasses got = pg_write_classes(std::string_view(c.sql), ctx);
    EXPECT_EQ(name(got.message.klass), name(c.want)) << c.sql << "  (" << got.message.reason << ")";
  }
}

class PgWriteClass : public ::testing::Test {
 protected:
  WalCatalog catalog_ = test_catalog("public");
  ClassContext ctx_ = context(catalog_, "public");
};

TEST_F(PgWriteClass, ReadOnlyIsProvenForListedCodeOverVouchedRelations) {
  check({{"select 1", WriteClass::ReadOnly},
         {"select abalance from accounts where aid = $1", WriteClass::ReadOnly},
         {"select count(*), max(n) from accounts group by id having sum(n) > 1 order by 1 limit 5", WriteClass::ReadOnly},
         {"select * from v_ok", WriteClass::ReadOnly},
         {"table accounts", WriteClass::ReadOnly},
         {"values (1), (2)", WriteClass::ReadOnly},
         {"show work_mem", WriteClass::ReadOnly},
         {"select lower(name), pg_catalog.upper(name) from accounts", WriteClass::ReadOnly},
         {"select 1::int8, '2020-01-01'::date, cast(n as text) from accounts", WriteClass::ReadOnly},
         {"with t as (select * from accounts) select * from t", WriteClass::ReadOnly},
         {"select * from accounts a join accounts b on a.id = b.id", WriteClass::ReadOnly},
         {"select coalesce(n, 0), case when n > 1 then 'x' else 'y' end from accounts", WriteClass::ReadOnly},
         {"select * from accounts where id in (select id from accounts) and id between 1 and 5", WriteClass::ReadOnly},
         {"select * from accounts where name like 'a%' and name is not null", WriteClass::ReadOnly},
         {"select now(), current_timestamp, current_user", WriteClass::ReadOnly},
         {"copy accounts to stdout", WriteClass::ReadOnly},
         {"copy (select * from accounts) to stdout", WriteClass::ReadOnly},
         {"select relname from pg_class", WriteClass::ReadOnly},
         {"explain select * from accounts where id = 1", WriteClass::ReadOnly},
         {"explain (analyze false) insert into accounts values (1)", WriteClass::ReadOnly},
         {"begin", WriteClass::ReadOnly},
         {"rollback", WriteClass::ReadOnly},
         {"savepoint a", WriteClass::ReadOnly},
         {"release savepoint a", WriteClass::ReadOnly},
         {"rollback to savepoint a", WriteClass::ReadOnly},
         {"prepare p as select 1", WriteClass::ReadOnly},
         {"deallocate p", WriteClass::ReadOnly},
         {"close c", WriteClass::ReadOnly}},
        ctx_);
}

TEST_F(PgWriteClass, AnyDoubtIsNotReadOnly) {
  check({{"select nextval('s')", WriteClass::Escaping},
         {"select currval('s')", WriteClass::Escaping},
         {"select pg_advisory_lock(1)", WriteClass::Escaping},
         {"select pg_try_advisory_xact_lock(1)", WriteClass::Escaping},
         {"select pg_notify('c', 'x')", WriteClass::Escaping},
         {"select set_config('work_mem', '1MB', false)", WriteClass::Escaping},
         {"select lo_import('/etc/passwd')", WriteClass::Escaping},
         {"select * from dblink('x', 'select 1') as t(a int)", WriteClass::Escaping},
         {"select pg_cancel_backend(1)", WriteClass::Escaping},
         {"select txid_current()", WriteClass::Escaping},
         {"select lower2(name) from accounts", WriteClass::Escaping},
         {"select public.lower(name) from accounts", WriteClass::Escaping},
         {"select 1 === 2", WriteClass::Escaping},
         {"select 1 operator(public.+) 2", WriteClass::Escaping},
         {"select * from v_bad", WriteClass::Escaping},
         {"select * from remote", WriteClass::Escaping},
         {"select * from not_in_catalog", WriteClass::Escaping},
         {"select * from secured", WriteClass::Escaping},
         {"select o.total from accounts o", WriteClass::Escaping},
         {"select (a).n from accounts a", WriteClass::Escaping},
         {"select n::mytype from accounts", WriteClass::Escaping},
         {"select xmlelement(name a)", WriteClass::Escaping},
         {"select * into newt from accounts", WriteClass::Escaping},
         {"select * from v_ok for update", WriteClass::Escaping},
         {"copy accounts to '/tmp/x'", WriteClass::Escaping},
         {"set work_mem = '1MB'", WriteClass::Escaping},
         {"create table t (id int)", WriteClass::Escaping},
         {"analyze accounts", WriteClass::Escaping},
         {"explain select nextval('s')", WriteClass::Escaping},  // the planner may fold unlisted code
         {"explain select * from v_bad", WriteClass::Escaping},
         {"selec 1", WriteClass::Escaping}},
        ctx_);
}

TEST_F(PgWriteClass, ContainedWritesNeedTransactionalTablesWithListedHooks) {
  check({{"insert into accounts values (1)", WriteClass::Contained},
         {"update accounts set n = n + 1 where id = 1", WriteClass::Contained},
         {"delete from accounts where id = 1 returning *", WriteClass::Contained},
         {"insert into accounts values (1) on conflict (id) do update set n = excluded.n", WriteClass::Contained},
         {"merge into accounts a using accounts b on a.id = b.id when matched then update set n = 1",
          WriteClass::Contained},
         {"with d as (delete from accounts returning *) select * from d", WriteClass::Contained},
         {"copy accounts from stdin", WriteClass::Contained},
         {"lock table accounts in exclusive mode", WriteClass::Contained},
         {"select * from accounts for update", WriteClass::Contained},
         {"select * from accounts for share skip locked", WriteClass::Contained},
         {"notify c", WriteClass::Contained},
         {"listen c", WriteClass::Contained},
         {"explain analyze update accounts set n = 1", WriteClass::Contained},
         {"insert into history values (1)", WriteClass::Escaping},
         {"with d as (delete from history returning *) select * from d", WriteClass::Escaping},
         {"insert into log_myisam values (1)", WriteClass::Escaping},
         {"insert into accounts values (nextval('s'))", WriteClass::Escaping},
         {"update accounts set n = lower2(x)", WriteClass::Escaping},
         {"insert into accounts select * from remote", WriteClass::Escaping},
         {"update secured set n = 1", WriteClass::Escaping}},
        ctx_);
}

TEST_F(PgWriteClass, CommitPointsOfPostgreSql) {
  check({{"commit", WriteClass::CommitPoint},
         {"end", WriteClass::CommitPoint},
         {"commit and chain", WriteClass::CommitPoint},
         {"prepare transaction 'x'", WriteClass::CommitPoint},
         {"commit prepared 'x'", WriteClass::CommitPoint},
         {"rollback prepared 'x'", WriteClass::CommitPoint},
         {"call p()", WriteClass::CommitPoint},
         {"do $$ begin perform 1; end $$", WriteClass::CommitPoint},
         {"vacuum", WriteClass::CommitPoint},
         {"vacuum accounts", WriteClass::CommitPoint},
         {"create database d", WriteClass::CommitPoint},
         {"drop database d", WriteClass::CommitPoint},
         {"create tablespace t location '/x'", WriteClass::CommitPoint},
         {"alter system set work_mem = '1MB'", WriteClass::CommitPoint},
         {"create index concurrently i on accounts (n)", WriteClass::CommitPoint},
         {"drop index concurrently i", WriteClass::CommitPoint},
         {"reindex database d", WriteClass::CommitPoint},
         {"reindex table concurrently accounts", WriteClass::CommitPoint},
         {"cluster", WriteClass::CommitPoint},
         {"discard all", WriteClass::CommitPoint},
         {"select 1; commit", WriteClass::CommitPoint},
         {"explain analyze select 1; call p()", WriteClass::CommitPoint}},
        ctx_);
  const auto ends = [&](const char* sql) { return pg_write_classes(std::string_view(sql), ctx_).message.ends_transaction_only; };
  EXPECT_TRUE(ends("commit"));
  EXPECT_TRUE(ends("end"));
  EXPECT_TRUE(ends("select 1; commit"));
  EXPECT_FALSE(ends("call p()"));
  EXPECT_FALSE(ends("prepare transaction 'x'"));
  EXPECT_FALSE(ends("update accounts set n = 1; commit"));
  const auto tc = [&](const char* sql) { return pg_write_classes(std::string_view(sql), ctx_).message.transaction_control; };
  for (const char* sql : {"begin", "rollback", "savepoint a", "rollback to a", "release a", "commit", "select 1; commit"})
    EXPECT_TRUE(tc(sql)) << sql;
  EXPECT_FALSE(tc("select 1"));
  EXPECT_FALSE(tc("insert into accounts values (1)"));
}

TEST_F(PgWriteClass, WithoutACurrentCatalogNoRelationIsProvenAndNothingIsContained) {
  ClassContext none;
  check({{"select 1", WriteClass::ReadOnly},
         {"select * from accounts", WriteClass::Escaping},
         {"select now()", WriteClass::Escaping},
         {"select 1 + 1", WriteClass::Escaping},
         {"insert into accounts values (1)", WriteClass::Escaping},
         {"notify c", WriteClass::Escaping},
         {"begin", WriteClass::ReadOnly},
         {"commit", WriteClass::CommitPoint}},
        none);
  ClassContext stale = ctx_;
  stale.catalog_current = false;  // the session ran DDL since the catalog was loaded
  check({{"select * from accounts", WriteClass::Escaping}, {"insert into accounts values (1)", WriteClass::Escaping}},
        stale);
}

TEST_F(PgWriteClass, AListedNameShadowedByAUserFunctionIsNotProven) {
  catalog_.user_function_names.insert("lower");
  catalog_.user_operator_names.insert("=");
  check({{"select lower(name) from accounts", WriteClass::Escaping},
         {"select * from accounts where id = 1", WriteClass::Escaping},
         {"select upper(name) from accounts where id > 1", WriteClass::ReadOnly}},
        ctx_);
}

TEST_F(PgWriteClass, DeclareAndPrepareReportWhatToRemember) {
  const auto prep = pg_write_classes(std::string_view("prepare p (int) as update accounts set n = $1"), ctx_);
  ASSERT_EQ(prep.statements.size(), 1u);
  EXPECT_EQ(prep.statements[0].prepares, "p");
  EXPECT_EQ(prep.statements[0].remembered.klass, WriteClass::Contained);
  const auto decl = pg_write_classes(std::string_view("declare c cursor with hold for select nextval('s')"), ctx_);
  EXPECT_EQ(decl.statements[0].declares_cursor, "c");
  EXPECT_EQ(decl.statements[0].remembered.klass, WriteClass::Escaping);
  EXPECT_EQ(decl.message.klass, WriteClass::Escaping);
}

}  // namespace
}  // namespace segproxy::authz::wal::test
