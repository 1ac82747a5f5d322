// Hostile or broken clients are disconnected promptly and never disturb other
// sessions. "Promptly" is 3 s: well below the configured handshake_timeout (5 s), so a
// proxy that merely times the connection out does not pass.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "support/fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using std::chrono::seconds;

constexpr auto kPrompt = std::chrono::seconds(3);

class Robustness : public ProxyTest {
 protected:
  void SetUp() override {
    ProxyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    bystander_ = Connect();
    ASSERT_PG_CONNECTED(bystander_);
    ASSERT_TRUE(pg_exec(bystander_.get(), "select 1").ok);
  }

  // The session opened before the attack still works, and new sessions can be opened.
  void ExpectOthersUnaffected() {
    ASSERT_TRUE(proxy_.running()) << "the proxy process died";
    const QueryOutcome q = pg_exec(bystander_.get(), "select 1");
    EXPECT_TRUE(q.ok) << "existing session broken: " << q.error;
    EXPECT_EQ(q.value, "1");
    PgConnPtr fresh = Connect();
    EXPECT_EQ(PQstatus(fresh.get()), CONNECTION_OK) << PQerrorMessage(fresh.get());
  }

  PgConnPtr bystander_;
};

TEST_F(Robustness, GarbageInsteadOfStartupIsDisconnected) {
  // Two kinds of garbage: an absurd length, and a plausible length with a nonsense code.
  std::string huge_len(64, '\0');
  for (std::size_t i = 0; i < huge_len.size(); ++i) {
    huge_len[i] = static_cast<char>(0xde + i * 37);
  }
  std::string plausible = be32(64) + be32(0x0badc0de);
  for (std::size_t i = plausible.size(); i < 64; ++i) plausible.push_back(static_cast<char>(i * 11));

  for (const std::string& garbage : {huge_len, plausible}) {
    RawClient raw;
    std::string err;
    ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
    ASSERT_TRUE(raw.send(garbage));
    EXPECT_TRUE(raw.wait_closed(kPrompt)) << "still connected 3 s after sending garbage";
  }
  ExpectOthersUnaffected();
}

TEST_F(Robustness, GarbageInsteadOfTlsHandshakeIsDisconnected) {
  RawClient raw;
  std::string err;
  ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
  const std::optional<char> answer = raw.ssl_request(seconds(5));
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(*answer, 'S');
  std::string garbage;
  for (int i = 0; i < 64; ++i) garbage.push_back(static_cast<char>(0x41 + i % 26));
  ASSERT_TRUE(raw.send(garbage));
  EXPECT_TRUE(raw.wait_closed(kPrompt)) << "still connected 3 s after a garbage ClientHello";
  ExpectOthersUnaffected();
}

TEST_F(Robustness, OneGibStartupLengthOverTlsIsDisconnected) {
  RawClient raw;
  ASSERT_TRUE(connect_tls(raw, port_));
  ASSERT_TRUE(raw.send(be32(0x40000000) + be32(196608) + std::string("user\0x\0", 7)));
  std::string got;
  EXPECT_TRUE(raw.wait_closed(kPrompt, &got)) << "still connected 3 s after a 1 GiB startup length";
  // Whatever was sent back, it is not a session.
  EXPECT_EQ(got.find('Z'), std::string::npos);
  ExpectOthersUnaffected();
}

TEST_F(Robustness, OneGibQueryLengthAfterLoginIsDisconnected) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(std::string("Q") + be32(0x40000000) + "SELECT 1"));
  EXPECT_TRUE(raw.wait_closed(kPrompt)) << "still connected 3 s after a 1 GiB Query header";
  ExpectOthersUnaffected();
}

