// The PostgreSQL write-ahead catalog loader (daemon/catalog/pg_wal_catalog_loader) against
// the real PostgreSQL: each test creates its own schema with tables, triggers, rules,
// policies, defaults and views, loads the catalog over a metadata login and asserts the
// facts the write-ahead classes trust (docs/audit.md "The catalog the classes trust").
// Every case that must be false has its own test.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string>

#include "daemon/catalog/pg_wal_catalog_loader.hpp"
#include "support/env.hpp"
#include "support/pg.hpp"
#include "support/process.hpp"

namespace segproxy::it {
namespace {

using authz::wal::RelationFacts;
using authz::wal::RelationKind;
using authz::wal::WalCatalog;

class PgWalCatalog : public ::testing::Test {
 protected:
  void SetUp() override {
    SEGPROXY_IT_REQUIRE_ENV();
    su_ = pg_connect(env().superuser_conninfo());
    ASSERT_EQ(PQstatus(su_.get()), CONNECTION_OK) << PQerrorMessage(su_.get());
    pg_exec(su_.get(), "SET client_min_messages = warning");
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    schema_ = "walit_" + std::to_string(::getpid()) + "_" + name.substr(0, 30);
    role_ = "walmeta_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++);
    dir_ = make_temp_dir(env().test_dir, "it-walcat-");
    password_file_ = dir_ + "/meta.pw";
    write_file(password_file_, "walmeta-pw-" + role_ + "\n");
    Su("CREATE ROLE " + role_ + " LOGIN PASSWORD 'walmeta-pw-" + role_ + "'");
    Su("CREATE SCHEMA " + schema_);
  }

