// Access windows through real libpq clients: no session outside a window, live sessions
// end when their window closes (on_window_close: terminate at once; finish_transaction at
// the next ReadyForQuery outside a transaction, or when window_close_grace runs out), and
// nothing but COMMIT / ROLLBACK runs after the close.
#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "support/policy_support.hpp"

namespace segproxy::it {
namespace {

using PolicyWindows = PolicyTest;
using SysClock = std::chrono::system_clock;
using std::chrono::seconds;

struct Notices {
  std::vector<ErrorFields> items;
  std::string all() const {
    std::string s;
    for (const auto& n : items) s += n.severity + " " + n.sqlstate + " " + n.message + "\n";
    return s;
  }
};

void collect(void* arg, const PGresult* res) { static_cast<Notices*>(arg)->items.push_back(error_fields(res)); }

// Waits until the server side of an idle connection goes away (or `deadline` passes);
// returns true if it did. A FATAL sent to an idle libpq connection reaches the notice
// receiver once libpq parses its input (PQisBusy), which PQconsumeInput alone does not.
bool wait_connection_gone(PGconn* conn, SysClock::time_point deadline) {
  while (SysClock::now() < deadline) {
    if (PQstatus(conn) != CONNECTION_OK) return true;
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    ::poll(&pfd, 1, 100);
    const int ok = PQconsumeInput(conn);
    (void)PQisBusy(conn);  // parses what arrived, including a FATAL before the EOF
    if (ok == 0) return true;
  }
  return PQstatus(conn) != CONNECTION_OK;
}

bool has_window_fatal(const Notices& n) {
  for (const auto& e : n.items) {
    if (e.severity == "FATAL" && e.sqlstate == "57P01" && contains_nocase(e.message, "window")) return true;
  }
  return false;
}

// `windows:` with one one-off window [from, until).
std::string one_off_window(SysClock::time_point from, SysClock::time_point until) {
  return "    windows:\n      - {from: " + rfc3339_utc(from) + ", until: " + rfc3339_utc(until) + "}\n";
}

// The end of a window that closes between `min_s` and `min_s + 1` seconds from now, on
// a whole second (RFC 3339 above carries whole seconds).
SysClock::time_point whole_second_in(int min_s) {
  const auto now = SysClock::now();
  return std::chrono::time_point_cast<seconds>(now) + seconds(min_s + 1);
}

void sleep_until_past(SysClock::time_point t, std::chrono::milliseconds extra) {
  std::this_thread::sleep_until(t + extra);
}

TEST_F(PolicyWindows, SessionOutsideEveryWindowIsRefusedAtStartup) {
  const std::string t = unique_name("it_pol_win");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  ProxyConfigOptions opts;
  opts.billing_policy = orders_policy(t, "it_pol_nothing") +
                        "    windows: [{from: 2020-01-01T00:00:00Z, until: 2020-01-02T00:00:00Z}]\n";
  opts.reporting_policy = std::string(ProxyConfigOptions::kPermissivePolicy) +
                          "    windows: [{from: 2099-01-01T00:00:00Z, until: 2099-01-02T00:00:00Z}]\n";
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));

  PgConnPtr past = Connect(ClientCert::Spiffe);
  ASSERT_NE(PQstatus(past.get()), CONNECTION_OK) << "a session came up outside its only (past) window";
  const std::string err = PQerrorMessage(past.get());
  EXPECT_NE(err.find("FATAL"), std::string::npos) << err;
  EXPECT_NE(err.find("window"), std::string::npos) << err;
  EXPECT_NE(err.find("no future opening"), std::string::npos) << err;

  PgConnPtr future = Connect(ClientCert::Cn);
  ASSERT_NE(PQstatus(future.get()), CONNECTION_OK) << "a session came up before its window";
  const std::string err2 = PQerrorMessage(future.get());
  EXPECT_NE(err2.find("window"), std::string::npos) << err2;
  EXPECT_NE(err2.find("next opening"), std::string::npos) << err2;
  EXPECT_NE(err2.find("2099-01-01"), std::string::npos) << err2;
}