TEST_F(Robustness, PlaintextAfterSslRequestInSamePacketIsRejected) {
  // CVE-2021-23214 class: bytes that arrive before the TLS handshake must never be
  // treated as if they had come through TLS.
  RawClient raw;
  std::string err;
  ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
  ASSERT_TRUE(raw.send(ssl_request_packet() +
                       startup_packet({{"user", "whatever"}, {"database", env().db}})));
  std::string first;
  const RawClient::ReadStatus st = raw.read_some(first, seconds(5));
  if (st == RawClient::ReadStatus::Data && first == "S") {
    // The proxy agreed to TLS before noticing. Then the handshake must not lead to a
    // session that uses the injected startup packet.
    std::string hs_err;
    if (raw.tls_handshake(env().pki_file("ca.crt"), env().pki_file("client-spiffe.crt"),
                          env().pki_file("client-spiffe.key"), seconds(5), &hs_err)) {
      std::string after;
      const bool closed = raw.wait_closed(kPrompt, &after);
      EXPECT_TRUE(after.empty()) << "proxy answered the injected plaintext startup over TLS ("
                                 << after.size() << " bytes)";
      EXPECT_TRUE(closed) << "connection still open 3 s after a plaintext injection";
    }
  } else {
    EXPECT_NE(st, RawClient::ReadStatus::Timeout) << "no reaction within 5 s";
    if (st == RawClient::ReadStatus::Data) {
      // An ErrorResponse is acceptable; then the connection must close.
      EXPECT_EQ(first[0], 'E') << "unexpected first byte " << static_cast<int>(first[0]);
      EXPECT_TRUE(raw.wait_closed(kPrompt));
    }
  }
  ExpectOthersUnaffected();
}

TEST_F(Robustness, ClientVanishingMidStartupLeavesProxyHealthy) {
  for (int i = 0; i < 20; ++i) {
    RawClient raw;
    if (i % 2 == 0) {
      std::string err;
      ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
      ASSERT_TRUE(raw.send(ssl_request_packet().substr(0, 5)));  // half an SSLRequest
    } else {
      ASSERT_TRUE(connect_tls(raw, port_));
      ASSERT_TRUE(raw.send(be32(40)));  // half a startup length... then gone
    }
  }
  ExpectOthersUnaffected();
}

// Slowloris guards, with the fixture's limits {handshake_timeout: 5s, startup_timeout: 10s}.
TEST_F(Robustness, SilentTcpClientIsDisconnectedAfterHandshakeTimeout) {
  RawClient raw;
  std::string err;
  ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
  EXPECT_TRUE(raw.wait_closed(seconds(5 + 3))) << "a silent client outlived handshake_timeout";
  ExpectOthersUnaffected();
}

TEST_F(Robustness, SilentTlsClientIsDisconnectedAfterStartupTimeout) {
  RawClient raw;
  ASSERT_TRUE(connect_tls(raw, port_));
  EXPECT_TRUE(raw.wait_closed(seconds(10 + 3))) << "a client that never sent a startup outlived startup_timeout";
  ExpectOthersUnaffected();
}

// ---- Protocol state the proxy keeps itself (issue 12 item 4.5) ------------------------

std::string fe(char type, const std::string& body) { return std::string(1, type) + be32(body.size() + 4) + body; }
std::string z(const std::string& s) { return s + std::string(1, '\0'); }
std::string query_msg(const std::string& sql) { return fe('Q', z(sql)); }
std::string bind_msg(const std::string& portal, const std::string& stmt) {
  return fe('B', z(portal) + z(stmt) + be16(0) + be16(0) + be16(0));
}
std::string execute_msg(const std::string& portal) { return fe('E', z(portal) + be32(0)); }
std::string sync_msg() { return fe('S', ""); }

struct Reply {
  std::string types;  // message types up to and including ReadyForQuery
  std::map<char, std::string> error;  // fields of the first ErrorResponse
  std::string first_data;             // body of the first DataRow
  bool complete = false;              // ReadyForQuery seen
};

Reply read_until_ready(RawClient& raw) {
  Reply r;
  for (;;) {
    const std::optional<BackendMessage> m = raw.read_message(seconds(10));
    if (!m) return r;
    r.types += m->type;
    if (m->type == 'E' && r.error.empty()) r.error = parse_error_fields(m->body);
    if (m->type == 'D' && r.first_data.empty()) r.first_data = m->body;
    if (m->type == 'Z') {
      r.complete = true;
      return r;
    }
  }
}

