// The rest of the protocol surface a real application uses, through the proxy:
// extended query protocol, pipelining, LISTEN/NOTIFY, notices, large results, errors
// and transaction status.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <poll.h>

#include <cstring>

#include <thread>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

using ExtendedProtocol = ProxyTest;
using Clock = std::chrono::steady_clock;

TEST_F(ExtendedProtocol, PreparedStatementWithParameters) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  {
    PgResultPtr res(PQprepare(conn.get(), "it_add", "SELECT $1::int + $2::int, $3::text || '|' || length($3::text)", 3,
                              nullptr));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
  }
  for (int i = 0; i < 3; ++i) {
    const std::string a = std::to_string(40 + i);
    const char* values[3] = {a.c_str(), "2", "h\xc3\xa9llo"};
    PgResultPtr res(PQexecPrepared(conn.get(), "it_add", 3, values, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(res.get());
    EXPECT_EQ(std::string(PQgetvalue(res.get(), 0, 0)), std::to_string(42 + i));
    EXPECT_EQ(std::string(PQgetvalue(res.get(), 0, 1)), "h\xc3\xa9llo|5");
  }
  {
    PgResultPtr res(PQdescribePrepared(conn.get(), "it_add"));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
    EXPECT_EQ(PQnparams(res.get()), 3);
    EXPECT_EQ(PQnfields(res.get()), 2);
  }
  // Binary parameter and binary result.
  {
    const std::uint32_t net = htonl(1234567);
    const char* values[1] = {reinterpret_cast<const char*>(&net)};
    const int lengths[1] = {4};
    const int formats[1] = {1};
    const Oid types[1] = {23};  // int4
    PgResultPtr res(PQexecParams(conn.get(), "SELECT $1 + 1", 1, types, values, lengths, formats, 1));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(res.get());
    ASSERT_EQ(PQgetlength(res.get(), 0, 0), 4);
    std::uint32_t out = 0;
    std::memcpy(&out, PQgetvalue(res.get(), 0, 0), 4);
    EXPECT_EQ(ntohl(out), 1234568u);
  }
  // An error in the extended protocol leaves the session usable.
  {
    const char* values[1] = {"not a number"};
    PgResultPtr res(PQexecParams(conn.get(), "SELECT $1::int", 1, nullptr, values, nullptr, nullptr, 0));
    EXPECT_EQ(sqlstate_of(res.get()), "22P02") << PQresultErrorMessage(res.get());
  }
  const QueryOutcome q = pg_exec(conn.get(), "select 7");
  EXPECT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "7");
}