TEST_F(PolicyWindows, TerminateEndsEverySessionWhenTheWindowCloses) {
  const std::string t = unique_name("it_pol_win");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  const auto until = whole_second_in(3);
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(t, "it_pol_nothing") +
                                                 one_off_window(SysClock::now() - std::chrono::hours(1), until) +
                                                 "    on_window_close: terminate\n"));
  ASSERT_LT(SysClock::now() + std::chrono::milliseconds(1500), until) << "proxy start took too long for this test";

  PgConnPtr idle = Connect();
  ASSERT_PG_CONNECTED(idle);
  PgConnPtr in_tx = Connect();
  ASSERT_PG_CONNECTED(in_tx);
  Notices idle_notices;
  Notices tx_notices;
  PQsetNoticeReceiver(idle.get(), collect, &idle_notices);
  PQsetNoticeReceiver(in_tx.get(), collect, &tx_notices);

  QueryOutcome q = pg_exec(idle.get(), "SELECT v FROM " + t + " WHERE id = 1");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "v1");
  ASSERT_TRUE(pg_exec(in_tx.get(), "BEGIN").ok);
  q = pg_exec(in_tx.get(), "INSERT INTO " + t + " VALUES (2, 'in-window')");
  ASSERT_TRUE(q.ok) << q.error;
  ASSERT_LT(SysClock::now(), until) << "the window closed before the sessions were set up";

  // Both sessions, idle and inside a transaction, are gone within ~5 s of the close.
  EXPECT_TRUE(wait_connection_gone(idle.get(), until + seconds(5))) << "idle session still open 5 s after the close";
  EXPECT_TRUE(wait_connection_gone(in_tx.get(), until + seconds(5)))
      << "session in a transaction still open 5 s after the close";
  EXPECT_GE(SysClock::now(), until) << "terminated before the window closed";
  EXPECT_TRUE(has_window_fatal(idle_notices)) << "idle: " << idle_notices.all() << PQerrorMessage(idle.get());
  EXPECT_TRUE(has_window_fatal(tx_notices)) << "in tx: " << tx_notices.all() << PQerrorMessage(in_tx.get());

  // The open transaction died with its session.
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + t + " WHERE id = 2"), "0");
  q = pg_exec(idle.get(), "SELECT 1");
  EXPECT_FALSE(q.ok);

  // And no new session after the close.
  PgConnPtr late = Connect();
  EXPECT_NE(PQstatus(late.get()), CONNECTION_OK);
  const std::string err = PQerrorMessage(late.get());
  EXPECT_NE(err.find("window"), std::string::npos) << err;
}