class ProtocolState : public Robustness {
 protected:
  void ExpectSessionUsable(RawClient& raw) {
    ASSERT_TRUE(raw.send(query_msg("select 1")));
    const Reply r = read_until_ready(raw);
    ASSERT_TRUE(r.complete) << r.types;
    EXPECT_EQ(r.types, "TDCZ") << (r.error.count('M') ? r.error.at('M') : "");
  }
};

// A statement prepared with SQL PREPARE was judged when it was prepared; Bind must not
// run it behind the gate's back (a reload may have revoked it: SQL EXECUTE re-judges).
TEST_F(ProtocolState, BindOfAStatementNeverParsedThroughTheSessionIsRefusedWith26000) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(query_msg("PREPARE it_sqlprep AS SELECT 42")));
  Reply r = read_until_ready(raw);
  ASSERT_EQ(r.types, "CZ") << r.error['M'];
  ASSERT_TRUE(raw.send(bind_msg("", "it_sqlprep") + execute_msg("") + sync_msg()));
  r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.error['C'], "26000") << r.types << " " << r.error['M'];
  EXPECT_EQ(r.types.find('D'), std::string::npos) << "the SQL-prepared statement ran through Bind";
  ExpectSessionUsable(raw);
}

TEST_F(ProtocolState, ExecuteOfAPortalNeverBoundThroughTheSessionIsRefusedWith34000) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(query_msg("BEGIN; DECLARE it_cur CURSOR FOR SELECT 7")));
  Reply r = read_until_ready(raw);
  ASSERT_EQ(r.types, "CCZ") << r.error['M'];
  ASSERT_TRUE(raw.send(execute_msg("it_cur") + sync_msg()));
  r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.error['C'], "34000") << r.types << " " << r.error['M'];
  EXPECT_EQ(r.types.find('D'), std::string::npos) << "a cursor the proxy never saw bound was fetched by Execute";
  ASSERT_TRUE(raw.send(query_msg("ROLLBACK")));
  read_until_ready(raw);
  ExpectSessionUsable(raw);
}

TEST_F(ProtocolState, InvalidUtf8StatementTextIsRefusedWith22021ByTheProxy) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(query_msg("select 'caf\xe9'")));  // Latin-1 e-acute: not UTF-8
  Reply r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.error['C'], "22021") << r.error['M'];
  EXPECT_NE(r.error['M'].find("segproxy"), std::string::npos) << "not refused by the proxy: " << r.error['M'];
  // Extended protocol: the Parse is refused, the batch discarded up to Sync.
  ASSERT_TRUE(raw.send(fe('P', z("") + z("select '\xc3\x28'") + be16(0)) + bind_msg("", "") + execute_msg("") +
                       sync_msg()));
  r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.error['C'], "22021") << r.error['M'];
  EXPECT_NE(r.error['M'].find("segproxy"), std::string::npos) << r.error['M'];
  ExpectSessionUsable(raw);
}

std::string parse_msg(const std::string& name, const std::string& sql) { return fe('P', z(name) + z(sql) + be16(0)); }