TEST_F(ExtendedProtocol, PipelineWithErrorSkipsToSync) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  ASSERT_EQ(PQenterPipelineMode(conn.get()), 1);
  ASSERT_EQ(PQsendQueryParams(conn.get(), "SELECT 1", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(conn.get(), "SELECT 1/0", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(conn.get(), "SELECT 3", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(conn.get()), 1);
  ASSERT_EQ(PQsendQueryParams(conn.get(), "SELECT 4", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(conn.get()), 1);

  std::vector<std::string> seen;
  int syncs = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (syncs < 2 && Clock::now() < deadline) {
    bool timed_out = false;
    PgResultPtr res = pg_wait_result(conn.get(), std::chrono::seconds(10), &timed_out);
    ASSERT_FALSE(timed_out) << "pipeline stalled after " << seen.size() << " results";
    if (!res) continue;  // end of one query's results
    switch (PQresultStatus(res.get())) {
      case PGRES_TUPLES_OK: seen.push_back(PQgetvalue(res.get(), 0, 0)); break;
      case PGRES_FATAL_ERROR: seen.push_back("E" + sqlstate_of(res.get())); break;
      case PGRES_PIPELINE_ABORTED: seen.push_back("aborted"); break;
      case PGRES_PIPELINE_SYNC: seen.push_back("sync"); ++syncs; break;
      default: seen.push_back(PQresStatus(PQresultStatus(res.get())));
    }
  }
  const std::vector<std::string> expected{"1", "E22012", "aborted", "sync", "4", "sync"};
  EXPECT_EQ(seen, expected);
  ASSERT_EQ(PQexitPipelineMode(conn.get()), 1) << PQerrorMessage(conn.get());
  EXPECT_EQ(pg_exec(conn.get(), "select 5").value, "5");
}

TEST_F(ExtendedProtocol, ListenNotifyBetweenTwoProxySessions) {
  PgConnPtr listener = Connect();
  PgConnPtr sender = Connect();
  ASSERT_PG_CONNECTED(listener);
  ASSERT_PG_CONNECTED(sender);
  const std::string channel = unique_name("it_chan");
  ASSERT_TRUE(pg_exec(listener.get(), "LISTEN " + channel).ok);
  QueryOutcome q = pg_exec(sender.get(), "NOTIFY " + channel + ", 'payload-\xc3\xa9'");
  ASSERT_TRUE(q.ok) << q.error;

  PGnotify* n = nullptr;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (n == nullptr && Clock::now() < deadline) {
    pollfd pfd{PQsocket(listener.get()), POLLIN, 0};
    ::poll(&pfd, 1, 200);
    ASSERT_EQ(PQconsumeInput(listener.get()), 1) << PQerrorMessage(listener.get());
    n = PQnotifies(listener.get());
  }
  ASSERT_NE(n, nullptr) << "no notification within 5 s";
  EXPECT_EQ(std::string(n->relname), channel);
  EXPECT_EQ(std::string(n->extra), "payload-\xc3\xa9");
  EXPECT_EQ(n->be_pid, PQbackendPID(sender.get()));
  PQfreemem(n);
}

void collect_notice(void* arg, const PGresult* res) {
  auto* out = static_cast<std::vector<std::pair<std::string, std::string>>*>(arg);
  const char* sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  out->emplace_back(sev ? sev : "", msg ? msg : "");
}

TEST_F(ExtendedProtocol, NoticeReachesTheClient) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  std::vector<std::pair<std::string, std::string>> notices;
  PQsetNoticeReceiver(conn.get(), collect_notice, &notices);
  const QueryOutcome q = pg_exec(conn.get(), "DO $$ BEGIN RAISE NOTICE 'hi'; END $$");
  ASSERT_TRUE(q.ok) << q.error;
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].first, "NOTICE");
  EXPECT_EQ(notices[0].second, "hi");
}

TEST_F(ExtendedProtocol, LargeResultArrivesComplete) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  ASSERT_EQ(PQsendQuery(conn.get(), "SELECT i, repeat('x', 1000) FROM generate_series(1,200000) i"), 1);
  ASSERT_EQ(PQsetSingleRowMode(conn.get()), 1);
  long rows = 0;
  long expected_i = 1;
  bool bad_row = false;
  bool done = false;
  while (PGresult* raw = PQgetResult(conn.get())) {
    PgResultPtr res(raw);
    const ExecStatusType st = PQresultStatus(res.get());
    if (st == PGRES_SINGLE_TUPLE) {
      ++rows;
      if (!bad_row && (std::stol(PQgetvalue(res.get(), 0, 0)) != expected_i ||
                       PQgetlength(res.get(), 0, 1) != 1000)) {
        bad_row = true;
        ADD_FAILURE() << "row " << expected_i << " is wrong";
      }
      ++expected_i;
    } else if (st == PGRES_TUPLES_OK) {
      done = true;
    } else {
      ADD_FAILURE() << PQresStatus(st) << ": " << PQresultErrorMessage(res.get());
    }
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(rows, 200000);
}

