// The MySQL / MariaDB write-ahead catalog loader (daemon/catalog/mysql_wal_catalog_loader)
// against the real MariaDB: each test creates its own tables in `shop` (InnoDB, MyISAM,
// MEMORY, Aria; triggers, defaults, generated columns, CHECKs, views), loads the catalog
// over its own metadata login and asserts the facts the write-ahead classes trust
// (docs/audit.md "The catalog the classes trust"). Every case that must be false has
// its own test.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daemon/catalog/mysql_wal_catalog_loader.hpp"
#include "daemon/credentials/mysql_driver.hpp"
#include "support/env.hpp"
#include "support/mysql.hpp"
#include "support/process.hpp"

namespace segproxy::it {
namespace {

using authz::wal::RelationFacts;
using authz::wal::RelationKind;
using authz::wal::WalCatalog;

class MysqlWalCatalog : public ::testing::Test {
 protected:
  void SetUp() override {
    SEGPROXY_IT_REQUIRE_MYSQL_ENV();
    MyError err;
    root_ = mysql_connect(my_superuser_target(), &err);
    ASSERT_TRUE(root_) << err.describe();
    prefix_ = "wal" + std::to_string(::getpid()) + "_" + std::to_string(counter_) + "_";
    user_ = "walmeta" + std::to_string(::getpid()) + "_" + std::to_string(counter_++);
    password_ = "walmeta-pw-" + user_;
    dir_ = make_temp_dir(env().test_dir, "it-mywalcat-");
    password_file_ = dir_ + "/meta.pw";
    write_file(password_file_, password_ + "\n");
    Root("CREATE USER '" + user_ + "'@'%' IDENTIFIED BY '" + password_ + "'");
    Root("GRANT SELECT, SHOW VIEW, TRIGGER ON " + env().mydb + ".* TO '" + user_ + "'@'%'");
  }

  void TearDown() override {
    if (!root_) return;
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) mysql_exec(root_.get(), "DROP " + *it);
    mysql_exec(root_.get(), "DROP USER IF EXISTS '" + user_ + "'@'%'");
  }

  void Root(const std::string& sql) {
    const MyResult r = mysql_exec(root_.get(), sql);
    ASSERT_TRUE(r.ok) << sql << ": " << r.error.describe();
  }
  // CREATE <what> <name> <rest>, dropped at the end ("TABLE", "VIEW", "FUNCTION").
  void Create(const std::string& what, const std::string& name, const std::string& rest) {
    ASSERT_NO_FATAL_FAILURE(Root("CREATE " + what + " " + T(name) + " " + rest));
    created_.push_back(what + " IF EXISTS " + T(name));
  }
  std::string T(const std::string& name) const { return env().mydb + "." + prefix_ + name; }

  std::optional<WalCatalog> Load(std::string* why_out = nullptr) {
    config::Listener l;
    l.name = "my-main";
    l.protocol = config::Protocol::Mysql;
    l.backend.endpoint.host = env().myhost;
    l.backend.endpoint.port = static_cast<std::uint16_t>(std::stoi(env().myport));
    config::MetadataCredential m;
    m.user = user_;
    m.password_file = password_file_;
    l.backend.metadata = m;
    std::string why;
    std::chrono::steady_clock::time_point at{};
    auto all = proxy::load_mysql_wal_catalogs(proxy::mysql_driver(), l, {env().mydb}, std::chrono::seconds(10), {},
                                              at, why);
    if (why_out) *why_out = why;
    EXPECT_TRUE(all || why_out) << why;
    if (!all) return std::nullopt;
    EXPECT_EQ(all->size(), 1u);
    return all->begin()->second;
  }

  RelationFacts Facts(const WalCatalog& c, const std::string& name) const {
    const auto* f = c.find(env().mydb, prefix_ + name);
    EXPECT_NE(f, nullptr) << prefix_ << name << " is not in the loaded catalog";
    return f ? *f : RelationFacts{};
  }
  static bool Contained(const RelationFacts& f) {
    return f.kind == RelationKind::Table && f.transactional && f.hooks_listed_only;
  }