// A refusal raised in place of a Sync (issues 12 and 14): the client gets exactly the
// replies of its own messages - its ParseComplete / BindComplete, never the raise's -
// then the refusal and ReadyForQuery; after a backend error in the batch, that error and
// ReadyForQuery (the raise is skipped like the rest of the batch, its Sync answers).
TEST_F(ProtocolState, RefusalRaisedAtSyncAnswersOnlyTheClientsOwnMessagesPerBatch) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  const std::string refused = parse_msg("", "SET ROLE postgres") + bind_msg("", "") + execute_msg("");
  // The batch has not failed: the client's Parse / Bind replies, its row, then 42501.
  ASSERT_TRUE(raw.send(parse_msg("it_trim_a", "select 7") + bind_msg("", "it_trim_a") + execute_msg("") + refused +
                       sync_msg()));
  Reply r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "12DCEZ");
  EXPECT_EQ(r.error['C'], "42501") << r.error['M'];
  // The backend failed the batch first: its error, then the Sync's ReadyForQuery. (The
  // server folds 1/0 while planning, so the error answers the Bind.)
  ASSERT_TRUE(raw.send(parse_msg("", "select 1/0") + bind_msg("", "") + execute_msg("") + refused + sync_msg()));
  r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << "no ReadyForQuery after a refusal in a failed batch: " << r.types;
  EXPECT_EQ(r.types, "1EZ");
  EXPECT_EQ(r.error['C'], "22012") << r.error['M'];
  // Two batches in one write: failed and refused, then a normal one with a named statement.
  ASSERT_TRUE(raw.send(parse_msg("", "select 1/0") + bind_msg("", "") + execute_msg("") + refused + sync_msg() +
                       parse_msg("it_trim_b", "select 8") + bind_msg("", "it_trim_b") + execute_msg("") +
                       sync_msg()));
  r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "1EZ");
  r = read_until_ready(raw);
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "12DCZ") << (r.error.count('M') ? r.error.at('M') : "");
  EXPECT_NE(r.first_data.find('8'), std::string::npos);
  ExpectSessionUsable(raw);
}

// Issue 12 leftovers (ResultShape): the DataRow column check follows every message the
// session forwards, Execute and Sync included. It used to be told neither, so it gave up
// at the first extended batch's ReadyForQuery and no row of the session was checked
// after it (a backend could send rows of any width from then on). Several extended
// batches on one session (unnamed and named statements and portals, as pgbench -M
// extended / prepared sends them), then a simple Query: every row is checked against the
// RowDescription of the portal it belongs to, which the session's close line counts.
TEST_F(ProtocolState, DataRowsOfEveryExtendedBatchOfASessionAreCheckedAgainstTheirRowDescription) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  const auto batch = [&](const std::string& stmt, const std::string& portal, int rows) {
    return parse_packet(stmt, "select g, g * 2 from generate_series(1, " + std::to_string(rows) + ") g") +
           bind_packet(portal, stmt) + describe_portal_packet(portal) + execute_packet(portal) + sync_packet();
  };
  ASSERT_TRUE(raw.send(batch("", "", 3)));
  RawReply r = read_reply(raw, seconds(30));
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "12TDDDCZ");
  ASSERT_TRUE(raw.send(batch("", "", 5) + batch("it_shape_s", "it_shape_p", 2)));
  r = read_reply(raw, seconds(30));
  EXPECT_EQ(r.types, "12TDDDDDCZ");
  r = read_reply(raw, seconds(30));
  EXPECT_EQ(r.types, "12TDDCZ");
  ASSERT_TRUE(raw.send(query_packet("select 1, 2 from generate_series(1, 2)")));
  r = read_reply(raw, seconds(30));
  EXPECT_EQ(r.types, "TDDCZ");
  ASSERT_TRUE(raw.send(terminate_packet()));
  ASSERT_TRUE(raw.wait_closed(seconds(30)));
  // 3 + 5 + 2 extended rows, 2 simple ones (the bystander session is still open).
  const auto checked = [&](const std::string& n) {
    const std::string log = proxy_.log();
    return log.find("datarows_checked=" + n + " ") != std::string::npos ||
           log.find("datarows_checked=" + n + "\n") != std::string::npos ||
           log.find("\"datarows_checked\":\"" + n + "\"") != std::string::npos;
  };
  const auto until = std::chrono::steady_clock::now() + seconds(30);
  while (!checked("12") && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(checked("12")) << "not every row of the session was checked against its RowDescription:\n"
                             << proxy_.log();
}

