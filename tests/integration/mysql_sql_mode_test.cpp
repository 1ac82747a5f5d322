// Issue 12 item 2.2 (MySQL half) through a real segproxy in front of MariaDB: sql_mode
// and character_set_client are followed, not refused. The session reads both back from
// the backend after every statement that may change them, so the analyzer judges each
// statement as the server will lex it: "double-quoted" names under ANSI / ANSI_QUOTES,
// the backslash under NO_BACKSLASH_ESCAPES, a prepared SET executed later. pymysql (its
// sql_mode= and init_command= connect arguments), Connector/C++ and the mariadb CLI.
#include <gtest/gtest.h>

#include <string>

#include "support/mysql_fixture.hpp"

#include <cppconn/prepared_statement.h>

namespace segproxy::it {
namespace {

const char* kPolicy =
    "    rules:\n"
    "      - {id: orders-rw, tables: [shop.orders, shop.order_items], allow: [select, insert, update]}\n"
    "      - {id: no-pii, tables: [shop.customers_pii], deny: [all]}\n"
    "    statements: [transaction, session_safe, prepare, anonymous_code]\n";

class MysqlSqlMode : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }
  void Start() {
    MysqlProxyOptions opts;
    opts.billing_policy = kPolicy;
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }
  std::unique_ptr<sql::Connection> Open() {
    MyError err;
    auto conn = Connect(ClientCert::Spiffe, &err);
    EXPECT_TRUE(conn) << err.describe();
    return conn;
  }
  static void ExpectDenied(sql::Connection* conn, const std::string& sql, int code = 1142) {
    const MyResult r = mysql_exec(conn, sql);
    EXPECT_FALSE(r.ok) << sql << " was allowed";
    EXPECT_EQ(r.error.code, code) << sql << ": " << r.error.describe();
  }
  static MyResult Allowed(sql::Connection* conn, const std::string& sql) {
    MyResult r = mysql_exec(conn, sql);
    EXPECT_TRUE(r.ok) << sql << ": " << r.error.describe();
    return r;
  }
};

// The pymysql body shared by the ANSI tests: double-quoted names are names, || concatenates,
// the denied table is denied however it is quoted, the session goes on.
const char* kAnsiChecks =
    "cur.execute('SELECT @@sql_mode')\n"
    "print('mode', cur.fetchone()[0])\n"
    "cur.execute('SELECT \"id\" FROM \"orders\" ORDER BY \"id\" LIMIT 1')\n"
    "print('id', cur.fetchone()[0])\n"
    "cur.execute(\"SELECT 'a' || 'b'\")\n"
    "print('concat', cur.fetchone()[0])\n"
    "for q in ('SELECT * FROM \"customers_pii\"', 'SELECT \"ssn\" FROM \"shop\".\"customers_pii\"',\n"
    "          'SELECT 1 FROM orders WHERE \"customer\" = \\'x\\' UNION SELECT 1 FROM \"customers_pii\"'):\n"
    "    try:\n"
    "        cur.execute(q)\n"
    "        print('ALLOWED', q)\n"
    "    except pymysql.err.MySQLError as e:\n"
    "        print('refused', e.args[0])\n"
    "        conn.rollback()  # pymysql runs without autocommit: the refusal rolled the transaction back\n"
    "cur.execute('SELECT 1')\n"
    "print('alive', cur.fetchone()[0])\n";

void ExpectAnsiJudged(const ProcResult& py) {
  EXPECT_EQ(py.exit_code, 0) << py.describe();
  EXPECT_NE(py.out.find("ANSI_QUOTES"), std::string::npos) << py.describe();
  EXPECT_EQ(py.out.find("id id"), std::string::npos) << "a double-quoted name read as a string: " << py.describe();
  EXPECT_NE(py.out.find("id 1"), std::string::npos) << py.describe();
  EXPECT_EQ(py.out.find("ALLOWED"), std::string::npos) << py.describe();
  std::size_t refused = 0;
  for (std::size_t p = py.out.find("refused 1142"); p != std::string::npos; p = py.out.find("refused 1142", p + 1)) {
    ++refused;
  }
  EXPECT_EQ(refused, 3u) << py.describe();
  EXPECT_NE(py.out.find("alive 1"), std::string::npos) << py.describe();
}

