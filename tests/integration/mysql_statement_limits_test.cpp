// Issue 12, item 4.1 on the MySQL path, with Connector/C++ and pymysql through a real
// segproxy: an over-long statement gets ERR 1162 (42000) without being lexed, deep
// nesting ERR 1436 (HY000); neither closes the session, the proxy stays up, another
// session is unaffected, and the proxy's peak RSS stays bounded.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::size_t peak_rss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

class MysqlStatementLimits : public MysqlProxyTest {
 protected:
  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    MyError err;
    conn_ = Connect(ClientCert::Spiffe, &err);
    ASSERT_TRUE(conn_) << err.describe();
    bystander_ = Connect(ClientCert::Spiffe, &err);
    ASSERT_TRUE(bystander_) << err.describe();
  }

  void ExpectRefusedAndProxyUsable(const std::string& sql, int code, const char* sqlstate, const std::string& needle) {
    const MyResult r = mysql_exec(conn_.get(), sql);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.code, code) << r.error.describe().substr(0, 300);
    EXPECT_EQ(r.error.sqlstate, sqlstate);
    EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message.substr(0, 300);
    ASSERT_TRUE(proxy_.running()) << "the proxy process died";
    const MyResult again = mysql_exec(conn_.get(), "SELECT 1");
    EXPECT_TRUE(again.ok) << again.error.describe();
    EXPECT_EQ(again.value(), "1");
    const MyResult other = mysql_exec(bystander_.get(), "SELECT 2");
    EXPECT_TRUE(other.ok) << other.error.describe();
  }

  // A proxy with other limits (the tests of the byte bound use 1 MiB; the default is 64 MiB).
  void RestartWith(const std::string& limits_extra) {
    conn_.reset();
    bystander_.reset();
    proxy_.stop();
    MysqlProxyOptions opts;
    opts.limits_extra = limits_extra;
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
    MyError err;
    conn_ = Connect(ClientCert::Spiffe, &err);
    ASSERT_TRUE(conn_) << err.describe();
    bystander_ = Connect(ClientCert::Spiffe, &err);
    ASSERT_TRUE(bystander_) << err.describe();
  }

  std::unique_ptr<sql::Connection> conn_;
  std::unique_ptr<sql::Connection> bystander_;
};

TEST_F(MysqlStatementLimits, OverlongStatementGetsErr1162AndTheSessionContinues) {
  ASSERT_NO_FATAL_FAILURE(RestartWith(", max_statement_length: 1MiB"));
  const std::string sql = "SELECT '" + std::string(1024 * 1024, 'x') + "'";
  ExpectRefusedAndProxyUsable(sql, 1162, "42000",
                              "limits.max_statement_length (" + std::to_string(sql.size()) + " bytes, at most 1048576)");
}

TEST_F(MysqlStatementLimits, DeepNestingGetsErr1436AndTheSessionContinues) {
  ExpectRefusedAndProxyUsable("SELECT " + std::string(5000, '(') + "1" + std::string(5000, ')'), 1436, "HY000",
                              "limits.max_parse_depth");
  ExpectRefusedAndProxyUsable("SELECT " + std::string(200, '(') + "1" + std::string(200, ')'), 1436, "HY000",
                              "nested too deeply");
}

TEST_F(MysqlStatementLimits, NineMegabytesOfStatementsAreRefusedWithBoundedMemory) {
  ASSERT_NO_FATAL_FAILURE(RestartWith(", max_statement_length: 1MiB"));
  const pid_t pid = proxy_.pid();
  const std::size_t before = peak_rss(pid);
  ASSERT_GT(before, 0u);
  // One COM_QUERY: refused before lexing (the session need not enable multi-statements).
  ExpectRefusedAndProxyUsable(repeat("SELECT 1;", 1000000), 1162, "42000", "limits.max_statement_length");
  const std::size_t after = peak_rss(pid);
  EXPECT_LT(after - before, 200u * 1024 * 1024) << "VmHWM grew from " << before << " to " << after;
}

// Issue 12 leftovers, item 1: the work is bounded by tokens, not bytes. An 8 MiB literal
// (as pymysql / mysqlclient interpolate a blob) passes the default limits and lands in a
// table; a short text of many tiny tokens gets ERR 1436 and the session continues.
// (The segment's backend user may write shop.orders, whose columns are short: the row
// records the literal's length as the server measured it.)
TEST_F(MysqlStatementLimits, EightMegabyteLiteralInsertPassesTheDefaultLimits) {
  const std::size_t kBig = 8u * 1024u * 1024u;
  const std::string marker = "big-literal-" + std::to_string(::getpid()) + "-" +
                             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const MyResult ins = mysql_exec(conn_.get(), "INSERT INTO orders (customer, amount) VALUES ('" + marker +
                                                   "', LENGTH('" + std::string(kBig, 'b') + "'))");
  ASSERT_TRUE(ins.ok) << ins.error.describe().substr(0, 300);
  const MyResult len = mysql_exec(conn_.get(), "SELECT CAST(amount AS UNSIGNED) FROM orders WHERE customer = '" + marker + "'");
  ASSERT_TRUE(len.ok) << len.error.describe();
  EXPECT_EQ(len.value(), std::to_string(kBig));
}

TEST_F(MysqlStatementLimits, ManyTinyTokensBeyondMaxStatementTokensGetErr1436AndTheSessionContinues) {
  ExpectRefusedAndProxyUsable("SELECT 1" + repeat(",1", 150000), 1436, "HY000",
                              "limits.max_statement_tokens (more than 250000 tokens)");
}

TEST_F(MysqlStatementLimits, PymysqlSeesTheLimitErrorAndKeepsItsConnection) {
  const ProcResult py = run_pymysql(Target(ClientCert::Spiffe),
                                    "try:\n"
                                    "    cur.execute('SELECT ' + '(' * 3000 + '1' + ')' * 3000)\n"
                                    "    print('ALLOWED')\n"
                                    "except pymysql.err.MySQLError as e:\n"
                                    "    print('refused', e.args[0])\n"
                                    "cur.execute(\"SELECT 'still here'\")\n"
                                    "print(cur.fetchone()[0])\n");
  EXPECT_EQ(py.exit_code, 0) << py.describe();
  EXPECT_NE(py.out.find("refused 1436"), std::string::npos) << py.describe();
  EXPECT_NE(py.out.find("still here"), std::string::npos) << py.describe();
}

}  // namespace
}  // namespace segproxy::it