  void TearDown() override {
    if (su_ && PQstatus(su_.get()) == CONNECTION_OK && !schema_.empty()) {
      pg_exec(su_.get(), "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
      pg_exec(su_.get(), "DROP ROLE IF EXISTS " + role_);
    }
  }

  void Su(const std::string& sql) {
    const QueryOutcome q = pg_exec(su_.get(), sql);
    ASSERT_TRUE(q.ok) << sql << ": " << q.error;
  }
  std::string S(const std::string& name) const { return schema_ + "." + name; }

  config::Listener listener(const std::string& password_file) const {
    config::Listener l;
    l.name = "pg-main";
    l.backend.endpoint.host = env().pghost;
    l.backend.endpoint.port = static_cast<std::uint16_t>(std::stoi(env().pgport));
    l.backend.auth = {"scram-sha-256", "md5"};
    config::MetadataCredential m;
    m.user = role_;
    m.password_file = password_file;
    l.backend.metadata = m;
    return l;
  }

  std::optional<WalCatalog> Load(std::string* why_out = nullptr) {
    std::string why;
    std::chrono::steady_clock::time_point at{};
    const auto before = std::chrono::steady_clock::now();
    auto c = proxy::load_pg_wal_catalog(listener(password_file_), env().db, std::chrono::seconds(10), {}, at, why);
    if (c) {
      EXPECT_GE(at, before);
      EXPECT_LE(at, std::chrono::steady_clock::now());
    }
    if (why_out) *why_out = why;
    EXPECT_TRUE(c || why_out) << why;
    return c;
  }

  RelationFacts Facts(const WalCatalog& c, const std::string& name) const {
    const auto* f = c.find(schema_, name);
    EXPECT_NE(f, nullptr) << schema_ << "." << name << " is not in the loaded catalog";
    return f ? *f : RelationFacts{};
  }

  static bool Contained(const RelationFacts& f) {
    return f.kind == RelationKind::Table && f.transactional && f.hooks_listed_only;
  }

  // A PL/pgSQL function with an effect outside the transaction's reach.
  void UserFunction(const std::string& name, const std::string& args = "", const std::string& returns = "int") {
    Su("CREATE FUNCTION " + S(name) + "(" + args + ") RETURNS " + returns +
       " LANGUAGE sql IMMUTABLE AS $$ SELECT 1::" + returns + " $$");
  }

  static inline int counter_ = 0;
  PgConnPtr su_;
  std::string schema_, role_, dir_, password_file_;
};

TEST_F(PgWalCatalog, PlainTableWithSerialCheckAndBuiltinDefaultsIsContainedAndReadOnly) {
  Su("CREATE TABLE " + S("accounts") +
     " (id serial PRIMARY KEY, name text NOT NULL CHECK (length(name) > 0),"
     "  balance numeric DEFAULT 0 CHECK (balance >= 0), created timestamptz DEFAULT now(),"
     "  mood_enum_free text DEFAULT 'x', ident bigint GENERATED ALWAYS AS IDENTITY,"
     "  doubled numeric GENERATED ALWAYS AS (balance * 2) STORED)");
  Su("CREATE INDEX ON " + S("accounts") + " (lower(name)) WHERE balance > 0");
  const auto c = Load();
  ASSERT_TRUE(c);
  const auto f = Facts(*c, "accounts");
  EXPECT_EQ(f.kind, RelationKind::Table);
  EXPECT_TRUE(Contained(f));
  EXPECT_TRUE(f.read_only_ok);
}

TEST_F(PgWalCatalog, TableWithATriggerIsNotContained) {
  Su("CREATE TABLE " + S("t") + " (id int)");
  Su("CREATE FUNCTION " + S("trg") + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
  Su("CREATE TRIGGER t_ins BEFORE INSERT ON " + S("t") + " FOR EACH ROW EXECUTE FUNCTION " + S("trg") + "()");
  const auto c = Load();
  ASSERT_TRUE(c);
  const auto f = Facts(*c, "t");
  EXPECT_TRUE(f.transactional);
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_TRUE(f.read_only_ok);
}

TEST_F(PgWalCatalog, TableWithARuleIsNotContained) {
  Su("CREATE TABLE " + S("t") + " (id int)");
  Su("CREATE TABLE " + S("shadow") + " (id int)");
  Su("CREATE RULE t_copy AS ON INSERT TO " + S("t") + " DO ALSO INSERT INTO " + S("shadow") + " VALUES (NEW.id)");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
  EXPECT_TRUE(Contained(Facts(*c, "shadow")));
}

TEST_F(PgWalCatalog, TableWithRowSecurityPolicyCallingAUserFunctionIsNeitherContainedNorReadOnly) {
  UserFunction("allowed", "text", "boolean");
  Su("CREATE TABLE " + S("secured") + " (owner text)");
  Su("ALTER TABLE " + S("secured") + " ENABLE ROW LEVEL SECURITY");
  Su("CREATE POLICY p ON " + S("secured") + " USING (" + S("allowed") + "(owner))");
  const auto c = Load();
  ASSERT_TRUE(c);
  const auto f = Facts(*c, "secured");
  EXPECT_FALSE(f.hooks_listed_only);
  EXPECT_FALSE(f.read_only_ok);
}

TEST_F(PgWalCatalog, TableWithRowSecurityPolicyOfListedCodeStaysContainedAndReadOnly) {
  Su("CREATE TABLE " + S("secured") + " (owner text)");
  Su("ALTER TABLE " + S("secured") + " ENABLE ROW LEVEL SECURITY");
  Su("CREATE POLICY p ON " + S("secured") + " USING (owner = current_user)");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_TRUE(Contained(Facts(*c, "secured")));
  EXPECT_TRUE(Facts(*c, "secured").read_only_ok);
}

TEST_F(PgWalCatalog, TableWithADefaultCallingAUserFunctionIsNotContained) {
  UserFunction("stamp");
  Su("CREATE TABLE " + S("t") + " (id int DEFAULT " + S("stamp") + "())");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
  EXPECT_TRUE(Facts(*c, "t").read_only_ok);
}

TEST_F(PgWalCatalog, TableWithADefaultCallingAnUnlistedBuiltinIsNotContained) {
  Su("CREATE TABLE " + S("t") + " (id bigint DEFAULT txid_current())");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(PgWalCatalog, TableWithAGeneratedColumnCallingAUserFunctionIsNotContained) {
  UserFunction("twice", "int");
  Su("CREATE TABLE " + S("t") + " (a int, b int GENERATED ALWAYS AS (" + S("twice") + "(a)) STORED)");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(PgWalCatalog, TableWithACheckCallingAUserFunctionIsNotContained) {
  UserFunction("valid", "int", "boolean");
  Su("CREATE TABLE " + S("t") + " (a int CHECK (" + S("valid") + "(a)))");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(PgWalCatalog, TableWithAnIndexExpressionCallingAUserFunctionIsNotContained) {
  UserFunction("key", "int");
  Su("CREATE TABLE " + S("t") + " (a int)");
  Su("CREATE INDEX ON " + S("t") + " ((" + S("key") + "(a)))");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(PgWalCatalog, TableWithAPartialIndexPredicateCallingAUserFunctionIsNotContained) {
  UserFunction("keep", "int", "boolean");
  Su("CREATE TABLE " + S("t") + " (a int)");
  Su("CREATE INDEX ON " + S("t") + " (a) WHERE " + S("keep") + "(a)");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
}

TEST_F(PgWalCatalog, TableWithADomainColumnWhoseConstraintCallsAUserFunctionIsNotContained) {
  UserFunction("positive", "int", "boolean");
  Su("CREATE DOMAIN " + S("pos") + " AS int CHECK (" + S("positive") + "(VALUE))");
  Su("CREATE DOMAIN " + S("small") + " AS int CHECK (VALUE < 100)");
  Su("CREATE TABLE " + S("t") + " (a " + S("pos") + ")");
  Su("CREATE TABLE " + S("ok") + " (a " + S("small") + ")");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
  EXPECT_TRUE(Contained(Facts(*c, "ok")));  // a domain over int with a listed CHECK
}

TEST_F(PgWalCatalog, TableWithAColumnOfAUserCompositeTypeIsNeitherContainedNorReadOnly) {
  Su("CREATE TYPE " + S("pair") + " AS (a int, b int)");
  Su("CREATE TABLE " + S("t") + " (p " + S("pair") + ")");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "t").hooks_listed_only);
  EXPECT_FALSE(Facts(*c, "t").read_only_ok);
}

TEST_F(PgWalCatalog, TableWithAnEnumColumnIsContainedAndReadOnly) {
  Su("CREATE TYPE " + S("mood") + " AS ENUM ('ok', 'sad')");
  Su("CREATE TABLE " + S("t") + " (m " + S("mood") + ")");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_TRUE(Contained(Facts(*c, "t")));
  EXPECT_TRUE(Facts(*c, "t").read_only_ok);
}

TEST_F(PgWalCatalog, ForeignKeyCascadeIntoATableWithATriggerMakesTheReferencedTableNotContained) {
  Su("CREATE TABLE " + S("parent") + " (id int PRIMARY KEY)");
  Su("CREATE TABLE " + S("child") + " (pid int REFERENCES " + S("parent") + " ON DELETE CASCADE)");
  Su("CREATE TABLE " + S("plain_parent") + " (id int PRIMARY KEY)");
  Su("CREATE TABLE " + S("plain_child") + " (pid int REFERENCES " + S("plain_parent") + ")");
  Su("CREATE FUNCTION " + S("trg") + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$");
  Su("CREATE TRIGGER c_del BEFORE DELETE ON " + S("child") + " FOR EACH ROW EXECUTE FUNCTION " + S("trg") + "()");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "parent").hooks_listed_only);
  EXPECT_FALSE(Facts(*c, "child").hooks_listed_only);
  // NO ACTION keys: their internal triggers only check.
  EXPECT_TRUE(Contained(Facts(*c, "plain_parent")));
  EXPECT_TRUE(Contained(Facts(*c, "plain_child")));
}

TEST_F(PgWalCatalog, PartitionedTableWithATriggeredPartitionIsNotContained) {
  Su("CREATE TABLE " + S("events") + " (at date) PARTITION BY RANGE (at)");
  Su("CREATE TABLE " + S("events_a") + " PARTITION OF " + S("events") + " FOR VALUES FROM ('2026-01-01') TO ('2026-07-01')");
  Su("CREATE TABLE " + S("events_b") + " PARTITION OF " + S("events") + " FOR VALUES FROM ('2026-07-01') TO ('2027-01-01')");
  Su("CREATE TABLE " + S("calm") + " (at date) PARTITION BY RANGE (at)");
  Su("CREATE TABLE " + S("calm_a") + " PARTITION OF " + S("calm") + " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')");
  Su("CREATE FUNCTION " + S("trg") + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
  Su("CREATE TRIGGER b_ins BEFORE INSERT ON " + S("events_b") + " FOR EACH ROW EXECUTE FUNCTION " + S("trg") + "()");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "events").hooks_listed_only);
  EXPECT_TRUE(Contained(Facts(*c, "events_a")));
  EXPECT_TRUE(Contained(Facts(*c, "calm")));
}

TEST_F(PgWalCatalog, ViewsAreReadOnlyOnlyWhenTheirDefinitionIsProven) {
  UserFunction("stamp", "int");
  Su("CREATE TABLE " + S("accounts") + " (id int, name text)");
  Su("CREATE VIEW " + S("v_ok") + " AS SELECT id, upper(name) AS name FROM " + S("accounts") + " WHERE id > 0");
  Su("CREATE VIEW " + S("v_of_v") + " AS SELECT id FROM " + S("v_ok"));
  Su("CREATE VIEW " + S("v_bad") + " AS SELECT " + S("stamp") + "(id) AS s FROM " + S("accounts"));
  Su("CREATE VIEW " + S("v_of_bad") + " AS SELECT s FROM " + S("v_bad"));
  Su("CREATE MATERIALIZED VIEW " + S("mv") + " AS SELECT " + S("stamp") + "(id) AS s FROM " + S("accounts"));
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_EQ(Facts(*c, "v_ok").kind, RelationKind::View);
  EXPECT_TRUE(Facts(*c, "v_ok").read_only_ok);
  EXPECT_TRUE(Facts(*c, "v_of_v").read_only_ok);
  EXPECT_FALSE(Facts(*c, "v_bad").read_only_ok);
  EXPECT_FALSE(Facts(*c, "v_of_bad").read_only_ok);
  EXPECT_FALSE(Facts(*c, "v_ok").hooks_listed_only);
  EXPECT_FALSE(Facts(*c, "v_ok").transactional);
  // Reading a materialized view reads stored rows: its query runs at REFRESH.
  EXPECT_EQ(Facts(*c, "mv").kind, RelationKind::MaterializedView);
  EXPECT_TRUE(Facts(*c, "mv").read_only_ok);
}

TEST_F(PgWalCatalog, SequenceIsNeitherContainedNorReadOnly) {
  Su("CREATE SEQUENCE " + S("seq"));
  const auto c = Load();
  ASSERT_TRUE(c);
  const auto f = Facts(*c, "seq");
  EXPECT_EQ(f.kind, RelationKind::Sequence);
  EXPECT_FALSE(f.transactional);
  EXPECT_FALSE(f.read_only_ok);
}

TEST_F(PgWalCatalog, TemporaryTableOfTheSameNameMakesItsNamesakeNotTrusted) {
  Su("CREATE TABLE " + S("shadowed") + " (id int)");
  Su("CREATE TABLE " + S("alone") + " (id int)");
  Su("CREATE TEMP TABLE shadowed (id int)");  // lives as long as su_
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_FALSE(Facts(*c, "shadowed").hooks_listed_only);
  EXPECT_FALSE(Facts(*c, "shadowed").read_only_ok);
  EXPECT_TRUE(Contained(Facts(*c, "alone")));
}

TEST_F(PgWalCatalog, UserFunctionAndOperatorNamesAndSystemCatalogsAreLoaded) {
  UserFunction("lower", "text", "text");  // shadows a listed built-in's name
  Su("CREATE FUNCTION " + S("eq3") + "(int, int) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 = $2 $$");
  Su("CREATE OPERATOR " + S("===") + " (LEFTARG = int, RIGHTARG = int, FUNCTION = " + S("eq3") + ")");
  const auto c = Load();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_function_names.count("lower"), 1u);
  EXPECT_EQ(c->user_function_names.count("eq3"), 1u);
  EXPECT_EQ(c->user_operator_names.count("==="), 1u);
  EXPECT_EQ(c->user_function_names.count("now"), 0u);  // pg_catalog's are not user names
  const auto* pg_class = c->find("pg_catalog", "pg_class");
  ASSERT_NE(pg_class, nullptr);
  EXPECT_TRUE(pg_class->read_only_ok);
}

TEST_F(PgWalCatalog, WrongMetadataPasswordLoadsNothing) {
  write_file(password_file_, "not-the-password\n");
  std::string why;
  const auto c = Load(&why);
  EXPECT_FALSE(c);
  EXPECT_NE(why.find("connect"), std::string::npos) << why;
  EXPECT_EQ(why.find("not-the-password"), std::string::npos) << "the password appears in the error";
}

}  // namespace
}  // namespace segproxy::it