TEST_F(MysqlSqlMode, PymysqlInAnsiModeHasDoubleQuotedNamesJudgedAsTables) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string body = std::string("cur.execute(\"SET sql_mode='ANSI'\")\n") + kAnsiChecks;
  const ProcResult py = run_pymysql(Target(ClientCert::Spiffe), body);
  ExpectAnsiJudged(py);
  EXPECT_NE(py.out.find("concat ab"), std::string::npos) << "PIPES_AS_CONCAT: " << py.describe();
}

TEST_F(MysqlSqlMode, PymysqlSqlModeConnectArgumentIsFollowed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string body = std::string("conn = pymysql.connect(**_p, sql_mode='ANSI')\ncur = conn.cursor()\n") +
                           kAnsiChecks;
  const ProcResult py = run_pymysql(Target(ClientCert::Spiffe), body);
  ExpectAnsiJudged(py);
}

TEST_F(MysqlSqlMode, PymysqlInitCommandSqlModeIsFollowed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string body =
      std::string("conn = pymysql.connect(**_p, init_command=\"SET sql_mode = CONCAT(@@sql_mode, ',ANSI')\")\n"
                  "cur = conn.cursor()\n") +
      kAnsiChecks;
  const ProcResult py = run_pymysql(Target(ClientCert::Spiffe), body);
  ExpectAnsiJudged(py);
}

// MariaDB Connector/J 2.7's login statement (and its usual companions) passes; statements
// after it are judged and run.
TEST_F(MysqlSqlMode, ConcatSqlModeExpressionIsAllowedAndFollowed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  Allowed(conn.get(), "set autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')");
  Allowed(conn.get(), "SET sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')");
  const MyResult mode = Allowed(conn.get(), "SELECT @@sql_mode");
  EXPECT_NE(mode.value().find("STRICT_TRANS_TABLES"), std::string::npos) << mode.value();
  EXPECT_EQ(Allowed(conn.get(), "SELECT COUNT(*) > 0 FROM orders").value(), "1");
  ExpectDenied(conn.get(), "SELECT * FROM customers_pii");
}

TEST_F(MysqlSqlMode, AnsiQuotesMakesADoubleQuotedDeniedTableDenied) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  // Before: a double-quoted word is a string; after: a name.
  EXPECT_EQ(Allowed(conn.get(), "SELECT \"x\" FROM orders LIMIT 1").value(), "x");
  Allowed(conn.get(), "SET sql_mode = 'ANSI_QUOTES'");
  ExpectDenied(conn.get(), "SELECT * FROM \"customers_pii\"");
  const MyResult id = Allowed(conn.get(), "SELECT \"id\" FROM orders ORDER BY id LIMIT 1");
  EXPECT_NE(id.value(), "id") << "the server read \"id\" as a name";
  // And back: the proxy follows the reset too.
  Allowed(conn.get(), "SET sql_mode = DEFAULT");
  EXPECT_EQ(Allowed(conn.get(), "SELECT \"customers_pii\" FROM orders LIMIT 1").value(), "customers_pii");
}

// The classic bypass: under the default reading 'a\' ... -- ' is one string, under
// NO_BACKSLASH_ESCAPES the string ends at the backslash and customers_pii is read.
TEST_F(MysqlSqlMode, NoBackslashEscapesIsFollowedSoAStringCannotHideADeniedTable) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  const std::string text = "SELECT 'a\\' FROM orders UNION SELECT ssn FROM customers_pii -- '";
  Allowed(conn.get(), text);  // one string literal under the default mode
  Allowed(conn.get(), "SET sql_mode = 'NO_BACKSLASH_ESCAPES'");
  ExpectDenied(conn.get(), text);
  EXPECT_EQ(Allowed(conn.get(), "SELECT 'x\\'").value(), "x\\");
}

