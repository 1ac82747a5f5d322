// Connection phase: greeting (MySQL and MariaDB layouts), SSLRequest,
// HandshakeResponse41 variants, auth switch / more data, and the capability policy.
#include <gtest/gtest.h>

#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/handshake.hpp"
#include "protocols/mysql/packets.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::P;

const Bytes kScramble = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

Capabilities mysql8_caps() {
  return CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
         CLIENT_SSL | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |
         CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS |
         CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF |
         CLIENT_LOCAL_FILES | CLIENT_COMPRESS | CLIENT_QUERY_ATTRIBUTES;
}

// Built by hand from the HandshakeV10 layout (independent of the encoder).
Bytes greeting_bytes(Capabilities caps, std::uint32_t ext, std::string_view plugin) {
  P p;
  p.u8(10).cstr("8.0.36").u32(42);
  p.str(std::string_view(reinterpret_cast<const char*>(kScramble.data()), 8)).u8(0);
  p.u16(static_cast<std::uint16_t>(caps)).u8(255).u16(SERVER_STATUS_AUTOCOMMIT).u16(static_cast<std::uint16_t>(caps >> 16));
  p.u8(21).zeros(6).u32(ext);
  p.str(std::string_view(reinterpret_cast<const char*>(kScramble.data()) + 8, 12)).u8(0);
  p.cstr(plugin);
  return p.b;
}

