// Replays conversations captured from a real MariaDB 10.11 server (Debian 12 package)
// through a recording TCP relay: the `mariadb` CLI 10.11 (text protocol, multi-results,
// errors, USE, transactions, LOAD DATA LOCAL) and MySQL Connector/C++ 1.1 (server-side
// prepared statements, binary result sets, MariaDB metadata caching). Account used:
// app / secret on a throwaway test server. Checks the real bytes against every decoder:
// greeting, HandshakeResponse41, the native-password scramble, the login OK with session
// tracking, each command, and the response tracker at every split offset.
#include <gtest/gtest.h>

#include "protocols/mysql/auth.hpp"
#include "protocols/mysql/commands.hpp"
#include "protocols/mysql/handshake.hpp"
#include "protocols/mysql/response_tracker.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::from_hex;

const char* const kCliClient =
    "d30000018ca2bf000000100021000000000000000000000000000000000000001d000000617070001447e0e89094dd4f"
    "99517e3a092b7b06335302620f73686f70006d7973716c5f6e61746976655f70617373776f7264007e035f6f73054c69"
    "6e75780c5f636c69656e745f6e616d650a6c69626d617269616462045f70696404383137340f5f636c69656e745f7665"
    "7273696f6e06332e332e3230095f706c6174666f726d067838365f36340c70726f6772616d5f6e616d65056d7973716c"
    "0c5f7365727665725f686f7374093132372e302e302e311e0000000353454c45435420612c20622046524f4d2074204f"
    "524445522042592061130000000353454c454354202a2046524f4d206e6f7065120000000353454c4543542044415441"
    "42415345282906000000026d7973716c24000000035550444154452073686f702e742053455420623d27756e6f272057"
    "4845524520613d31420000000353454c454354203120415320783b205550444154452073686f702e742053455420623d"
    "276f6e652720574845524520613d313b2053454c454354203220415320790600000003424547494e2600000003494e53"
    "45525420494e544f2073686f702e742056414c5545532028332c27746872656527290700000003434f4d4d49543f0000"
    "00034c4f41442044415441204c4f43414c20494e46494c4520272f746d702f6d646270726f746f2f662e747874272049"
    "4e544f205441424c452073686f702e74040000027809790a000000030100000001";

const char* const kCliServer =
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100070000002f64293e3c50"
    "5f6e00fef7080200ff81150000000000001d00000029216764425a7d2b57562a6d006d7973716c5f6e61746976655f70"
    "617373776f7264001000000200000002400000000701050473686f700200000102011f000002036465660473686f7001"
    "74017401610161000c3f000b0000000303500000001f000003036465660473686f700174017401620162000c21003c00"
    "0000fd000000000005000004fe00002200060000050131036f6e65030000060132fb05000007fe0000220028000001ff"
    "7a042334325330325461626c65202773686f702e6e6f70652720646f65736e2774206578697374020000010101210000"
    "02036465660000000a4441544142415345282900000c2100c0000000fd000027000005000003fe000002000500000404"
    "73686f7005000005fe000002003d000001ff14042334323030304163636573732064656e69656420666f722075736572"
    "2027617070274027252720746f20646174616261736520276d7973716c27300000010001000200000028526f7773206d"
    "6174636865643a203120204368616e6765643a203120205761726e696e67733a20300200000101011800000203646566"
    "000000017800000c3f000100000003810000000005000003fe00000a0002000004013105000005fe00000a0030000006"
    "0001000a00000028526f7773206d6174636865643a203120204368616e6765643a203120205761726e696e67733a2030"
    "0200000701011800000803646566000000017900000c3f000100000003810000000005000009fe000002000200000a01"
    "320500000bfe0000020007000001000000030000000700000100010003000000070000010000000200000014000001fb"
    "2f746d702f6d646270726f746f2f662e74787419000004ffffff0102020000000f456e642062756c6b20696e73657274"
    "37000005000100020001002f5265636f7264733a2031202044656c657465643a20302020536b69707065643a20302020"
    "5761726e696e67733a2031";

const char* const kPsClient =
    "c00000018ca2be00000010002d000000000000000000000000000000000000001d000000617070001402d26c34f9452b"
    "1c92ae2ea76259310af589749073686f70006d7973716c5f6e61746976655f70617373776f7264006b035f6f73054c69"
    "6e75780c5f636c69656e745f6e616d650a6c69626d617269616462045f70696404383634390f5f636c69656e745f7665"
    "7273696f6e06332e332e3230095f706c6174666f726d067838365f36340c5f7365727665725f686f7374093132372e30"
    "2e302e311100000003534554206175746f636f6d6d69743d3138000000035345542053455353494f4e205452414e5341"
    "4354494f4e2049534f4c4154494f4e204c4556454c2052455045415441424c452052454144350000000353484f572053"
    "455353494f4e205641524941424c4553204c494b4520276c6f7765725f636173655f7461626c655f6e616d6573272a00"
    "00001653454c45435420612c20622046524f4d20742057484552452061203e203f204f52444552204259206112000000"
    "1704000000000100000000010300000000001f000000165550444154452074205345542062203d203f20574845524520"
    "61203d203f19000000170500000000010000000001fe0003000465696e73010000001f0000001653454c454354202a20"
    "46524f4d206e6f70652057484552452061203d203f0500000019050000000500000019040000000100000001";