TEST_F(MysqlSqlMode, PreparedSetSqlModeIsObservedWhenExecuted) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  // SQL-level PREPARE / EXECUTE.
  Allowed(conn.get(), "PREPARE s FROM 'SET sql_mode = ''ANSI_QUOTES'''");
  ExpectDenied(conn.get(), "SELECT \"x\" FROM customers_pii");  // nothing changed yet
  Allowed(conn.get(), "EXECUTE s");
  ExpectDenied(conn.get(), "SELECT 1 FROM \"customers_pii\"");
  Allowed(conn.get(), "SET sql_mode = DEFAULT");
  // Binary protocol: COM_STMT_PREPARE "SET sql_mode = ?", COM_STMT_EXECUTE.
  std::unique_ptr<sql::PreparedStatement> ps(conn->prepareStatement("SET sql_mode = ?"));
  ps->setString(1, "ANSI_QUOTES");
  ps->execute();
  ExpectDenied(conn.get(), "SELECT 1 FROM \"customers_pii\"");
  EXPECT_NE(Allowed(conn.get(), "SELECT \"id\" FROM orders ORDER BY id LIMIT 1").value(), "id");
}

TEST_F(MysqlSqlMode, LexingChangeFollowedByMoreStatementsIsRefusedWithErr1235) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult py = run_pymysql(
      Target(ClientCert::Spiffe),
      "from pymysql.constants import CLIENT\n"
      "conn = pymysql.connect(**_p, client_flag=CLIENT.MULTI_STATEMENTS)\n"
      "cur = conn.cursor()\n"
      "try:\n"
      "    cur.execute('SET sql_mode=\\'ANSI\\'; SELECT \"a\"')\n"
      "    print('ALLOWED')\n"
      "except pymysql.err.MySQLError as e:\n"
      "    print('refused', e.args[0])\n"
      "cur.execute('SELECT @@sql_mode')\n"
      "print('mode', cur.fetchone()[0])\n"
      "cur.execute('SELECT \"a\"; SET sql_mode = \\'ANSI\\'')\n"
      "print('first', cur.fetchone()[0])\n"
      "while cur.nextset():\n"
      "    pass\n"
      "cur.execute('SELECT \"id\" FROM orders ORDER BY id LIMIT 1')\n"
      "print('id', cur.fetchone()[0])\n");
  EXPECT_EQ(py.exit_code, 0) << py.describe();
  EXPECT_NE(py.out.find("refused 1235"), std::string::npos) << py.describe();
  EXPECT_EQ(py.out.find("ALLOWED"), std::string::npos) << py.describe();
  EXPECT_EQ(py.out.find("mode REAL_AS_FLOAT"), std::string::npos) << "the refused SET ran: " << py.describe();
  EXPECT_NE(py.out.find("first a"), std::string::npos) << py.describe();
  EXPECT_NE(py.out.find("id 1"), std::string::npos) << "the trailing SET was not followed: " << py.describe();
}

TEST_F(MysqlSqlMode, UnfollowableSqlModeRefusesEveryStatementUntilAPlainSetSqlMode) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  ExpectDenied(conn.get(), "SET sql_mode = 'ORACLE'", 1227);
  Allowed(conn.get(), "SET sql_mode = CONCAT('ORA', 'CLE')");  // an expression: the server's answer decides
  const MyResult r = mysql_exec(conn.get(), "SELECT 1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.message.find("ORACLE"), std::string::npos) << r.error.describe();
  ExpectDenied(conn.get(), "SET sql_mode = concat('', '')", 1227);  // an expression cannot be lexed safely
  Allowed(conn.get(), "SET sql_mode = DEFAULT");                    // this can: the way back
  EXPECT_EQ(Allowed(conn.get(), "SELECT \"x\" FROM orders LIMIT 1").value(), "x");
  // Other sessions are unaffected; this one reconnects.
  auto other = Open();
  ASSERT_TRUE(other);
  EXPECT_EQ(Allowed(other.get(), "SELECT 1").value(), "1");
}

