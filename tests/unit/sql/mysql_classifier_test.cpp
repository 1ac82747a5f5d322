// MySQL statement analyzer: StatementInfo for each supported statement shape, options,
// refusals, fingerprint and normalisation.
#include <gtest/gtest.h>

#include <string>

#include "authz/sql/mysql_classifier.hpp"
#include "tests/unit/sql/hash_key_support.hpp"
#include "pg_test_support.hpp"

namespace segproxy::authz::sql {
namespace {

// "<Class> <Op>:<schema>.<name> ... fn:<name> [locks] [prep=] [db=]" per statement,
// joined by " ; "; Forbidden/Unknown carry " !" instead of their reason.
std::string show(const StatementInfo& info) {
  if (!info.parse_ok) return "PARSE ERROR";
  std::string out;
  for (const auto& p : info.statements) {
    if (!out.empty()) out += " ; ";
    out += test::class_name(p.klass);
    for (const auto& t : p.tables) out += std::string(" ") + test::op_name(t.op) + ":" + t.schema + "." + t.name;
    for (const auto& f : p.functions) out += " fn:" + (f.schema.empty() ? "" : f.schema + ".") + f.name;
    if (p.locks_rows) out += " locks";
    if (!p.prepared_name.empty()) out += " prep=" + p.prepared_name;
    if (!p.database.empty()) out += " db=" + p.database;
    if (p.klass == StatementClass::Forbidden || p.klass == StatementClass::Unknown) out += " !";
  }
  return out;
}

MysqlClassifierOptions shop() {
  MysqlClassifierOptions o;
  o.hash_key = test::kTestHashKey;
  o.current_database = "shop";
  return o;
}

std::string c(std::string_view sql, const MysqlClassifierOptions& o = shop()) { return show(classify_mysql(sql, o)); }

TEST(MysqlClassifier, OnlyCommitAndRollbackOfTheWholeTransactionAreTypedAsEndingIt) {
  const auto ends = [](std::string_view sql) {
    const StatementInfo info = classify_mysql(sql, shop());
    return info.statements.size() == 1 ? info.statements.front().ends : TransactionEnd::None;
  };
  EXPECT_EQ(ends("COMMIT"), TransactionEnd::Commit);
  EXPECT_EQ(ends("commit work and no chain"), TransactionEnd::Commit);
  EXPECT_EQ(ends("ROLLBACK"), TransactionEnd::Rollback);
  EXPECT_EQ(ends("ROLLBACK WORK"), TransactionEnd::Rollback);
  EXPECT_EQ(ends("ROLLBACK TO SAVEPOINT s1"), TransactionEnd::None);
  EXPECT_EQ(ends("ROLLBACK WORK TO s1"), TransactionEnd::None);
  EXPECT_EQ(ends("SAVEPOINT s1"), TransactionEnd::None);
  EXPECT_EQ(ends("BEGIN"), TransactionEnd::None);
  EXPECT_EQ(ends("SELECT 1"), TransactionEnd::None);
}

TEST(MysqlClassifier, SelectWithJoinsAndSubqueriesEverywhere) {
  EXPECT_EQ(c("SELECT a FROM t1 JOIN t2 ON t1.x = t2.x, t3 NATURAL JOIN t4 STRAIGHT_JOIN t5 "
              "WHERE a IN (SELECT b FROM t6) AND EXISTS (SELECT 1 FROM t7)"),
            "Dml Select:shop.t1 Select:shop.t2 Select:shop.t3 Select:shop.t4 Select:shop.t5 Select:shop.t6 "
            "Select:shop.t7");
  EXPECT_EQ(c("SELECT (SELECT MAX(x) FROM a) FROM (SELECT * FROM b) d"), "Dml Select:shop.a Select:shop.b fn:max");
  EXPECT_EQ(c("SELECT * FROM (t1 LEFT OUTER JOIN t2 USING (id))"), "Dml Select:shop.t1 Select:shop.t2");
  // Regression: a ',' after an ON condition continues the table list (it was swallowed).
  EXPECT_EQ(c("SELECT * FROM a JOIN b ON a.x = b.x, secret"), "Dml Select:shop.a Select:shop.b Select:shop.secret");
  EXPECT_EQ(c("SELECT * FROM a WHERE a.x = 1, secret"), "Unknown Select:shop.a !");
}

TEST(MysqlClassifier, SetOperationsAndParenthesisedQueries) {
  EXPECT_EQ(c("SELECT 1 FROM a UNION ALL SELECT 2 FROM b EXCEPT SELECT 3 FROM c INTERSECT TABLE d"),
            "Dml Select:shop.a Select:shop.b Select:shop.c Select:shop.d");
  EXPECT_EQ(c("((SELECT * FROM a) UNION (SELECT * FROM b)) ORDER BY 1 LIMIT 2"), "Dml Select:shop.a Select:shop.b");
}

TEST(MysqlClassifier, CteNamesAreNotTables) {
  EXPECT_EQ(c("WITH x AS (SELECT * FROM a) SELECT * FROM x"), "Dml Select:shop.a");
  EXPECT_EQ(c("WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r"), "Dml");
  // A non-recursive CTE body sees the real table of the same name.
  EXPECT_EQ(c("WITH a AS (SELECT * FROM a) SELECT * FROM a"), "Dml Select:shop.a");
  // The CTE scope ends with its query.
  EXPECT_EQ(c("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) d, x"), "Dml Select:shop.x");
  EXPECT_EQ(c("SELECT * FROM shop.x WHERE 1 IN (WITH x AS (SELECT 1) SELECT * FROM x)"), "Dml Select:shop.x");
}

TEST(MysqlClassifier, QualificationAndCurrentDatabase) {
  EXPECT_EQ(c("SELECT * FROM `other`.`t`, other.u, .v, w . x"),
            "Dml Select:other.t Select:other.u Select:shop.v Select:w.x");
  MysqlClassifierOptions none;
  EXPECT_EQ(c("SELECT * FROM t", none), "Unknown !");
  EXPECT_EQ(c("SELECT * FROM db.t", none), "Dml Select:db.t");
  EXPECT_EQ(c("SELECT * FROM a.b.c"), "Unknown !");
}

TEST(MysqlClassifier, LowerCaseTableNamesFoldsNames) {
  EXPECT_EQ(c("SELECT * FROM Shop.Secret"), "Dml Select:Shop.Secret");
  auto o = shop();
  o.lower_case_table_names = 1;
  EXPECT_EQ(c("SELECT * FROM Shop.Secret, SECRET", o), "Dml Select:shop.secret Select:shop.secret");
  o.lower_case_table_names = 2;
  EXPECT_EQ(c("SELECT * FROM `SECRET`", o), "Dml Select:shop.secret");
  EXPECT_EQ(c("SELECT * FROM INFORMATION_SCHEMA.TABLES"), "Dml Select:information_schema.tables");
}

TEST(MysqlClassifier, NonAsciiNamesNeedCaseSensitiveUtf8) {
  EXPECT_EQ(c("SELECT * FROM `caf\xc3\xa9`"), "Dml Select:shop.caf\xc3\xa9");
  auto o = shop();
  o.lower_case_table_names = 1;  // the server's Unicode case folding is not ours
  EXPECT_EQ(c("SELECT * FROM `SECRE\xe2\x84\xaa`", o), "Unknown !");
  o = shop();
  o.charset = "latin1";
  EXPECT_EQ(c("SELECT * FROM `caf\xe9`", o), "Unknown !");
  EXPECT_EQ(c("SELECT 'caf\xe9' FROM t", o), "Dml Select:shop.t");
}

TEST(MysqlClassifier, UnsafeSessionCharsetRefusesEverything) {
  auto o = shop();
  o.charset = "gb18030";  // gbk / sjis / big5 / cp932 are followed since issue 12 item 2.2
  EXPECT_EQ(c("SELECT 1", o), "Unknown !");
}

TEST(MysqlClassifier, QuotingFollowsSqlMode) {
  const char* sql = R"(SELECT * FROM t WHERE a = 'x\' UNION SELECT * FROM secret -- ')";
  EXPECT_EQ(c(sql), "Dml Select:shop.t");
  auto o = shop();
  o.no_backslash_escapes = true;
  EXPECT_EQ(c(sql, o), "Dml Select:shop.t Select:shop.secret");
  o = shop();
  o.ansi_quotes = true;
  EXPECT_EQ(c(R"(SELECT * FROM "secret")", o), "Dml Select:shop.secret");
  EXPECT_EQ(c(R"(SELECT * FROM "secret")"), "Unknown !");  // a string is not a table
}

TEST(MysqlClassifier, InsertReplaceAndOnDuplicateKey) {
  EXPECT_EQ(c("INSERT INTO t (a) VALUES (1), (2)"), "Dml Insert:shop.t");
  EXPECT_EQ(c("INSERT INTO t SET a = (SELECT x FROM s)"), "Dml Insert:shop.t Select:shop.s");
  EXPECT_EQ(c("INSERT INTO t SELECT * FROM s"), "Dml Insert:shop.t Select:shop.s");
  EXPECT_EQ(c("INSERT INTO t (SELECT * FROM s)"), "Dml Insert:shop.t Select:shop.s");
  EXPECT_EQ(c("REPLACE INTO t VALUES (1)"), "Dml Insert:shop.t Delete:shop.t");
  EXPECT_EQ(c("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = a + 1"),
            "Dml Insert:shop.t Update:shop.t Select:shop.t");
}

TEST(MysqlClassifier, MultiTableUpdateTargetsOnlyTheSetTables) {
  EXPECT_EQ(c("UPDATE t SET a = 1"), "Dml Update:shop.t");
  EXPECT_EQ(c("UPDATE t SET a = 1 WHERE id = 2"), "Dml Update:shop.t Select:shop.t");
  EXPECT_EQ(c("UPDATE a x JOIN b y ON x.id = y.id SET x.v = 1"), "Dml Update:shop.a Select:shop.b Select:shop.a");
  EXPECT_EQ(c("UPDATE a, b SET b.v = 1"), "Dml Select:shop.a Update:shop.b Select:shop.b");
  EXPECT_EQ(c("UPDATE a, b SET v = 1"), "Dml Update:shop.a Update:shop.b Select:shop.a Select:shop.b");  // unqualified: every table
  EXPECT_EQ(c("UPDATE a SET zz.v = 1"), "Unknown Select:shop.a !");
}

TEST(MysqlClassifier, MultiTableDeleteForms) {
  EXPECT_EQ(c("DELETE FROM t"), "Dml Delete:shop.t");
  EXPECT_EQ(c("DELETE FROM t WHERE id = 1"), "Dml Delete:shop.t Select:shop.t");
  EXPECT_EQ(c("DELETE x FROM a x JOIN b ON 1"), "Dml Delete:shop.a Select:shop.b Select:shop.a");
  EXPECT_EQ(c("DELETE a.*, b FROM a JOIN b JOIN c"),
            "Dml Delete:shop.a Delete:shop.b Select:shop.c Select:shop.a Select:shop.b");
  EXPECT_EQ(c("DELETE FROM b USING a JOIN b"), "Dml Select:shop.a Delete:shop.b Select:shop.b");
  EXPECT_EQ(c("DELETE FROM t WHERE a = 1, secret"), "Unknown Delete:shop.t Select:shop.t !");
  EXPECT_EQ(c("DELETE zz FROM a"), "Unknown Select:shop.a !");
}

TEST(MysqlClassifier, FilesAreNeverAllowed) {
  EXPECT_EQ(c("SELECT * FROM t INTO OUTFILE '/tmp/x'"), "Forbidden Select:shop.t !");
  EXPECT_EQ(c("SELECT * INTO DUMPFILE '/tmp/x' FROM t"), "Forbidden !");
  EXPECT_EQ(c("SELECT a INTO @x FROM t"), "Dml Select:shop.t");
  EXPECT_EQ(c("LOAD DATA LOCAL INFILE 'x' INTO TABLE t"), "Forbidden !");
  EXPECT_EQ(c("LOAD DATA INFILE 'x' INTO TABLE t"), "Forbidden !");
}

TEST(MysqlClassifier, PrepareAnalysesTheTextAndRefusesVariables) {
  EXPECT_EQ(c("PREPARE s FROM 'SELECT * FROM t WHERE id = ?'"), "Prepare Select:shop.t prep=s");
  EXPECT_EQ(c("PREPARE S FROM 'DELETE FROM t'"), "Prepare Delete:shop.t prep=s");
  EXPECT_EQ(c("PREPARE s FROM 'CREATE TABLE x (a int)'"), "Ddl Alter:shop.x prep=s");
  EXPECT_EQ(c("PREPARE s FROM @sql"), "Forbidden prep=s !");
  EXPECT_EQ(c("PREPARE s FROM CONCAT('SELECT', ' 1')"), "Forbidden prep=s !");
  EXPECT_EQ(c("PREPARE s FROM 'SELECT 1; SELECT 2'"), "Unknown prep=s !");
  EXPECT_EQ(c("EXECUTE s USING @a, @b"), "Prepare prep=s");
  EXPECT_EQ(c("DEALLOCATE PREPARE s"), "Prepare prep=s");
  EXPECT_EQ(c("DROP PREPARE s"), "Prepare prep=s");
}

TEST(MysqlClassifier, HandlerLockTruncateCallDo) {
  // HANDLER is a row interface beside SELECT: the admin class (issue 12), plus select.
  EXPECT_EQ(c("HANDLER t OPEN AS h"), "Admin Select:shop.t");
  EXPECT_EQ(c("HANDLER t READ idx = (1) WHERE a > (SELECT 1 FROM s)"), "Admin Select:shop.t Select:shop.s");
  EXPECT_EQ(c("LOCK TABLES a READ, b AS x WRITE, c LOW_PRIORITY WRITE"), "Dml Lock:shop.a Update:shop.b Update:shop.c");
  EXPECT_EQ(c("UNLOCK TABLES"), "Dml");
  EXPECT_EQ(c("TRUNCATE t"), "Dml Truncate:shop.t");
  EXPECT_EQ(c("CALL db.p(1, (SELECT 1 FROM s))"), "Procedural Select:shop.s fn:db.p");
  EXPECT_EQ(c("DO SLEEP(1), RELEASE_LOCK('x')"), "Dml fn:sleep fn:release_lock");
}

TEST(MysqlClassifier, FunctionsAreReportedLowerCased) {
  EXPECT_EQ(c("SELECT LOAD_FILE('/etc/passwd'), Db.Fn(1), `sys_exec`('id'), COUNT(*) FROM t"),
            "Dml Select:shop.t fn:load_file fn:Db.fn fn:sys_exec fn:count");
  EXPECT_EQ(c("SELECT CAST(a AS DECIMAL(10,2)), CONVERT(b USING utf8mb4), LEFT(c, 1), a IN (1, 2) FROM t"),
            "Dml Select:shop.t fn:left");
  EXPECT_EQ(c("SELECT NEXT VALUE FOR s, PREVIOUS VALUE FOR s"), "Dml fn:nextval fn:lastval");
}

TEST(MysqlClassifier, RowLocks) {
  EXPECT_EQ(c("SELECT * FROM t FOR UPDATE"), "Dml Select:shop.t locks");
  EXPECT_EQ(c("SELECT * FROM t FOR SHARE OF t NOWAIT"), "Dml Select:shop.t locks");
  EXPECT_EQ(c("SELECT * FROM t LOCK IN SHARE MODE"), "Dml Select:shop.t locks");
}

TEST(MysqlClassifier, SetStatements) {
  EXPECT_EQ(c("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci, autocommit = 1"), "SessionSafe");
  EXPECT_EQ(c("SET @a = 1, @b := (SELECT x FROM t)"), "Dml Select:shop.t");
  EXPECT_EQ(c("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY"), "SessionSafe");
  EXPECT_EQ(c("SET @@session.wait_timeout = 10, @@net_read_timeout = 10"), "SessionSafe");
  EXPECT_EQ(c("SET sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"), "SessionSafe");
  EXPECT_EQ(c("SET sql_mode = ''"), "SessionSafe");
  // Lexing settings are followed since issue 12 item 2.2 (mysql_lexing_settings_test.cpp).
  for (const char* bad : {"SET NAMES gb18030", "SET CHARACTER SET ucs2", "SET CHARSET swe7",
                          "SET character_set_client = 'utf16'", "SET sql_mode = 'ORACLE'",
                          "SET GLOBAL wait_timeout = 1", "SET @@global.wait_timeout = 1", "SET PERSIST x = 1",
                          "SET ROLE r", "SET DEFAULT ROLE r TO u", "SET PASSWORD = 'x'", "SET foreign_key_checks = 0",
                          "SET some_unknown_variable = 1"}) {
    EXPECT_EQ(c(bad), "Forbidden !") << bad;
  }
}

TEST(MysqlClassifier, TransactionStatements) {
  for (const char* sql : {"START TRANSACTION", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", "BEGIN",
                          "BEGIN WORK", "COMMIT", "COMMIT AND NO CHAIN", "ROLLBACK WORK", "ROLLBACK TO SAVEPOINT a",
                          "ROLLBACK TO a", "SAVEPOINT a", "RELEASE SAVEPOINT a"}) {
    EXPECT_EQ(c(sql), "Transaction") << sql;
  }
  EXPECT_EQ(c("XA START 'x'"), "Forbidden !");
  // A compound statement is opaque code (issue 12): one part up to the end of the text.
  EXPECT_EQ(c("BEGIN NOT ATOMIC SELECT 1"), "AnonymousCode");
}

TEST(MysqlClassifier, CompoundStatementsAreOneOpaquePartToTheEndOfTheText) {
  EXPECT_EQ(c("BEGIN NOT ATOMIC DELETE FROM secret; SELECT 1; END"), "AnonymousCode");
  EXPECT_EQ(c("SELECT * FROM t; BEGIN NOT ATOMIC DELETE FROM secret; END; DROP TABLE x"),
            "Dml Select:shop.t ; AnonymousCode");
  EXPECT_EQ(c("IF 1 THEN DELETE FROM t; END IF"), "AnonymousCode");
  EXPECT_EQ(c("WHILE 1 DO SELECT 1; END WHILE"), "AnonymousCode");
  EXPECT_EQ(c("PREPARE s FROM 'BEGIN NOT ATOMIC SELECT 1; END'"), "AnonymousCode prep=s");
  EXPECT_EQ(c("SELECT IF(1, 2, 3)"), "Dml fn:if");
}

TEST(MysqlClassifier, PreparedNameEffectsAreReported) {
  const auto effect = [](std::string_view sql) {
    const auto info = classify_mysql(sql, shop());
    return info.statements.empty() ? PreparedEffect::None : info.statements.front().prepared_effect;
  };
  EXPECT_EQ(effect("PREPARE s FROM 'SELECT 1'"), PreparedEffect::Prepare);
  EXPECT_EQ(effect("EXECUTE s USING @a"), PreparedEffect::Execute);
  EXPECT_EQ(effect("DEALLOCATE PREPARE s"), PreparedEffect::Deallocate);
  EXPECT_EQ(effect("DROP PREPARE s"), PreparedEffect::Deallocate);
  EXPECT_EQ(effect("EXECUTE IMMEDIATE 'SELECT 1'"), PreparedEffect::None);  // its text is judged
}

TEST(MysqlClassifier, ShowDescribeExplain) {
  EXPECT_EQ(c("SHOW TABLES"), "Dml Select:information_schema.tables");
  EXPECT_EQ(c("SHOW FULL COLUMNS FROM t FROM other LIKE '%'"), "Dml Select:other.t");
  EXPECT_EQ(c("SHOW INDEX FROM other.t"), "Dml Select:other.t");
  EXPECT_EQ(c("SHOW CREATE TABLE t"), "Dml Select:shop.t");
  EXPECT_EQ(c("SHOW VARIABLES LIKE 'x'"), "SessionSafe");
  EXPECT_EQ(c("SHOW GLOBAL STATUS WHERE Value = (SELECT 1 FROM t)"), "SessionSafe Select:shop.t");
  EXPECT_EQ(c("SHOW GRANTS FOR CURRENT_USER()"), "Admin fn:current_user");
  EXPECT_EQ(c("SHOW SOMETHING NEW"), "Unknown !");
  EXPECT_EQ(c("DESCRIBE t"), "Dml Select:shop.t");
  EXPECT_EQ(c("DESC t col"), "Dml Select:shop.t");
  EXPECT_EQ(c("EXPLAIN t"), "Dml Select:shop.t");
  EXPECT_EQ(c("EXPLAIN SELECT * FROM t"), "Explain Select:shop.t");
  EXPECT_EQ(c("EXPLAIN ANALYZE FORMAT=TREE UPDATE t SET a = 1"), "Explain Update:shop.t");
  EXPECT_EQ(c("ANALYZE FORMAT=JSON DELETE FROM t"), "Explain Delete:shop.t");
  EXPECT_EQ(c("EXPLAIN FOR CONNECTION 3"), "Admin");
  EXPECT_EQ(c("EXPLAIN SET @a = 1"), "Unknown !");
}

TEST(MysqlClassifier, UseSwitchesTheDatabaseForLaterStatements) {
  EXPECT_EQ(c("USE other; SELECT * FROM t"), "SessionSafe db=other ; Dml Select:other.t");
  EXPECT_EQ(c("USE `Other`"), "SessionSafe db=Other");
}

TEST(MysqlClassifier, DdlAndAdministration) {
  EXPECT_EQ(c("CREATE TABLE x (id INT, FOREIGN KEY (id) REFERENCES y (id)) ENGINE = InnoDB"),
            "Ddl Alter:shop.x References:shop.y");
  EXPECT_EQ(c("CREATE TABLE x AS SELECT * FROM y"), "Ddl Alter:shop.x Select:shop.y Insert:shop.x");
  EXPECT_EQ(c("CREATE TABLE x LIKE y"), "Ddl Alter:shop.x Select:shop.y");
  EXPECT_EQ(c("CREATE TABLE x (a INT) AS (SELECT a FROM y)"), "Ddl Alter:shop.x Select:shop.y Insert:shop.x");
  EXPECT_EQ(c("CREATE TABLE x (a INT) IGNORE SELECT a FROM y"), "Ddl Alter:shop.x Select:shop.y Insert:shop.x");
  EXPECT_EQ(c("CREATE TABLE x (a INT DEFAULT (LOAD_FILE('/etc/passwd')), b INT AS (ABS(a)), CHECK (a > 0), "
              "KEY k ((UPPER(a))))"),
            "Ddl Alter:shop.x fn:load_file fn:abs fn:upper");
  EXPECT_EQ(c("ALTER TABLE x ADD COLUMN c INT DEFAULT (SLEEP(1))"), "Ddl Alter:shop.x fn:sleep");
  EXPECT_EQ(c("CREATE TABLE x (a INT) ENGINE=FEDERATED"), "Forbidden Alter:shop.x !");
  EXPECT_EQ(c("ALTER TABLE x RENAME TO other.y"), "Ddl Alter:shop.x Alter:other.y");
  EXPECT_EQ(c("ALTER TABLE x RENAME COLUMN a TO b"), "Ddl Alter:shop.x");
  EXPECT_EQ(c("DROP TABLE IF EXISTS x, other.y"), "Ddl Alter:shop.x Alter:other.y");
  EXPECT_EQ(c("RENAME TABLE a TO b, c TO d"), "Ddl Alter:shop.a Alter:shop.b Alter:shop.c Alter:shop.d");
  EXPECT_EQ(c("CREATE OR REPLACE VIEW v AS SELECT * FROM t WITH CHECK OPTION"), "Ddl Alter:shop.v Select:shop.t");
  EXPECT_EQ(c("CREATE UNIQUE INDEX i ON t (a)"), "Ddl Alter:shop.t");
  EXPECT_EQ(c("OPTIMIZE TABLE a, b"), "Admin Maintain:shop.a Maintain:shop.b");
  EXPECT_EQ(c("FLUSH TABLES a"), "Admin Maintain:shop.a");
  EXPECT_EQ(c("KILL QUERY 12"), "Admin");
  for (const char* sql : {"KILL 12", "GRANT ALL ON *.* TO u", "REVOKE ALL ON *.* FROM u", "CREATE USER u",
                          "ALTER USER u IDENTIFIED BY 'x'", "DROP USER u", "SHUTDOWN", "INSTALL PLUGIN p SONAME 'x'",
                          "INSTALL SONAME 'x'", "CHANGE MASTER TO MASTER_HOST='h'", "RESET MASTER",
                          "PURGE BINARY LOGS TO 'x'", "CREATE DATABASE d", "DROP SCHEMA d",
                          "CREATE PROCEDURE p() SELECT 1", "CREATE DEFINER=root VIEW v AS SELECT 1"}) {
    EXPECT_EQ(c(sql), "Forbidden !") << sql;
  }
}

TEST(MysqlClassifier, MultiStatementsAndDelimiter) {
  EXPECT_EQ(c("SELECT 1; SELECT * FROM t;"), "Dml ; Dml Select:shop.t");
  EXPECT_EQ(c("DELIMITER //"), "PARSE ERROR");  // the server answers 1064 too (issue 12)
  EXPECT_EQ(c("SELECT 1 /*! ; DROP TABLE t */"), "Unknown !");
  EXPECT_EQ(c(""), "");
}

// Issue 12: text that starts with no statement of either server is a parse error for the
// whole string (answered ERROR 1064 as the server does), wherever it is in the string;
// an unsupported statement of a known keyword, a label and '(' are not.
TEST(MysqlClassifier, TextStartingWithNoStatementKeywordIsAParseErrorOfTheWholeString) {
  for (const char* sql : {"xyzzy", "xyzzy;", "SELECT 0; xyzzy;", "xyzzy; SELECT 0", "SELEC * FROM t", "42",
                          "'x'", "@a := 1", "?", "`t`", "/*!50000 xyzzy */", "SELECT 1; ; xyzzy"}) {
    const StatementInfo info = classify_mysql(sql, shop());
    EXPECT_FALSE(info.parse_ok) << sql;
    EXPECT_TRUE(info.statements.empty()) << sql;
    EXPECT_NE(info.parse_error.find("syntax error"), std::string::npos) << sql << ": " << info.parse_error;
    EXPECT_EQ(info.fingerprint, 0u) << sql;
  }
  const StatementInfo second = classify_mysql("SELECT 0; xyzzy;", shop());
  EXPECT_NE(second.parse_error.find("statement 2"), std::string::npos) << second.parse_error;
  EXPECT_EQ(second.parse_error.find("xyzzy"), std::string::npos) << "the text itself is not echoed: "
                                                                   << second.parse_error;
  EXPECT_EQ(second.parse_error_position, 11);
  EXPECT_EQ(c("SeLeCt 1"), "Dml");
  EXPECT_EQ(c("(SELECT 1)"), "Dml");
  EXPECT_EQ(c("HELP 'contents'"), "Unknown !");
  EXPECT_EQ(c("SIGNAL SQLSTATE '45000'"), "Unknown !");
  EXPECT_EQ(c("lbl: LOOP SELECT 1; END LOOP lbl"), "Unknown ! ; Unknown !");
  EXPECT_EQ(c("PREPARE s FROM 'xyzzy'"), "Unknown prep=s !");  // the inner text: a refused PREPARE
}

TEST(MysqlClassifier, ExecutableCommentsAreAnalysed) {
  EXPECT_EQ(c("SELECT 1 /*!50000 FROM secret */"), "Dml Select:shop.secret");
  auto o = shop();
  o.server_version = 80036;
  EXPECT_EQ(c("SELECT 1 /*!90000 FROM secret */", o), "Dml Select:shop.secret");  // issue 12: code whatever the version
  EXPECT_EQ(c("SELECT /*!99999 'x */ 1; DROP TABLE t; -- ' */", o), "Unknown !");
}

TEST(MysqlClassifier, SyntaxErrorsAndLimits) {
  EXPECT_EQ(c("SELECT 'unterminated"), "PARSE ERROR");
  auto o = shop();
  o.max_length = 10;
  EXPECT_EQ(c("SELECT * FROM t", o), "Unknown !");
  // Deep nesting is refused, not a crash (a limits refusal, SQLSTATE 54001: see
  // mysql_statement_limits_test.cpp).
  const std::string deep = "SELECT " + std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_EQ(c(deep), "PARSE ERROR");
  const std::string deep_sub = [] {
    std::string s = "SELECT 1";
    for (int i = 0; i < 5000; ++i) s = "SELECT * FROM (" + s + ") d";
    return s;
  }();
  EXPECT_EQ(c(deep_sub), "PARSE ERROR");
}

TEST(MysqlClassifier, FingerprintIgnoresLiteralsButNotNamesOrValuesThatMatter) {
  const auto fp = [](std::string_view sql, const MysqlClassifierOptions& o = shop()) { return fingerprint_mysql(sql, o); };
  EXPECT_EQ(fp("SELECT * FROM t WHERE a = 1"), fp("SELECT  * FROM t WHERE a = 2 /* x */"));
  EXPECT_EQ(fp("SELECT * FROM t WHERE a = 'x'"), fp("SELECT * FROM t WHERE a = 'y'"));
  EXPECT_NE(fp("SELECT * FROM t WHERE a = 1"), fp("SELECT * FROM u WHERE a = 1"));
  EXPECT_NE(fp("SELECT * FROM t"), fp("SELECT * FROM T"));
  EXPECT_NE(fp("SET NAMES 'utf8mb4'"), fp("SET NAMES 'gbk'"));
  EXPECT_NE(fp("SET sql_mode = ''"), fp("SET sql_mode = 'ANSI'"));
  EXPECT_NE(fp("PREPARE s FROM 'SELECT * FROM t'"), fp("PREPARE s FROM 'SELECT * FROM secret'"));
  EXPECT_NE(fp("PREPARE s FROM 'SELECT 1'"), fp("PREPARE t FROM 'SELECT 1'"));
  MysqlClassifierOptions other = shop();
  other.current_database = "other";
  EXPECT_NE(fp("SELECT * FROM t"), fp("SELECT * FROM t", other));
  other = shop();
  other.no_backslash_escapes = true;
  EXPECT_NE(fp("SELECT 1"), fp("SELECT 1", other));
  EXPECT_EQ(fp("SELECT 'x"), 0u);
  EXPECT_NE(fp("SELECT 1 /*!50000 FROM secret */"), fp("SELECT 1"));
  EXPECT_NE(fp("EXECUTE IMMEDIATE 'SELECT 1'"), fp("EXECUTE IMMEDIATE 'SELECT * FROM secret'"));
  EXPECT_EQ(fp("EXECUTE s USING 1"), fp("EXECUTE s USING 2"));
  EXPECT_NE(fp("SELECT 1; SELECT 2"), fp("SELECT 1 /*! ; SELECT 2 */"));
  for (const char* sql : {"SELECT * FROM t WHERE a = 1", "SET NAMES utf8mb4", "PREPARE s FROM 'SELECT 1'", "SELECT 'x"}) {
    EXPECT_EQ(fp(sql), classify_mysql(sql, shop()).fingerprint) << sql;
  }
}

TEST(MysqlClassifier, ServerVersionFromTheHandshake) {
  const auto v = [](std::string_view s) {
    const auto r = parse_mysql_server_version(s);
    return std::to_string(r.mariadb) + "/" + std::to_string(r.version);
  };
  EXPECT_EQ(v("8.0.36"), "0/80036");
  EXPECT_EQ(v("8.0.36-log"), "0/80036");
  EXPECT_EQ(v("5.7.44-0ubuntu0.18.04.1"), "0/50744");
  EXPECT_EQ(v("5.5.5-10.6.11-MariaDB-0+deb12u1"), "1/100611");
  EXPECT_EQ(v("10.11.6-MariaDB"), "1/101106");
  EXPECT_EQ(v("garbage"), "0/0");
  EXPECT_EQ(v("8.0"), "0/0");
}

TEST(MysqlClassifier, NormalizeReplacesLiterals) {
  EXPECT_EQ(normalize_mysql("SELECT * FROM `t` WHERE a = 'x' AND b IN (1, 0x2) -- c", shop()),
            "SELECT * FROM `t` WHERE a = ? AND b IN (?, ?)");
  EXPECT_EQ(normalize_mysql("SELECT 'x", shop()), "");
}

}  // namespace
}  // namespace segproxy::authz::sql