const char* const kPsServer =
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531000a000000462f56453724"
    "4c3500fef7080200ff81150000000000001d000000606456606249292d475c7b75006d7973716c5f6e61746976655f70"
    "617373776f7264001000000200000002400000000701050473686f7019000001000000024000000010000e0a6175746f"
    "636f6d6d6974024f4e0700000100000002000000020000010201650000020364656612696e666f726d6174696f6e5f73"
    "6368656d611153455353494f4e5f5641524941424c45531153455353494f4e5f5641524941424c45530d566172696162"
    "6c655f6e616d650d5641524941424c455f4e414d45000c2d0000010000fd01100000005e0000030364656612696e666f"
    "726d6174696f6e5f736368656d611153455353494f4e5f5641524941424c45531153455353494f4e5f5641524941424c"
    "45530556616c75650e5641524941424c455f56414c5545000c2d0000400000fd011000000005000004fe000022001900"
    "0005166c6f7765725f636173655f7461626c655f6e616d6573013005000006fe000022000c0000010004000000020001"
    "000000001800000203646566000000013f00000c3f000000000006800000000005000003fe000002001f000004036465"
    "660473686f700174017401610161000c3f000b0000000303500000001f000005036465660473686f7001740174016201"
    "62000c2d0050000000fd000000000005000006fe0000020002000001020005000002fe000002000b0000030000010000"
    "000465696e73060000040008020000000c00000500000300000005746872656505000006fe000002000c000001000500"
    "0000000002000000001800000203646566000000013f00000c3f00000000000680000000001800000303646566000000"
    "013f00000c3f000000000006800000000005000004fe00000200300000010000000200000028526f7773206d61746368"
    "65643a203120204368616e6765643a203020205761726e696e67733a203028000001ff7a042334325330325461626c65"
    "202773686f702e6e6f70652720646f65736e2774206578697374";

struct Recorder : ResponseEvents {
  std::vector<ResponseSummary> responses;
  std::vector<std::pair<std::string, std::uint8_t>> infile;
  void on_response(const ResponseSummary& s) override { responses.push_back(s); }
  void on_local_infile_request(std::string_view f, std::uint8_t seq) override { infile.emplace_back(f, seq); }
};

struct Login {
  HandshakeV10 greeting;
  HandshakeResponse41 response;
  OkPacket ok;
  Capabilities caps = 0;
  std::size_t server_offset = 0;  // first command-phase byte of the server stream
  std::size_t client_offset = 0;
};

constexpr std::size_t kCap = 1u << 20;

Login login(const Bytes& client, const Bytes& server) {
  Login l;
  const auto g = decode_message(server, 0, kCap);
  EXPECT_EQ(g.status, DecodeStatus::Ok);
  const auto greeting = decode_greeting(g.value.payload());
  EXPECT_EQ(greeting.status, DecodeStatus::Ok) << greeting.error;
  l.greeting = std::get<HandshakeV10>(greeting.value);
  const auto c = decode_message(client, 1, kCap);
  EXPECT_EQ(c.status, DecodeStatus::Ok);
  const auto resp = decode_client_login(c.value.payload(), Limits{});
  EXPECT_EQ(resp.status, DecodeStatus::Ok) << resp.error;
  l.response = std::get<HandshakeResponse41>(resp.value);
  l.caps = l.response.capabilities & l.greeting.capabilities;
  const auto o = decode_message(std::span(server).subspan(g.consumed), 2, kCap);
  EXPECT_EQ(o.status, DecodeStatus::Ok);
  const auto reply = decode_auth_reply(o.value.payload(), l.caps);
  EXPECT_EQ(reply.status, DecodeStatus::Ok) << reply.error;
  l.ok = std::get<OkPacket>(reply.value);
  l.server_offset = g.consumed + o.consumed;
  l.client_offset = c.consumed;
  return l;
}