TEST_F(PolicyWindows, FinishTransactionRunsNothingButCommitOrRollbackAfterTheCloseThenTerminates) {
  const std::string t = unique_name("it_pol_win");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  const auto until = whole_second_in(3);
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(t, "it_pol_nothing") +
                                                 one_off_window(SysClock::now() - std::chrono::hours(1), until) +
                                                 "    on_window_close: finish_transaction\n"));
  ASSERT_LT(SysClock::now() + std::chrono::milliseconds(1500), until) << "proxy start took too long for this test";

  PgConnPtr idle = Connect();
  ASSERT_PG_CONNECTED(idle);
  PgConnPtr in_tx = Connect();
  ASSERT_PG_CONNECTED(in_tx);
  Notices idle_notices;
  Notices tx_notices;
  PQsetNoticeReceiver(idle.get(), collect, &idle_notices);
  PQsetNoticeReceiver(in_tx.get(), collect, &tx_notices);

  ASSERT_TRUE(pg_exec(idle.get(), "SELECT 1").ok);
  const int backend_pid = PQbackendPID(in_tx.get());
  ASSERT_TRUE(pg_exec(in_tx.get(), "BEGIN").ok);
  QueryOutcome q = pg_exec(in_tx.get(), "INSERT INTO " + t + " VALUES (2, 'in-window')");
  ASSERT_TRUE(q.ok) << q.error;
  {
    // Prepared inside the window, executed after it (Execute re-checks the window).
    PgResultPtr res(PQprepare(in_tx.get(), "it_win_sel", ("SELECT v FROM " + t + " WHERE id = 1").c_str(), 0, nullptr));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
  }
  ASSERT_LT(SysClock::now(), until) << "the window closed before the sessions were set up";

  // An idle session (no transaction) ends at the close as with `terminate`.
  EXPECT_TRUE(wait_connection_gone(idle.get(), until + seconds(5))) << "idle session still open 5 s after the close";
  EXPECT_TRUE(has_window_fatal(idle_notices)) << idle_notices.all() << PQerrorMessage(idle.get());

  // The session inside a transaction is still there...
  sleep_until_past(until, std::chrono::milliseconds(500));
  ASSERT_EQ(PQconsumeInput(in_tx.get()), 1) << "session in a transaction was closed at the window end: "
                                            << PQerrorMessage(in_tx.get()) << tx_notices.all();
  ASSERT_EQ(PQstatus(in_tx.get()), CONNECTION_OK);
  EXPECT_EQ(PQtransactionStatus(in_tx.get()), PQTRANS_INTRANS);

  // ...but nothing of it runs any more (issue 12: statements sent after the close inside
  // the open transaction used to run): neither a statement prepared inside the window...
  {
    PgResultPtr res(PQexecPrepared(in_tx.get(), "it_win_sel", 0, nullptr, nullptr, nullptr, 0));
    EXPECT_EQ(PQresultStatus(res.get()), PGRES_FATAL_ERROR) << "prepared statement ran after the window closed";
    const ErrorFields e = error_fields(res.get());
    EXPECT_EQ(e.sqlstate, "42501") << e.message;
    EXPECT_TRUE(contains_nocase(e.message, "only COMMIT or ROLLBACK")) << e.message;
  }
  // ...nor a new one (the first refusal already failed the transaction; a fresh one too).
  {
    PgResultPtr res(PQexec(in_tx.get(), ("SELECT count(*) FROM " + t).c_str()));
    EXPECT_EQ(PQresultStatus(res.get()), PGRES_FATAL_ERROR) << "statement ran after the window closed";
  }
  EXPECT_EQ(PQtransactionStatus(in_tx.get()), PQTRANS_INERROR);

  // ...and once it has ended (here by ROLLBACK), the session is terminated.
  PgResultPtr rb(PQexec(in_tx.get(), "ROLLBACK"));
  EXPECT_EQ(PQresultStatus(rb.get()), PGRES_COMMAND_OK)
      << "ROLLBACK after the window closed: " << PQresultErrorMessage(rb.get()) << PQerrorMessage(in_tx.get());
  EXPECT_TRUE(wait_connection_gone(in_tx.get(), SysClock::now() + seconds(5)))
      << "session still open 5 s after its transaction ended outside the window (transaction status "
      << PQtransactionStatus(in_tx.get()) << ")";
  EXPECT_TRUE(has_window_fatal(tx_notices) ||
              contains_nocase(std::string(PQresultErrorMessage(rb.get())) + PQerrorMessage(in_tx.get()), "window"))
      << tx_notices.all() << PQerrorMessage(in_tx.get());
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + t + " WHERE id = 2"), "0");
  // Nothing of the transaction outlives it on the backend (its locks included).
  EXPECT_EQ(SuValue("SELECT count(*) FROM pg_locks WHERE pid = " + std::to_string(backend_pid) +
                    " AND relation = 'public." + t + "'::regclass"),
            "0")
      << "the backend of the ended session still holds locks on " << t;
}

TEST_F(PolicyWindows, FinishTransactionCommitAfterCloseCommitsAndEndsTheSession) {
  const std::string t = unique_name("it_pol_win");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  const auto until = whole_second_in(3);
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(t, "it_pol_nothing") +
                                                 one_off_window(SysClock::now() - std::chrono::hours(1), until) +
                                                 "    on_window_close: finish_transaction\n"));
  PgConnPtr in_tx = Connect();
  ASSERT_PG_CONNECTED(in_tx);
  Notices notices;
  PQsetNoticeReceiver(in_tx.get(), collect, &notices);
  ASSERT_TRUE(pg_exec(in_tx.get(), "BEGIN").ok);
  const QueryOutcome q = pg_exec(in_tx.get(), "INSERT INTO " + t + " VALUES (2, 'in-window')");
  ASSERT_TRUE(q.ok) << q.error;
  ASSERT_LT(SysClock::now(), until) << "the window closed before the session was set up";
  sleep_until_past(until, std::chrono::milliseconds(500));

  // The transaction in progress may finish: COMMIT commits its writes, and the session
  // then ends with the window FATAL.
  PgResultPtr commit(PQexec(in_tx.get(), "COMMIT"));
  EXPECT_EQ(PQresultStatus(commit.get()), PGRES_COMMAND_OK)
      << PQresultErrorMessage(commit.get()) << PQerrorMessage(in_tx.get());
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + t + " WHERE id = 2"), "1");
  EXPECT_TRUE(wait_connection_gone(in_tx.get(), SysClock::now() + seconds(5)))
      << "session still open 5 s after its transaction ended (transaction status " << PQtransactionStatus(in_tx.get())
      << ")";
  EXPECT_TRUE(has_window_fatal(notices)) << notices.all() << PQerrorMessage(in_tx.get());
  // No new transaction can start: the connection is gone.
  EXPECT_NE(PQstatus(in_tx.get()), CONNECTION_OK);
}