// Issues 12 / 14 leftovers: PostgreSQL discards every message but Sync after an error in
// an extended batch, a simple Query sent into that batch (or the proxy's Query raising a
// refusal of it) included: no ReadyForQuery answers it. The session used to count it
// outstanding for ever, so the next lexing hold (SET client_encoding waits for the
// backend to be idle before the next frame is judged) waited for ever: the client's
// next statement was never read. Exact message types, batch by batch.
TEST_F(ProtocolState, QuerySentIntoAnExtendedBatchTheBackendFailedIsNotAwaitedAndTheSessionGoesOn) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  const auto usable_after_a_lexing_hold = [&](const std::string& step) {
    ASSERT_TRUE(raw.send(query_packet("SET client_encoding TO 'UTF8'")));
    RawReply r = read_reply(raw, seconds(30));
    ASSERT_TRUE(r.complete) << step << ": " << r.types;
    EXPECT_EQ(r.types.back(), 'Z');
    EXPECT_NE(r.types.find('C'), std::string::npos) << step << ": " << r.types;
    ASSERT_TRUE(raw.send(query_packet("select 3")));
    r = read_reply(raw, seconds(30));
    ASSERT_TRUE(r.complete) << step << ": the statement after the lexing hold was never read: " << r.types;
    EXPECT_EQ(r.types, "TDCZ") << step;
  };
  // The backend fails the batch at the Bind (1/0 is folded while planning): the Query
  // behind it is skipped, only the Sync answers.
  ASSERT_TRUE(raw.send(parse_packet("", "select 1/0") + bind_packet("", "") + execute_packet("") +
                       query_packet("select 2") + sync_packet()));
  RawReply r = read_reply(raw, seconds(30));
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "1EZ");
  EXPECT_EQ(r.error['C'], "22012");
  ASSERT_NO_FATAL_FAILURE(usable_after_a_lexing_hold("failed batch"));
  // A refused Query in a failed batch: the proxy's raise is skipped the same way.
  ASSERT_TRUE(raw.send(parse_packet("", "select 1/0") + bind_packet("", "") + execute_packet("") +
                       query_packet("SET ROLE postgres") + sync_packet()));
  r = read_reply(raw, seconds(30));
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "1EZ");
  EXPECT_EQ(r.error['C'], "22012");
  ASSERT_NO_FATAL_FAILURE(usable_after_a_lexing_hold("refused Query in a failed batch"));
  // The batch did not fail: the Query runs (its own ReadyForQuery), then the Sync answers.
  ASSERT_TRUE(raw.send(parse_packet("", "select 1") + bind_packet("", "") + execute_packet("") +
                       query_packet("select 2") + sync_packet()));
  r = read_reply(raw, seconds(30));
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "12DCTDCZ");
  r = read_reply(raw, seconds(30));
  ASSERT_TRUE(r.complete) << r.types;
  EXPECT_EQ(r.types, "Z");
  ASSERT_NO_FATAL_FAILURE(usable_after_a_lexing_hold("batch that did not fail"));
}

// PostgreSQL ignores copy messages outside COPY; the proxy does not even forward them,
// and a real COPY FROM STDIN still works.
TEST_F(ProtocolState, CopyMessagesOutsideCopyAreDroppedAndCopyInStillWorks) {
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  ASSERT_TRUE(raw.send(fe('d', "1\n") + fe('c', "") + fe('f', z("stray"))));
  ExpectSessionUsable(raw);
  ASSERT_TRUE(raw.send(query_msg("CREATE TEMP TABLE it_copy_state (v int)")));
  Reply r = read_until_ready(raw);
  ASSERT_EQ(r.types, "CZ") << r.error['M'];
  ASSERT_TRUE(raw.send(query_msg("COPY it_copy_state FROM STDIN")));
  const std::optional<BackendMessage> g = raw.read_message(seconds(10));
  ASSERT_TRUE(g.has_value());
  ASSERT_EQ(g->type, 'G');
  ASSERT_TRUE(raw.send(fe('d', "1\n2\n") + fe('c', "")));
  r = read_until_ready(raw);
  ASSERT_EQ(r.types, "CZ") << r.error['M'];
  ASSERT_TRUE(raw.send(query_msg("select count(*) from it_copy_state")));
  r = read_until_ready(raw);
  ASSERT_EQ(r.types, "TDCZ") << r.error['M'];
  EXPECT_NE(r.first_data.find('2'), std::string::npos);
}

}  // namespace
}  // namespace segproxy::it
