// MySQL / MariaDB write-ahead classes (authz/wal/mysql_write_class): from the fail-closed
// analyzer plus the statement's tokens. Catalog: wal_catalog_fixture.hpp (database shop).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "authz/wal/mysql_write_class.hpp"
#include "wal_catalog_fixture.hpp"

namespace segproxy::authz::wal::test {
namespace {

struct Case {
  const char* sql;
  WriteClass want;
};

class MysqlWriteClass : public ::testing::Test {
 protected:
  MessageClass of(const char* sql, const ClassContext& ctx) {
    sql::MysqlClassifierOptions opts;
    opts.current_database = "shop";
    opts.server_is_mariadb = true;
    return mysql_write_classes(std::string_view(sql), opts, ctx).message;
  }
  void check(const std::vector<Case>& cases, const ClassContext& ctx) {
    for (const Case& c : cases) {
      const MessageClass got = of(c.sql, ctx);
      EXPECT_EQ(std::string(write_class_name(got.klass)), write_class_name(c.want)) << c.sql << "  (" << got.reason << ")";
    }
  }
  WalCatalog catalog_ = test_catalog("shop");
  ClassContext ctx_ = context(catalog_, "shop");
};

TEST_F(MysqlWriteClass, ReadOnlyIsProvenForBuiltinsOverVouchedTables) {
  check({{"select * from accounts", WriteClass::ReadOnly},
         {"select n from accounts where id = 1", WriteClass::ReadOnly},
         {"select count(*), concat(name, 'x'), now() from accounts", WriteClass::ReadOnly},
         {"select * from v_ok", WriteClass::ReadOnly},
         {"select 1", WriteClass::ReadOnly},
         {"show tables", WriteClass::ReadOnly},
         {"describe accounts", WriteClass::ReadOnly},
         {"explain select * from accounts", WriteClass::ReadOnly},
         {"rollback", WriteClass::ReadOnly},
         {"savepoint a", WriteClass::ReadOnly},
         {"rollback to savepoint a", WriteClass::ReadOnly},
         {"release savepoint a", WriteClass::ReadOnly}},
        ctx_);
}

TEST_F(MysqlWriteClass, AnyDoubtIsNotReadOnly) {
  check({{"select get_lock('a', 1)", WriteClass::Escaping},
         {"select sleep(1)", WriteClass::Escaping},
         {"select last_insert_id(5)", WriteClass::Escaping},
         {"select n from accounts into @a", WriteClass::Escaping},
         {"select @a := n from accounts", WriteClass::Escaping},
         {"select shop.f(1)", WriteClass::Escaping},
         {"select * from v_bad", WriteClass::Escaping},
         {"select * from not_in_catalog", WriteClass::Escaping},
         {"set @a = 1", WriteClass::Escaping},
         {"set session sql_select_limit = 5", WriteClass::Escaping},
         {"use shop", WriteClass::Escaping},
         {"kill query 5", WriteClass::Escaping},
         {"selec 1", WriteClass::Escaping}},
        ctx_);
}

TEST_F(MysqlWriteClass, ContainedWritesNeedTransactionalTablesWithListedHooks) {
  check({{"insert into accounts values (1)", WriteClass::Contained},
         {"update accounts set n = 1 where id = 2", WriteClass::Contained},
         {"delete from accounts where id = 1", WriteClass::Contained},
         {"replace into accounts values (1)", WriteClass::Contained},
         {"select * from accounts for update", WriteClass::Contained},
         {"select * from accounts lock in share mode", WriteClass::Contained},
         {"insert into log_myisam values (1)", WriteClass::Escaping},
         {"insert into history values (1)", WriteClass::Escaping},
         {"update accounts set n = @x := 1", WriteClass::Escaping},
         {"insert into accounts select * from v_bad", WriteClass::Escaping}},
        ctx_);
}

TEST_F(MysqlWriteClass, EveryImplicitCommitIsACommitPoint) {
  check({{"commit", WriteClass::CommitPoint},
         {"begin", WriteClass::CommitPoint},
         {"start transaction", WriteClass::CommitPoint},
         {"set autocommit = 0", WriteClass::CommitPoint},
         {"set @@autocommit = 1", WriteClass::CommitPoint},
         {"create table t (id int)", WriteClass::CommitPoint},
         {"drop table accounts", WriteClass::CommitPoint},
         {"alter table accounts add column c int", WriteClass::CommitPoint},
         {"truncate accounts", WriteClass::CommitPoint},
         {"rename table accounts to b", WriteClass::CommitPoint},
         {"lock tables accounts read", WriteClass::CommitPoint},
         {"unlock tables", WriteClass::CommitPoint},
         {"call p()", WriteClass::CommitPoint},
         {"analyze table accounts", WriteClass::CommitPoint},
         {"optimize table accounts", WriteClass::CommitPoint},
         {"select 1; commit", WriteClass::CommitPoint},
         {"begin not atomic select 1; end", WriteClass::CommitPoint}},
        ctx_);
  EXPECT_TRUE(of("commit", ctx_).ends_transaction_only);
  EXPECT_TRUE(of("begin", ctx_).ends_transaction_only);
  EXPECT_FALSE(of("create table t (id int)", ctx_).ends_transaction_only);
  EXPECT_TRUE(of("rollback", ctx_).transaction_control);
  EXPECT_TRUE(of("create table t (id int)", ctx_).transaction_control);
}

TEST_F(MysqlWriteClass, WithoutACurrentCatalogNoTableIsProvenAndNothingIsContained) {
  ClassContext none;
  check({{"select 1", WriteClass::ReadOnly},
         {"select now()", WriteClass::ReadOnly},  // built-ins win over stored functions
         {"select * from accounts", WriteClass::Escaping},
         {"insert into accounts values (1)", WriteClass::Escaping},
         {"commit", WriteClass::CommitPoint}},
        none);
}

}  // namespace
}  // namespace segproxy::authz::wal::test
