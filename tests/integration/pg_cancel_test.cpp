// Query cancellation through the proxy: libpq's PQcancel (a CancelRequest on a new
// plaintext connection to the proxy) reaches the right backend, and only with the key
// the proxy handed out.
#include <gtest/gtest.h>

#include <thread>

#include "support/fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using CancelThroughProxy = ProxyTest;
using Clock = std::chrono::steady_clock;

TEST_F(CancelThroughProxy, BackendKeyDataCarriesTheRealBackendPid) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const QueryOutcome q = pg_exec(conn.get(), "select pg_backend_pid()");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(std::to_string(PQbackendPID(conn.get())), q.value);
}

TEST_F(CancelThroughProxy, PQcancelStopsRunningStatementWith57014) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const QueryOutcome pid = pg_exec(conn.get(), "select pg_backend_pid()");
  ASSERT_TRUE(pid.ok) << pid.error;
  ASSERT_EQ(std::to_string(PQbackendPID(conn.get())), pid.value);

  ASSERT_EQ(PQsendQuery(conn.get(), "SELECT pg_sleep(30)"), 1) << PQerrorMessage(conn.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  PGcancel* cancel = PQgetCancel(conn.get());
  ASSERT_NE(cancel, nullptr);
  char errbuf[256] = {0};
  const auto sent_at = Clock::now();
  const int sent = PQcancel(cancel, errbuf, sizeof errbuf);
  PQfreeCancel(cancel);
  ASSERT_EQ(sent, 1) << "PQcancel: " << errbuf;

  bool timed_out = false;
  PgResultPtr res = pg_wait_result(conn.get(), std::chrono::seconds(2), &timed_out);
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent_at).count();
  ASSERT_FALSE(timed_out) << "pg_sleep(30) still running 2 s after PQcancel";
  ASSERT_NE(res, nullptr) << PQerrorMessage(conn.get());
  EXPECT_EQ(PQresultStatus(res.get()), PGRES_FATAL_ERROR);
  EXPECT_EQ(sqlstate_of(res.get()), "57014") << PQresultErrorMessage(res.get());
  EXPECT_LT(waited, 2000);
  res.reset();
  pg_drain(conn.get());

  // The session is still usable afterwards.
  const QueryOutcome after = pg_exec(conn.get(), "select 1");
  EXPECT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.value, "1");
}

TEST_F(CancelThroughProxy, CancelRequestWithWrongKeyDoesNotCancel) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const int pid = PQbackendPID(conn.get());
  ASSERT_GT(pid, 0);

  ASSERT_EQ(PQsendQuery(conn.get(), "SELECT pg_sleep(2)"), 1) << PQerrorMessage(conn.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // The real key is opaque inside PGcancel; a fixed guess is wrong with overwhelming
  // probability. Try the pid with a couple of wrong keys (including the backend-style
  // key 0) over plain TCP, as libpq would.
  for (const std::int32_t wrong_key : {0x5eca1ba5, 0, -1}) {
    RawClient raw;
    std::string err;
    ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
    ASSERT_TRUE(raw.send(cancel_request_packet(pid, wrong_key)));
    // The proxy answers a CancelRequest with nothing and closes.
    std::string got;
    EXPECT_TRUE(raw.wait_closed(std::chrono::seconds(5), &got))
        << "proxy kept the cancel connection open";
    EXPECT_TRUE(got.empty()) << "proxy answered a CancelRequest with " << got.size() << " bytes";
  }

  bool timed_out = false;
  PgResultPtr res = pg_wait_result(conn.get(), std::chrono::seconds(10), &timed_out);
  ASSERT_FALSE(timed_out);
  ASSERT_NE(res, nullptr) << PQerrorMessage(conn.get());
  EXPECT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK)
      << "a wrong cancel key cancelled the query: " << PQresultErrorMessage(res.get());
  res.reset();
  pg_drain(conn.get());
}

TEST_F(CancelThroughProxy, CancelOnlyAffectsItsOwnSession) {
  PgConnPtr a = Connect();
  PgConnPtr b = Connect();
  ASSERT_PG_CONNECTED(a);
  ASSERT_PG_CONNECTED(b);
  ASSERT_NE(PQbackendPID(a.get()), PQbackendPID(b.get()));

  ASSERT_EQ(PQsendQuery(a.get(), "SELECT pg_sleep(2)"), 1);
  ASSERT_EQ(PQsendQuery(b.get(), "SELECT pg_sleep(30)"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  PGcancel* cancel = PQgetCancel(b.get());
  ASSERT_NE(cancel, nullptr);
  char errbuf[256] = {0};
  ASSERT_EQ(PQcancel(cancel, errbuf, sizeof errbuf), 1) << errbuf;
  PQfreeCancel(cancel);

  bool timed_out = false;
  PgResultPtr rb = pg_wait_result(b.get(), std::chrono::seconds(2), &timed_out);
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(sqlstate_of(rb.get()), "57014");
  rb.reset();
  pg_drain(b.get());

  PgResultPtr ra = pg_wait_result(a.get(), std::chrono::seconds(10), &timed_out);
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(PQresultStatus(ra.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(ra.get());
  ra.reset();
  pg_drain(a.get());
}

std::string be(std::int32_t v) { return be32(static_cast<std::uint32_t>(v)); }

TEST_F(CancelThroughProxy, CancelKeyOfOneSessionCannotCancelAnother) {
  // Session A (reporting segment, raw client) learns its own pid/key from BackendKeyData.
  RawClient a;
  ASSERT_TRUE(open_session(a, port_, "client-cn"));
  std::string err;
  ASSERT_TRUE(a.backend_key().has_value()) << "no BackendKeyData";
  const auto [pid_a, key_a] = *a.backend_key();

  // Session B (billing segment, libpq) runs a statement.
  PgConnPtr b = Connect();
  ASSERT_PG_CONNECTED(b);
  const int pid_b = PQbackendPID(b.get());
  ASSERT_NE(pid_a, pid_b);
  ASSERT_EQ(PQsendQuery(b.get(), "SELECT pg_sleep(2)"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // A's key with B's pid must not cancel B.
  {
    RawClient c;
    ASSERT_TRUE(c.connect_tcp(port_, &err)) << err;
    ASSERT_TRUE(c.send(cancel_request_packet(pid_b, key_a)));
    EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  }
  bool timed_out = false;
  PgResultPtr rb = pg_wait_result(b.get(), std::chrono::seconds(10), &timed_out);
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(PQresultStatus(rb.get()), PGRES_TUPLES_OK)
      << "another session's cancel key cancelled B: " << PQresultErrorMessage(rb.get());
  rb.reset();
  pg_drain(b.get());

  // A's key with A's pid does cancel A (so the key read above is the real one).
  ASSERT_TRUE(a.send(std::string("Q") + be(4 + 20) + "SELECT pg_sleep(30)" + std::string(1, '\0')));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    RawClient c;
    ASSERT_TRUE(c.connect_tcp(port_, &err)) << err;
    ASSERT_TRUE(c.send(cancel_request_packet(pid_a, key_a)));
    EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  }
  std::string sqlstate;
  for (;;) {
    const std::optional<BackendMessage> m = a.read_message(std::chrono::seconds(3));
    ASSERT_TRUE(m.has_value()) << "pg_sleep(30) on A not cancelled by A's own key";
    if (m->type == 'E') sqlstate = parse_error_fields(m->body)['C'];
    if (m->type == 'Z') break;
  }
  EXPECT_EQ(sqlstate, "57014");
}

}  // namespace
}  // namespace segproxy::it