TEST(MysqlGreeting, Mysql8GreetingDecodes) {
  const auto d = decode_greeting(greeting_bytes(mysql8_caps(), 0, "caching_sha2_password"));
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& hs = std::get<HandshakeV10>(d.value);
  EXPECT_EQ(hs.server_version, "8.0.36");
  EXPECT_EQ(hs.connection_id, 42u);
  EXPECT_EQ(hs.scramble, kScramble);
  EXPECT_EQ(hs.capabilities, mysql8_caps());
  EXPECT_EQ(hs.charset, 255);
  EXPECT_EQ(hs.status, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(hs.auth_plugin, "caching_sha2_password");
}

// A real MySQL 5.7.18 greeting, from a published annotated hex dump
// (gist.github.com/asd1245dss/3427f331cf4161174b879846fbcd5eda).
TEST(MysqlGreeting, PublishedMysql57GreetingDecodes) {
  const Bytes wire = test::from_hex(
      "4e000000 0a 352e372e31382d6c6f6700 127a2900 3358381844 5e1648 00 ffff 21 0200 ffc1 15"
      "00000000000000000000 40791130 2a416155 64776e0d 00"
      "6d7973716c5f6e61746976655f70617373776f726400");
  const auto m = decode_message(wire, 0, 1 << 20);
  ASSERT_EQ(m.status, DecodeStatus::Ok) << m.error;
  const auto d = decode_greeting(m.value.payload());
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& hs = std::get<HandshakeV10>(d.value);
  EXPECT_EQ(hs.server_version, "5.7.18-log");
  EXPECT_EQ(hs.connection_id, 0x297a12u);
  EXPECT_EQ(hs.charset, 0x21);
  EXPECT_EQ(hs.status, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(hs.capabilities, 0xc1ffffffu);
  EXPECT_EQ(test::to_hex(hs.scramble), "33583818445e1648407911302a41615564776e0d");
  EXPECT_EQ(hs.auth_plugin, "mysql_native_password");
  Bytes again;
  encode_handshake_v10(again, hs);
  EXPECT_TRUE(std::equal(again.begin(), again.end(), m.value.payload().begin(), m.value.payload().end()));
  const Capabilities offered = proxy_client_capabilities(hs.capabilities);
  EXPECT_FALSE(offered & (CLIENT_COMPRESS | CLIENT_LOCAL_FILES));
  EXPECT_TRUE(offered & CLIENT_DEPRECATE_EOF);
}

TEST(MysqlGreeting, MariadbExtendedCapabilitiesAreReadOnlyWhenClientMysqlIsClear) {
  const Capabilities caps = mysql8_caps() & ~CLIENT_LONG_PASSWORD;
  const auto d = decode_greeting(greeting_bytes(caps, 0x1D, "mysql_native_password"));
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& hs = std::get<HandshakeV10>(d.value);
  EXPECT_EQ(hs.capabilities, caps | (Capabilities{0x1D} << 32));
  EXPECT_TRUE(has(hs.capabilities, MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS));

  const auto mysql = decode_greeting(greeting_bytes(mysql8_caps(), 0x1D, "x"));
  ASSERT_EQ(mysql.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<HandshakeV10>(mysql.value).capabilities, mysql8_caps());  // reserved bytes ignored
}

TEST(MysqlGreeting, EncodedGreetingMatchesTheLayoutAndRoundTrips) {
  HandshakeV10 hs;
  hs.server_version = "8.0.36";
  hs.connection_id = 42;
  hs.scramble = kScramble;
  hs.capabilities = mysql8_caps();
  hs.charset = 255;
  hs.status = SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin = "caching_sha2_password";
  Bytes out;
  encode_handshake_v10(out, hs);
  EXPECT_EQ(out, greeting_bytes(mysql8_caps(), 0, "caching_sha2_password"));
  const auto d = decode_greeting(out);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<HandshakeV10>(d.value), hs);

  hs.capabilities = (mysql8_caps() & ~CLIENT_LONG_PASSWORD) | MARIADB_CLIENT_CACHE_METADATA;
  out.clear();
  encode_handshake_v10(out, hs);
  const auto m = decode_greeting(out);
  ASSERT_EQ(m.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<HandshakeV10>(m.value), hs);
}

TEST(MysqlGreeting, ErrInsteadOfGreetingIsReported) {
  const Bytes err = P().u8(0xFF).u16(1040).str("#08004").str("Too many connections").b;
  const auto d = decode_greeting(err);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  const auto& e = std::get<ErrPacket>(d.value);
  EXPECT_EQ(e.code, 1040);
  EXPECT_EQ(e.sqlstate, "08004");
  EXPECT_EQ(e.message, "Too many connections");
  // Pre-4.1 style: no SQLSTATE marker.
  const auto old = decode_greeting(P().u8(0xFF).u16(1129).str("Host is blocked").b);
  ASSERT_EQ(old.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<ErrPacket>(old.value).sqlstate, "HY000");
  EXPECT_EQ(std::get<ErrPacket>(old.value).message, "Host is blocked");
}

TEST(MysqlGreeting, WrongProtocolVersionAndTruncationAreMalformed) {
  Bytes g = greeting_bytes(mysql8_caps(), 0, "caching_sha2_password");
  Bytes v9 = g;
  v9[0] = 9;
  EXPECT_EQ(decode_greeting(v9).status, DecodeStatus::Malformed);
  for (std::size_t n = 1; n < 40; ++n) {
    const auto d = decode_greeting(std::span(g).first(n));
    EXPECT_NE(d.status, DecodeStatus::NeedMore) << n;
  }
  EXPECT_EQ(decode_greeting(std::span(g).first(20)).status, DecodeStatus::Malformed);
}

// ---- Client login ----

Bytes response_bytes(Capabilities caps, std::string_view user, const Bytes& auth, std::string_view db,
                     std::string_view plugin, const std::vector<std::pair<std::string, std::string>>& attrs) {
  P p;
  p.u32(static_cast<std::uint32_t>(caps)).u32(16777216).u8(45).zeros(19).u32(static_cast<std::uint32_t>(caps >> 32));
  p.cstr(user);
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    p.lenenc(auth.size()).raw(auth);
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    p.u8(static_cast<std::uint8_t>(auth.size())).raw(auth);
  } else {
    p.raw(auth).u8(0);
  }
  if (caps & CLIENT_CONNECT_WITH_DB) p.cstr(db);
  if (caps & CLIENT_PLUGIN_AUTH) p.cstr(plugin);
  if (caps & CLIENT_CONNECT_ATTRS) {
    P a;
    for (const auto& [k, v] : attrs) a.lstr(k).lstr(v);
    p.lenenc(a.b.size()).raw(a.b);
  }
  return p.b;
}