  static inline int counter_ = 0;
  std::unique_ptr<sql::Connection> root_;
  std::vector<std::string> created_;
  std::string prefix_, user_, password_, dir_, password_file_;
};

TEST_F(MysqlWalCatalog, InnodbTableWithListedDefaultsAndChecksIsContainedAndReadOnly) {
  Create("TABLE", "orders",
         "(id int AUTO_INCREMENT PRIMARY KEY, state varchar(8) DEFAULT 'new',"
         " qty int CHECK (qty > 0), at timestamp DEFAULT current_timestamp() ON UPDATE current_timestamp(),"
         " total int AS (qty * 2) PERSISTENT) ENGINE=InnoDB");
  const auto c = Load();
  ASSERT_TRUE(c);
  const auto f = Facts(*c, "orders");
  EXPECT_TRUE(Contained(f));
  EXPECT_TRUE(f.read_only_ok);
}

TEST_F(MysqlWalCatalog, MyisamMemoryAndAriaTablesAreNotTransactional) {
  Create("TABLE", "my", "(id int) ENGINE=MyISAM");
  Create("TABLE", "mem", "(id int) ENGINE=MEMORY");
  Create("TABLE", "aria", "(id int) ENGINE=Aria");
  const auto c = Load();
  ASSERT_TRUE(c);
  for (const char* t : {"my", "mem", "aria"}) {
    EXPECT_EQ(Facts(*c, t).kind, RelationKind::Table) << t;
    EXPECT_FALSE(Facts(*c, t).transactional) << t;
    EXPECT_TRUE(Facts(*c, t).read_only_ok) << t;
  }
}

TEST_F(MysqlWalCatalog, InnodbTableWithATriggerIsNotContained) {
  Create("TABLE", "t", "(id int) ENGINE=InnoDB");
  Create("TABLE", "log", "(id int) ENGINE=InnoDB");
  ASSERT_NO_FATAL_FAILURE(Root("CREATE TRIGGER " + T("t_ins") + " AFTER INSERT ON " + T("t") +
                               " FOR EACH ROW INSERT INTO " + T("log") + " VALUES (NEW.id)"));
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_TRUE(Facts(*c, "t").transactional);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
  EXPECT_TRUE(Contained(Facts(*c, "log")));
}

TEST_F(MysqlWalCatalog, LoginWithoutTriggerPrivilegeLeavesNoTableContained) {
  Create("TABLE", "t", "(id int) ENGINE=InnoDB");
  ASSERT_NO_FATAL_FAILURE(Root("REVOKE TRIGGER ON " + env().mydb + ".* FROM '" + user_ + "'@'%'"));
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_TRUE(Facts(*c, "t").transactional);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(MysqlWalCatalog, InnodbTableWithADefaultCallingAnUnlistedFunctionIsNotContained) {
  Create("TABLE", "t", "(id int, tag varchar(40) DEFAULT (uuid())) ENGINE=InnoDB");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(MysqlWalCatalog, InnodbTableWithAGeneratedColumnCallingAnUnlistedFunctionIsNeitherContainedNorReadOnly) {
  Create("TABLE", "t", "(name varchar(20), s varchar(20) AS (soundex(name)) VIRTUAL) ENGINE=InnoDB");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
  EXPECT_FALSE(Facts(*c, "t").read_only_ok);
}

TEST_F(MysqlWalCatalog, InnodbTableWithACheckCallingAnUnlistedFunctionIsNotContained) {
  Create("TABLE", "t", "(name varchar(20), CONSTRAINT named_check CHECK (soundex(name) <> '')) ENGINE=InnoDB");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(MysqlWalCatalog, ViewsAreReadOnlyOnlyWhenTheirDefinitionIsProven) {
  Create("TABLE", "base", "(id int, name varchar(20)) ENGINE=InnoDB");
  Create("FUNCTION", "f", "(x int) RETURNS int DETERMINISTIC RETURN x + 1");
  Create("VIEW", "v_ok", "AS SELECT id, upper(name) AS name FROM " + T("base") + " WHERE id > 0");
  Create("VIEW", "v_of_v", "AS SELECT id FROM " + T("v_ok"));
  Create("VIEW", "v_bad", "AS SELECT " + T("f") + "(id) AS s FROM " + T("base"));
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_EQ(Facts(*c, "v_ok").kind, RelationKind::View);
  EXPECT_TRUE(Facts(*c, "v_ok").read_only_ok);
  EXPECT_TRUE(Facts(*c, "v_of_v").read_only_ok);
  EXPECT_FALSE(Facts(*c, "v_bad").read_only_ok);
  EXPECT_FALSE(Facts(*c, "v_ok").transactional);
}

TEST_F(MysqlWalCatalog, WrongMetadataPasswordLoadsNothing) {
  write_file(password_file_, "not-the-password\n");
  std::string why;
  EXPECT_FALSE(Load(&why));
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(why.find("not-the-password"), std::string::npos) << "the password appears in the error";
}

}  // namespace
}  // namespace segproxy::it