// The classic GBK bypass: 0x81 0x5C is one character under gbk, so the string ends at the
// next quote and customers_pii is read; under latin1 the same bytes are one string.
TEST_F(MysqlSqlMode, GbkTrailBackslashIsJudgedAsTheServerReadsIt) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  const std::string text = "SELECT '\x81\\' FROM orders UNION SELECT ssn FROM customers_pii -- '";
  Allowed(conn.get(), "SET NAMES latin1");
  Allowed(conn.get(), text);  // one string literal under latin1
  Allowed(conn.get(), "SET NAMES gbk");
  ExpectDenied(conn.get(), text);
  EXPECT_EQ(Allowed(conn.get(), "SELECT HEX('\x81\\') FROM orders LIMIT 1").value(), "815C");
  EXPECT_EQ(Allowed(conn.get(), "SELECT @@character_set_client").value(), "gbk");
}

// MariaDB's SET STATEMENT ... FOR: judged as its statement; lexing settings refused there.
TEST_F(MysqlSqlMode, SetStatementForIsJudgedAsItsStatement) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  EXPECT_EQ(Allowed(conn.get(), "SET STATEMENT max_statement_time = 10 FOR SELECT COUNT(*) > 0 FROM orders").value(),
            "1");
  ExpectDenied(conn.get(), "SET STATEMENT max_statement_time = 10 FOR SELECT * FROM customers_pii");
  ExpectDenied(conn.get(), "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR PREPARE s FROM 'SELECT 1'", 1227);
}

// MariaDB keeps a SET NAMES run inside an anonymous compound statement (stored routines
// restore the caller's): the proxy reads the settings back after one too.
TEST_F(MysqlSqlMode, SetNamesInsideAnonymousBlockIsObserved) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto conn = Open();
  ASSERT_TRUE(conn);
  const std::string text = "SELECT '\x81\\' FROM orders UNION SELECT ssn FROM customers_pii -- '";
  Allowed(conn.get(), "SET NAMES latin1");
  Allowed(conn.get(), "BEGIN NOT ATOMIC SET NAMES gbk; END");
  EXPECT_EQ(Allowed(conn.get(), "SELECT @@character_set_client").value(), "gbk");
  ExpectDenied(conn.get(), text);
}

// A client whose handshake asks for gbk (pymysql charset='gbk'): followed from the login.
TEST_F(MysqlSqlMode, PymysqlGbkConnectionIsFollowedFromTheHandshake) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult py = run_pymysql(
      Target(ClientCert::Spiffe),
      "conn = pymysql.connect(**_p, charset='gbk', autocommit=True)\n"
      "cur = conn.cursor()\n"
      "ch = b'\\x81\\x5c'.decode('gbk')\n"
      "cur.execute(\"SELECT HEX('\" + ch + \"') FROM orders LIMIT 1\")\n"
      "print('hex', cur.fetchone()[0])\n"
      "try:\n"
      "    cur.execute(\"SELECT '\" + ch + \"' FROM orders UNION SELECT ssn FROM customers_pii -- '\")\n"
      "    print('ALLOWED')\n"
      "except pymysql.err.MySQLError as e:\n"
      "    print('refused', e.args[0])\n");
  EXPECT_EQ(py.exit_code, 0) << py.describe();
  EXPECT_NE(py.out.find("hex 815C"), std::string::npos) << py.describe();
  EXPECT_NE(py.out.find("refused 1142"), std::string::npos) << py.describe();
}

TEST_F(MysqlSqlMode, MariadbCliAnsiQuotesAndSetNamesLatin1AreFollowed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const ProcResult cli = run_mariadb_cli(Target(ClientCert::Spiffe), {"--batch", "--skip-column-names"},
                                         "SET NAMES latin1; SELECT COUNT(*) > 0 FROM orders; "
                                         "SET sql_mode = 'ANSI_QUOTES'; SELECT \"customer\" FROM \"customers_pii\";");
  EXPECT_NE(cli.err.find("ERROR 1142"), std::string::npos) << cli.describe();
  EXPECT_NE(cli.out.find("1"), std::string::npos) << "SELECT COUNT(*) after SET NAMES latin1: " << cli.describe();
  EXPECT_EQ(cli.err.find("ERROR 1227"), std::string::npos) << "SET NAMES latin1 / sql_mode refused: " << cli.describe();
}

}  // namespace
}  // namespace segproxy::it