TEST(MysqlClientLogin, SslRequestIsTheShort32BytePacket) {
  const Bytes b = P().u32(static_cast<std::uint32_t>(CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION))
                      .u32(1 << 24).u8(33).zeros(23).b;
  ASSERT_EQ(b.size(), 32u);
  const auto d = decode_client_login(b, Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& s = std::get<SslRequest>(d.value);
  EXPECT_TRUE(has(s.capabilities, CLIENT_SSL));
  EXPECT_EQ(s.charset, 33);
  Bytes again;
  encode_ssl_request(again, s);
  EXPECT_EQ(again, b);
}

TEST(MysqlClientLogin, ThirtyTwoBytesWithoutSslIsMalformed) {
  const Bytes b = P().u32(static_cast<std::uint32_t>(CLIENT_PROTOCOL_41)).u32(0).u8(33).zeros(23).b;
  EXPECT_EQ(decode_client_login(b, Limits{}).status, DecodeStatus::Malformed);
}

TEST(MysqlClientLogin, ClientWithoutProtocol41IsMalformed) {
  const Bytes b = response_bytes(CLIENT_SECURE_CONNECTION, "u", {}, "", "", {});
  EXPECT_EQ(decode_client_login(b, Limits{}).status, DecodeStatus::Malformed);
}

TEST(MysqlClientLogin, EveryAuthResponseEncodingDecodesAndRoundTrips) {
  const Capabilities base = CLIENT_PROTOCOL_41 | CLIENT_LONG_PASSWORD;
  const Bytes auth(20, 0xAA);
  for (Capabilities variant :
       {CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SECURE_CONNECTION, CLIENT_SECURE_CONNECTION, Capabilities{0}}) {
    const Capabilities caps = base | variant | CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS;
    const Bytes b = response_bytes(caps, "alice", auth, "shop", "mysql_native_password",
                                   {{"_client_name", "libmariadb"}, {"_pid", "123"}});
    const auto d = decode_client_login(b, Limits{});
    ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
    const auto& h = std::get<HandshakeResponse41>(d.value);
    EXPECT_EQ(h.username, "alice");
    EXPECT_EQ(h.auth_response, auth);
    EXPECT_EQ(h.database, "shop");
    EXPECT_EQ(h.auth_plugin, "mysql_native_password");
    ASSERT_EQ(h.attributes.size(), 2u);
    EXPECT_EQ(h.attributes[1].second, "123");
    Bytes again;
    encode_handshake_response(again, h);
    EXPECT_EQ(again, b);
  }
}

TEST(MysqlClientLogin, LongLenencAuthResponseIsAccepted) {
  const Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_LONG_PASSWORD | CLIENT_SECURE_CONNECTION |
                            CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
  const Bytes auth(300, 7);
  const auto d = decode_client_login(response_bytes(caps, "bob", auth, "", "", {}), Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(std::get<HandshakeResponse41>(d.value).auth_response.size(), 300u);
}

TEST(MysqlClientLogin, MissingTrailingDatabaseAndPluginAreTolerated) {
  const Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_LONG_PASSWORD | CLIENT_SECURE_CONNECTION |
                            CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH;
  const Bytes b = P().u32(static_cast<std::uint32_t>(caps)).u32(0).u8(45).zeros(23).cstr("u").u8(0).b;
  const auto d = decode_client_login(b, Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_FALSE(std::get<HandshakeResponse41>(d.value).database.has_value());
  EXPECT_FALSE(std::get<HandshakeResponse41>(d.value).auth_plugin.has_value());
}

TEST(MysqlClientLogin, ConnectionAttributesAreCapped) {
  const Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_LONG_PASSWORD | CLIENT_SECURE_CONNECTION |
                            CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS;
  Limits limits;
  limits.max_mysql_connect_attrs = 2;
  const auto three = response_bytes(caps, "u", {}, "", "p", {{"a", "1"}, {"b", "2"}, {"c", "3"}});
  EXPECT_EQ(decode_client_login(three, limits).status, DecodeStatus::Malformed);
  limits = Limits{};
  limits.max_mysql_connect_attrs_bytes = 8;
  const auto big = response_bytes(caps, "u", {}, "", "p", {{"key", "value-longer"}});
  EXPECT_EQ(decode_client_login(big, limits).status, DecodeStatus::Malformed);
}

TEST(MysqlClientLogin, AttributeBlockLongerThanThePacketIsMalformed) {
  const Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_LONG_PASSWORD | CLIENT_SECURE_CONNECTION |
                            CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS;
  Bytes b = P().u32(static_cast<std::uint32_t>(caps)).u32(0).u8(45).zeros(23).cstr("u").u8(0).cstr("p")
                .u8(50).lstr("a").lstr("b").b;
  EXPECT_EQ(decode_client_login(b, Limits{}).status, DecodeStatus::Malformed);
}

TEST(MysqlClientLogin, MariadbClientExtendedCapabilitiesAreRead) {
  const Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | MARIADB_CLIENT_STMT_BULK_OPERATIONS;
  const auto d = decode_client_login(response_bytes(caps, "u", {}, "", "", {}), Limits{});
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(std::get<HandshakeResponse41>(d.value).capabilities, caps);
}

// ---- Auth switch / more data / replies ----

TEST(MysqlAuthPackets, AuthSwitchRequestCarriesPluginAndScramble) {
  const Bytes b = P().u8(0xFE).cstr("mysql_native_password").raw(kScramble).u8(0).b;
  const auto d = decode_auth_reply(b, CLIENT_PROTOCOL_41);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  const auto& sw = std::get<AuthSwitchRequest>(d.value);
  EXPECT_EQ(sw.plugin, "mysql_native_password");
  const auto s = switch_scramble(sw);
  EXPECT_TRUE(std::equal(s.begin(), s.end(), kScramble.begin(), kScramble.end()));
  Bytes again;
  encode_auth_switch(again, sw);
  EXPECT_EQ(again, b);
}

TEST(MysqlAuthPackets, OldPasswordSwitchIsMalformed) {
  EXPECT_EQ(decode_auth_reply(Bytes{0xFE}, CLIENT_PROTOCOL_41).status, DecodeStatus::Malformed);
}

TEST(MysqlAuthPackets, AuthMoreDataAndOkAndErrReplies) {
  const auto more = decode_auth_reply(Bytes{0x01, 0x03}, CLIENT_PROTOCOL_41);
  ASSERT_EQ(more.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<AuthMoreData>(more.value).data, Bytes{0x03});
  const auto ok = decode_auth_reply(P().u8(0).u8(0).u8(0).u16(2).u16(0).b, CLIENT_PROTOCOL_41);
  ASSERT_EQ(ok.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<OkPacket>(ok.value).status, SERVER_STATUS_AUTOCOMMIT);
  const auto err = decode_auth_reply(P().u8(0xFF).u16(1045).str("#28000Access denied").b, CLIENT_PROTOCOL_41);
  ASSERT_EQ(err.status, DecodeStatus::Ok);
  EXPECT_EQ(std::get<ErrPacket>(err.value).code, 1045);
  EXPECT_EQ(decode_auth_reply(Bytes{0x02}, CLIENT_PROTOCOL_41).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_auth_reply(Bytes{}, CLIENT_PROTOCOL_41).status, DecodeStatus::Malformed);
}

// ---- Capability policy ----

TEST(MysqlCapabilities, ProxyNeverAdvertisesLocalFilesCompressionOrQueryAttributes) {
  const Capabilities offered = proxy_client_capabilities(~Capabilities{0});
  EXPECT_FALSE(offered & CLIENT_LOCAL_FILES);
  EXPECT_FALSE(offered & CLIENT_COMPRESS);
  EXPECT_FALSE(offered & CLIENT_ZSTD_COMPRESSION_ALGORITHM);
  EXPECT_FALSE(offered & CLIENT_QUERY_ATTRIBUTES);
  EXPECT_FALSE(offered & CLIENT_OPTIONAL_RESULTSET_METADATA);
  EXPECT_EQ(offered >> 32, 0u);  // no MariaDB extended capability
  EXPECT_TRUE(has(offered, CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH | CLIENT_SECURE_CONNECTION |
                               CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK | CLIENT_LONG_PASSWORD));
}

TEST(MysqlCapabilities, ProxyOffersOnlyFormatsTheBackendCanProduce) {
  const Capabilities backend = mysql8_caps() & ~CLIENT_DEPRECATE_EOF & ~CLIENT_SESSION_TRACK & ~CLIENT_SSL;
  const Capabilities offered = proxy_client_capabilities(backend);
  EXPECT_FALSE(offered & CLIENT_DEPRECATE_EOF);
  EXPECT_FALSE(offered & CLIENT_SESSION_TRACK);
  EXPECT_TRUE(offered & CLIENT_SSL);  // the proxy terminates TLS itself
}

TEST(MysqlCapabilities, BackendLoginMirrorsTheClientsResponseFormat) {
  const Capabilities server = mysql8_caps();
  const Capabilities client = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                              CLIENT_MULTI_RESULTS | CLIENT_TRANSACTIONS | CLIENT_LOCAL_FILES | CLIENT_SSL |
                              CLIENT_FOUND_ROWS;
  const Capabilities login = backend_login_capabilities(server, client, false, true);
  EXPECT_EQ(format_capabilities(login), format_capabilities(client));
  EXPECT_FALSE(login & CLIENT_LOCAL_FILES);
  EXPECT_FALSE(login & CLIENT_COMPRESS);
  EXPECT_FALSE(login & CLIENT_SSL);
  EXPECT_TRUE(login & CLIENT_CONNECT_WITH_DB);
  EXPECT_TRUE(login & CLIENT_FOUND_ROWS);
  EXPECT_FALSE(login & CLIENT_DEPRECATE_EOF);
  EXPECT_TRUE(backend_login_capabilities(server, client | CLIENT_DEPRECATE_EOF, true, false) &
              (CLIENT_DEPRECATE_EOF | CLIENT_SSL));
}

}  // namespace
}  // namespace segproxy::protocols::mysql