TEST_F(PolicyWindows, FinishTransactionEndsTheSessionWhenWindowCloseGraceRunsOut) {
  const std::string t = unique_name("it_pol_win");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  const auto until = whole_second_in(3);
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(t, "it_pol_nothing") +
                                                 one_off_window(SysClock::now() - std::chrono::hours(1), until) +
                                                 "    on_window_close: finish_transaction\n"
                                                 "    window_close_grace: 1s\n"));
  PgConnPtr in_tx = Connect();
  ASSERT_PG_CONNECTED(in_tx);
  Notices notices;
  PQsetNoticeReceiver(in_tx.get(), collect, &notices);
  const int backend_pid = PQbackendPID(in_tx.get());
  ASSERT_TRUE(pg_exec(in_tx.get(), "BEGIN").ok);
  const QueryOutcome q = pg_exec(in_tx.get(), "INSERT INTO " + t + " VALUES (2, 'in-window')");
  ASSERT_TRUE(q.ok) << q.error;
  ASSERT_LT(SysClock::now(), until) << "the window closed before the session was set up";

  // The client keeps the transaction open and silent: the grace runs out and the session
  // ends with the window FATAL; the transaction is rolled back with its backend.
  EXPECT_TRUE(wait_connection_gone(in_tx.get(), until + seconds(10)))
      << "session in an idle transaction still open 10 s after the close with a 1 s grace";
  EXPECT_GE(SysClock::now(), until + std::chrono::milliseconds(900)) << "ended before the grace ran out";
  EXPECT_TRUE(has_window_fatal(notices)) << notices.all() << PQerrorMessage(in_tx.get());
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + t + " WHERE id = 2"), "0");
  EXPECT_EQ(SuValue("SELECT count(*) FROM pg_locks WHERE pid = " + std::to_string(backend_pid) +
                    " AND relation = 'public." + t + "'::regclass"),
            "0");
}

TEST_F(PolicyWindows, FinishTransactionAcceptsCommitThroughTheExtendedProtocolDuringTheGrace) {
  const std::string t = unique_name("it_pol_win");
  ASSERT_NO_FATAL_FAILURE(CreateTable(t, 1));
  const auto until = whole_second_in(3);
  ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(t, "it_pol_nothing") +
                                                 one_off_window(SysClock::now() - std::chrono::hours(1), until) +
                                                 "    on_window_close: finish_transaction\n"));
  PgConnPtr in_tx = Connect();
  ASSERT_PG_CONNECTED(in_tx);
  ASSERT_TRUE(pg_exec(in_tx.get(), "BEGIN").ok);
  const QueryOutcome q = pg_exec(in_tx.get(), "INSERT INTO " + t + " VALUES (2, 'in-window')");
  ASSERT_TRUE(q.ok) << q.error;
  ASSERT_LT(SysClock::now(), until) << "the window closed before the session was set up";
  sleep_until_past(until, std::chrono::milliseconds(500));
  // Parse/Bind/Execute of the unnamed statement, as JDBC drivers send COMMIT.
  PgResultPtr commit(PQexecParams(in_tx.get(), "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0));
  EXPECT_EQ(PQresultStatus(commit.get()), PGRES_COMMAND_OK)
      << PQresultErrorMessage(commit.get()) << PQerrorMessage(in_tx.get());
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + t + " WHERE id = 2"), "1");
  EXPECT_TRUE(wait_connection_gone(in_tx.get(), SysClock::now() + seconds(5)));
}

}  // namespace
}  // namespace segproxy::it