// Decodes every client command and tells the tracker about it.
std::vector<Command> expect_commands(const Bytes& client, std::size_t offset, Capabilities caps,
                                     ResponseTracker& t) {
  std::vector<Command> cmds;
  while (offset < client.size()) {
    const auto m = decode_message(std::span(client).subspan(offset), std::nullopt, kCap);
    EXPECT_EQ(m.status, DecodeStatus::Ok) << m.error;
    if (m.status != DecodeStatus::Ok) break;
    offset += m.consumed;
    if (m.value.first_seq() != 0) continue;  // LOAD DATA LOCAL file contents
    const auto d = decode_command(m.value.payload(), caps);
    EXPECT_EQ(d.status, DecodeStatus::Ok) << d.error;
    t.expect(d.value, m.value.next_seq());
    cmds.push_back(d.value);
  }
  return cmds;
}

TEST(MysqlCapture, MariadbGreetingAndCliLoginDecode) {
  const Bytes client = from_hex(kCliClient);
  const Bytes server = from_hex(kCliServer);
  const Login l = login(client, server);
  EXPECT_EQ(l.greeting.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_EQ(l.greeting.auth_plugin, "mysql_native_password");
  EXPECT_EQ(l.greeting.scramble.size(), 20u);
  EXPECT_FALSE(has(l.greeting.capabilities, CLIENT_LONG_PASSWORD));  // MariaDB: extended capabilities follow
  EXPECT_TRUE(has(l.greeting.capabilities, MARIADB_CLIENT_STMT_BULK_OPERATIONS | CLIENT_DEPRECATE_EOF));
  EXPECT_EQ(l.response.username, "app");
  EXPECT_EQ(l.response.database, "shop");
  EXPECT_EQ(l.response.auth_plugin, "mysql_native_password");
  EXPECT_TRUE(has(l.response.capabilities, CLIENT_LOCAL_FILES));
  bool found = false;
  for (const auto& [k, v] : l.response.attributes) found |= k == "_client_name" && v == "libmariadb";
  EXPECT_TRUE(found);
  // The real client's scramble for password "secret" matches ours.
  EXPECT_EQ(l.response.auth_response, native_password_scramble("secret", l.greeting.scramble));
  // Login OK with session tracking: the current schema.
  ASSERT_TRUE(l.ok.session_state.has_value());
  EXPECT_EQ(l.ok.session_state->schema, "shop");
}

void check_cli_responses(const Recorder& r) {
  ASSERT_EQ(r.responses.size(), 9u);
  EXPECT_EQ(r.responses[0].rows, 2u);                    // SELECT a, b
  EXPECT_EQ(r.responses[1].err.code, 1146);              // SELECT * FROM nope
  EXPECT_EQ(r.responses[2].rows, 1u);                    // SELECT DATABASE()
  EXPECT_EQ(r.responses[3].err.code, 1044);              // COM_INIT_DB mysql
  EXPECT_EQ(r.responses[3].command, 0x02);
  EXPECT_EQ(r.responses[4].affected_rows, 1u);           // UPDATE
  EXPECT_EQ(r.responses[5].result_sets, 2u);             // SELECT 1; UPDATE; SELECT 2
  EXPECT_EQ(r.responses[5].rows, 2u);
  EXPECT_EQ(r.responses[5].affected_rows, 1u);
  EXPECT_TRUE(r.responses[6].in_transaction());          // BEGIN
  EXPECT_EQ(r.responses[7].affected_rows, 1u);           // INSERT
  EXPECT_FALSE(r.responses[8].in_transaction());         // COMMIT
  ASSERT_EQ(r.infile.size(), 1u);                        // LOAD DATA LOCAL INFILE
  EXPECT_EQ(r.infile[0].first, "/tmp/mdbproto/f.txt");
  EXPECT_EQ(r.infile[0].second, 2);
}

TEST(MysqlCapture, CliConversationIsTrackedAtEverySplitOffset) {
  const Bytes client = from_hex(kCliClient);
  const Bytes server = from_hex(kCliServer);
  const Login l = login(client, server);
  // The capture ends with the client actually sending the file (the proxy never does):
  // stop before the server's answer to it (a progress report and an OK).
  const auto tail = std::span(server).subspan(l.server_offset, server.size() - l.server_offset - (4 + 25) - (4 + 55));
  for (std::size_t cut = 0; cut <= tail.size(); ++cut) {
    ResponseTracker t(l.caps, Limits{}, l.ok.status);
    Recorder r;
    expect_commands(client, l.client_offset, l.caps, t);
    ASSERT_EQ(t.feed(tail.first(cut), r), DecodeStatus::Ok) << cut << ": " << t.error();
    ASSERT_EQ(t.feed(tail.subspan(cut), r), DecodeStatus::Ok) << cut << ": " << t.error();
    check_cli_responses(r);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(MysqlCapture, ConnectorCppPreparedStatementsAreTrackedAtEverySplitOffset) {
  const Bytes client = from_hex(kPsClient);
  const Bytes server = from_hex(kPsServer);
  const Login l = login(client, server);
  EXPECT_TRUE(has(l.caps, MARIADB_CLIENT_CACHE_METADATA));
  const auto tail = std::span(server).subspan(l.server_offset);
  for (std::size_t cut = 0; cut <= tail.size(); ++cut) {
    ResponseTracker t(l.caps, Limits{}, l.ok.status);
    Recorder r;
    const auto cmds = expect_commands(client, l.client_offset, l.caps, t);
    ASSERT_EQ(cmds.size(), 11u);
    ASSERT_EQ(t.feed(tail.first(cut), r), DecodeStatus::Ok) << cut << ": " << t.error();
    ASSERT_EQ(t.feed(tail.subspan(cut), r), DecodeStatus::Ok) << cut << ": " << t.error();
    ASSERT_EQ(r.responses.size(), 8u);  // CLOSE x2 and QUIT get no response
    EXPECT_EQ(r.responses[0].command, 0x03);
    EXPECT_TRUE(r.responses[0].autocommit());
    EXPECT_EQ(r.responses[2].rows, 1u);  // SHOW SESSION VARIABLES
    ASSERT_TRUE(r.responses[3].prepared.has_value());
    EXPECT_EQ(r.responses[3].prepared->statement_id, 4u);
    EXPECT_EQ(r.responses[3].prepared->num_params, 1);
    EXPECT_EQ(r.responses[3].prepared->num_columns, 2);
    EXPECT_EQ(r.responses[4].rows, 3u);  // binary rows, metadata not resent
    ASSERT_TRUE(r.responses[5].prepared.has_value());
    EXPECT_EQ(r.responses[5].prepared->num_params, 2);
    EXPECT_EQ(r.responses[6].oks, 1u);   // UPDATE via COM_STMT_EXECUTE
    EXPECT_EQ(r.responses[7].err.code, 1146);
    EXPECT_TRUE(t.idle());
    if (::testing::Test::HasFailure()) break;
  }
}

// The client side as a session reads it: a buffer that grows, decode_message until
// NeedMore, consume. Two reads split at every offset give the same messages.
TEST(MysqlCapture, ClientStreamDecodesIdenticallyAtEverySplitOffset) {
  const Bytes client = from_hex(kCliClient);
  auto decode_all = [&](std::size_t cut) {
    std::vector<std::pair<std::uint8_t, Bytes>> out;
    Bytes buffer(client.begin(), client.begin() + static_cast<std::ptrdiff_t>(cut));
    bool appended = cut == client.size();
    for (;;) {
      const auto d = decode_message(buffer, std::nullopt, kCap);
      EXPECT_NE(d.status, DecodeStatus::Malformed) << d.error;
      if (d.status == DecodeStatus::Ok) {
        out.emplace_back(d.value.first_seq(), Bytes(d.value.payload().begin(), d.value.payload().end()));
        buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(d.consumed));
        continue;
      }
      EXPECT_EQ(d.consumed, 0u);
      if (appended) break;
      buffer.insert(buffer.end(), client.begin() + static_cast<std::ptrdiff_t>(cut), client.end());
      appended = true;
    }
    EXPECT_TRUE(buffer.empty());
    return out;
  };
  const auto whole = decode_all(client.size());
  ASSERT_EQ(whole.size(), 14u);  // login, 12 commands incl. the file contents, COM_QUIT
  for (std::size_t cut = 0; cut < client.size(); ++cut) {
    ASSERT_EQ(decode_all(cut), whole) << cut;
  }
}

TEST(MysqlCapture, ConnectorCppExecuteParametersDecode) {
  const Bytes client = from_hex(kPsClient);
  const Bytes server = from_hex(kPsServer);
  const Login l = login(client, server);
  ResponseTracker t(l.caps, Limits{}, l.ok.status);
  const auto cmds = expect_commands(client, l.client_offset, l.caps, t);
  const auto& select = std::get<ComStmtExecute>(cmds[4]);
  const auto p1 = decode_execute_params(select, 1, {}, {}, l.caps);
  ASSERT_EQ(p1.status, DecodeStatus::Ok) << p1.error;
  EXPECT_EQ(p1.value.types[0], 0x03);
  const auto& update = std::get<ComStmtExecute>(cmds[6]);
  const auto p2 = decode_execute_params(update, 2, {}, {}, l.caps);
  ASSERT_EQ(p2.status, DecodeStatus::Ok) << p2.error;
  EXPECT_EQ(as_string_view(p2.value.values[0]), "eins");
  EXPECT_EQ(p2.value.values[1].size(), 4u);
  EXPECT_EQ(std::get<ComStmtClose>(cmds[8]).statement_id, 5u);
}

}  // namespace
}  // namespace segproxy::protocols::mysql
