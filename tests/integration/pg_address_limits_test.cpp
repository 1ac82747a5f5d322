// Per source address caps (issue 12, 4.6): half-open connections from one address are
// capped (logged-in sessions are not), and a cancel key sent inside TLS only works under
// the certificate of the session that owns it.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "support/fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

class AddressLimitsTest : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }
};

TEST_F(AddressLimitsTest, HalfOpenConnectionsFromOneAddressAreCappedButLoggedInSessionsAreNot) {
  ProxyConfigOptions opts;
  opts.limits_extra = ", max_handshakes_per_address: 4";
  opts.handshake_timeout = "60s";  // the silent connections must outlive the test's checks
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  // Logged-in sessions no longer count: six of them, one after the other, under a cap of 4.
  std::vector<PgConnPtr> sessions;
  for (int i = 0; i < 6; ++i) {
    sessions.push_back(Connect());
    ASSERT_PG_CONNECTED(sessions.back());
  }
  // Four silent TCP connections fill the handshake cap of 127.0.0.1...
  std::vector<std::unique_ptr<RawClient>> silent;
  std::string err;
  for (int i = 0; i < 4; ++i) {
    silent.push_back(std::make_unique<RawClient>());
    ASSERT_TRUE(silent.back()->connect_tcp(port_, &err)) << err;
  }
  // ...so the fifth is answered FATAL 53300 (too many connections, in plaintext: what libpq
  // reads in place of the SSLRequest's answer) and closed at once (handshake_timeout is
  // 60 s: a close before it is the cap, not the timeout).
  {
    RawClient fifth;
    ASSERT_TRUE(fifth.connect_tcp(port_, &err)) << err;
    std::string got;
    EXPECT_TRUE(fifth.wait_closed(std::chrono::seconds(30), &got)) << "fifth half-open connection was not refused";
    ASSERT_FALSE(got.empty()) << "refused without the protocol's answer";
    EXPECT_EQ(got[0], 'E');
    EXPECT_NE(got.find("53300"), std::string::npos) << got;
  }
  // A real client from the same address is refused as well while the cap is full.
  PgConnPtr refused = Connect();
  EXPECT_NE(PQstatus(refused.get()), CONNECTION_OK);
  // The established sessions are untouched.
  for (auto& s : sessions) {
    const QueryOutcome q = pg_exec(s.get(), "select 1");
    EXPECT_TRUE(q.ok) << q.error;
  }
  // Once a half-open connection goes away, its place is free again.
  silent.pop_back();
  PgConnPtr again;
  for (int attempt = 0; attempt < 50; ++attempt) {
    again = Connect();
    if (PQstatus(again.get()) == CONNECTION_OK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_PG_CONNECTED(again);
  // The refusals are counted by reason.
  EXPECT_NE(proxy_.log().find("limits.max_handshakes_per_address"), std::string::npos);
}

std::string be(std::int32_t v) { return be32(static_cast<std::uint32_t>(v)); }

TEST_F(AddressLimitsTest, CancelKeyInsideTlsOnlyWorksUnderTheOwningSessionsCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  // Session A (reporting segment, client-cn certificate) learns its pid and key.
  RawClient a;
  ASSERT_TRUE(open_session(a, port_, "client-cn"));
  ASSERT_TRUE(a.backend_key().has_value()) << "no BackendKeyData";
  const auto [pid_a, key_a] = *a.backend_key();
  ASSERT_TRUE(a.send(std::string("Q") + be(4 + 19) + "SELECT pg_sleep(3)" + std::string(1, '\0')));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // A's own key, sent inside TLS under another identity's certificate: nothing happens.
  {
    RawClient c;
    ASSERT_TRUE(connect_tls(c, port_));
    ASSERT_TRUE(c.send(cancel_request_packet(pid_a, key_a)));
    EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  }
  std::string sqlstate;
  for (;;) {
    const std::optional<BackendMessage> m = a.read_message(std::chrono::seconds(10));
    ASSERT_TRUE(m.has_value()) << "pg_sleep(3) on A did not finish";
    if (m->type == 'E') sqlstate = parse_error_fields(m->body)['C'];
    if (m->type == 'Z') break;
  }
  EXPECT_EQ(sqlstate, "") << "a foreign certificate cancelled A's statement";
  EXPECT_NE(proxy_.log().find("cancel.foreign_identity"), std::string::npos);

  // The same key inside TLS under A's own certificate does cancel (the key is real).
  ASSERT_TRUE(a.send(std::string("Q") + be(4 + 20) + "SELECT pg_sleep(30)" + std::string(1, '\0')));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    RawClient c;
    ASSERT_TRUE(connect_tls(c, port_, "client-cn"));
    ASSERT_TRUE(c.send(cancel_request_packet(pid_a, key_a)));
    EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  }
  sqlstate.clear();
  for (;;) {
    const std::optional<BackendMessage> m = a.read_message(std::chrono::seconds(10));
    ASSERT_TRUE(m.has_value()) << "pg_sleep(30) on A not cancelled by its own certificate and key";
    if (m->type == 'E') sqlstate = parse_error_fields(m->body)['C'];
    if (m->type == 'Z') break;
  }
  EXPECT_EQ(sqlstate, "57014");
}

}  // namespace
}  // namespace segproxy::it