TEST_F(ExtendedProtocol, LargeClientMessagesAreForwarded) {
  // The SQL text of a Query is bounded by limits.max_statement_length (1 MiB by default,
  // docs/policy.md "Statement limits"); this test is about large frames: raise it.
  proxy_.stop();
  ProxyConfigOptions opts;
  opts.limits_extra = ", max_statement_length: 16MiB";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  // 8 MiB in a simple Query literal and in a Bind parameter (well below max_message_size).
  const std::string big(8u * 1024u * 1024u, 'y');
  QueryOutcome q = pg_exec(conn.get(), "SELECT length('" + big + "')");
  ASSERT_TRUE(q.ok) << q.error.substr(0, 300);
  EXPECT_EQ(q.value, std::to_string(big.size()));
  const char* values[1] = {big.c_str()};
  PgResultPtr res(PQexecParams(conn.get(), "SELECT md5($1::text) = md5(repeat('y', 8388608))", 1,
                               nullptr, values, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(res.get());
  EXPECT_STREQ(PQgetvalue(res.get(), 0, 0), "t");
}

TEST_F(ExtendedProtocol, ServerErrorKeepsSessionUsable) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  QueryOutcome q = pg_exec(conn.get(), "SELECT 1/0");
  EXPECT_FALSE(q.ok);
  EXPECT_EQ(q.sqlstate, "22012") << q.error;
  q = pg_exec(conn.get(), "SELECT 2");
  EXPECT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "2");
}

TEST_F(ExtendedProtocol, TransactionStatusIsTracked) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  EXPECT_EQ(PQtransactionStatus(conn.get()), PQTRANS_IDLE);
  ASSERT_TRUE(pg_exec(conn.get(), "BEGIN").ok);
  EXPECT_EQ(PQtransactionStatus(conn.get()), PQTRANS_INTRANS);
  QueryOutcome q = pg_exec(conn.get(), "SELECT 1/0");
  EXPECT_EQ(q.sqlstate, "22012");
  EXPECT_EQ(PQtransactionStatus(conn.get()), PQTRANS_INERROR);
  q = pg_exec(conn.get(), "SELECT 1");
  EXPECT_EQ(q.sqlstate, "25P02") << q.error;
  q = pg_exec(conn.get(), "ROLLBACK");
  EXPECT_TRUE(q.ok) << q.error;
  EXPECT_EQ(PQtransactionStatus(conn.get()), PQTRANS_IDLE);
  q = pg_exec(conn.get(), "SELECT 1");
  EXPECT_TRUE(q.ok) << q.error;
}

TEST_F(ExtendedProtocol, ParameterStatusIsRelayed) {
  PgConnPtr conn = Connect(ClientCert::Spiffe, "application_name=it-params");
  ASSERT_PG_CONNECTED(conn);
  const char* v = PQparameterStatus(conn.get(), "server_version");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(std::string(v).substr(0, 2), std::to_string(PQserverVersion(conn.get()) / 10000));
  const char* enc = PQparameterStatus(conn.get(), "server_encoding");
  ASSERT_NE(enc, nullptr);
  const char* app = PQparameterStatus(conn.get(), "application_name");
  ASSERT_NE(app, nullptr);
  EXPECT_STREQ(app, "it-params");
  // A SET of a reported parameter comes back as ParameterStatus too.
  ASSERT_TRUE(pg_exec(conn.get(), "SET application_name = 'it-changed'").ok);
  app = PQparameterStatus(conn.get(), "application_name");
  ASSERT_NE(app, nullptr);
  EXPECT_STREQ(app, "it-changed");
}

TEST_F(ExtendedProtocol, ManyConcurrentSessions) {
  constexpr int kSessions = 20;
  std::vector<std::thread> threads;
  std::vector<std::string> results(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([this, i, &results] {
      PgConnPtr c = pg_connect(Conninfo(i % 2 == 0 ? ClientCert::Spiffe : ClientCert::Cn));
      if (PQstatus(c.get()) != CONNECTION_OK) {
        results[static_cast<std::size_t>(i)] = std::string("connect: ") + PQerrorMessage(c.get());
        return;
      }
      const QueryOutcome q = pg_exec(c.get(), "select current_user || ':' || " + std::to_string(i));
      results[static_cast<std::size_t>(i)] = q.ok ? q.value : q.error;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)],
              std::string(i % 2 == 0 ? "billing_rw" : "reporting_ro") + ":" + std::to_string(i));
  }
}

}  // namespace
}  // namespace segproxy::it
