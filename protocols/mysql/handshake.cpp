// Connection phase packets (page_protocol_connection_phase_packets.html: HandshakeV10,
// SSLRequest, HandshakeResponse41, AuthSwitchRequest, AuthMoreData) with MariaDB's
// extended capabilities (mariadb.com/kb "Connection": 4 bytes in the reserved area,
// present when CLIENT_MYSQL = CLIENT_LONG_PASSWORD is clear).
#include "protocols/mysql/handshake.hpp"

#include <algorithm>

#include "protocols/mysql/packets.hpp"
#include "protocols/mysql/wire.hpp"

namespace segproxy::protocols::mysql {

namespace {

constexpr std::uint8_t kProtocolVersion10 = 10;
constexpr std::size_t kScramblePart1 = 8;
constexpr std::size_t kResponseReserved = 19;  // + 4 bytes of MariaDB extended capabilities

template <class T>
Decoded<T> bad(const char* what, const char* why) {
  return Decoded<T>::malformed(std::string(what) + ": " + why);
}

bool mariadb_extended(Capabilities caps) { return !has(caps, CLIENT_LONG_PASSWORD); }

Bytes to_bytes(std::span<const std::uint8_t> s) { return Bytes(s.begin(), s.end()); }

}  // namespace

// ---- HandshakeV10 ----

Decoded<Greeting> decode_greeting(std::span<const std::uint8_t> payload) {
  using R = Decoded<Greeting>;
  if (!payload.empty() && payload[0] == kErrHeader) {
    auto err = decode_err(payload, CLIENT_PROTOCOL_41);
    if (err.status != DecodeStatus::Ok) return R::malformed(err.error);
    return R::ok(Greeting{std::move(err.value)}, payload.size());
  }
  LeReader r(payload);
  if (r.u8() != kProtocolVersion10 || !r.ok()) return bad<Greeting>("greeting", "protocol version is not 10");
  HandshakeV10 hs;
  hs.server_version = std::string(r.cstring());
  hs.connection_id = r.u32();
  const auto part1 = r.bytes(kScramblePart1);
  r.u8();  // filler
  hs.capabilities = r.u16();
  if (!r.ok()) return bad<Greeting>("greeting", "truncated");
  hs.scramble = to_bytes(part1);
  // Pre-4.1 servers stop here; every supported server sends the rest.
  hs.charset = r.u8();
  hs.status = r.u16();
  hs.capabilities |= Capabilities{r.u16()} << 16;
  const std::uint8_t auth_data_len = r.u8();
  r.bytes(6);
  const std::uint32_t ext = r.u32();
  if (!r.ok()) return bad<Greeting>("greeting", "truncated (pre-4.1 servers are not supported)");
  if (mariadb_extended(hs.capabilities)) hs.capabilities |= Capabilities{ext} << 32;
  if (has(hs.capabilities, CLIENT_SECURE_CONNECTION)) {
    // $len = MAX(13, auth_data_len - 8), NUL included (MySQL and MariaDB always send it).
    const std::size_t len2 = std::max<std::size_t>(13, auth_data_len > kScramblePart1 ? auth_data_len - kScramblePart1 : 0);
    const auto part2 = r.bytes(len2);
    if (!r.ok()) return bad<Greeting>("greeting", "auth-plugin-data part 2 truncated");
    if (part2.back() != 0) return bad<Greeting>("greeting", "auth-plugin-data part 2 not NUL-terminated");
    hs.scramble.insert(hs.scramble.end(), part2.begin(), part2.end() - 1);
  }
  if (has(hs.capabilities, CLIENT_PLUGIN_AUTH)) hs.auth_plugin = std::string(r.cstring_or_rest());
  if (!r.at_end()) return bad<Greeting>("greeting", "trailing bytes");
  return R::ok(Greeting{std::move(hs)}, payload.size());
}

void encode_handshake_v10(Bytes& out, const HandshakeV10& hs) {
  LeWriter w(out);
  w.u8(kProtocolVersion10);
  w.cstring(hs.server_version);
  w.u32(hs.connection_id);
  const std::span<const std::uint8_t> scramble(hs.scramble);
  const auto part1 = scramble.first(std::min(kScramblePart1, scramble.size()));
  w.bytes(part1);
  w.zeros(kScramblePart1 - part1.size());
  w.u8(0);
  w.u16(static_cast<std::uint16_t>(hs.capabilities));
  w.u8(hs.charset);
  w.u16(hs.status);
  w.u16(static_cast<std::uint16_t>(hs.capabilities >> 16));
  const bool secure = has(hs.capabilities, CLIENT_SECURE_CONNECTION);
  const auto part2 = scramble.size() > kScramblePart1 ? scramble.subspan(kScramblePart1) : std::span<const std::uint8_t>{};
  // auth-plugin-data length: part 1 + part 2 + its NUL (21 for a 20-byte scramble).
  const std::size_t part2_len = std::max<std::size_t>(13, part2.size() + 1);
  w.u8(secure ? static_cast<std::uint8_t>(std::min<std::size_t>(255, kScramblePart1 + part2_len)) : 0);
  w.zeros(6);
  w.u32(mariadb_extended(hs.capabilities) ? static_cast<std::uint32_t>(hs.capabilities >> 32) : 0);
  if (secure) {
    w.bytes(part2);
    w.zeros(part2_len - part2.size());
  }
  if (has(hs.capabilities, CLIENT_PLUGIN_AUTH)) w.cstring(hs.auth_plugin);
}

// ---- SSLRequest / HandshakeResponse41 ----

Decoded<ClientLogin> decode_client_login(std::span<const std::uint8_t> payload, const Limits& limits) {
  using R = Decoded<ClientLogin>;
  const char* what = "HandshakeResponse41";
  LeReader r(payload);
  Capabilities caps = r.u32();
  const std::uint32_t max_packet = r.u32();
  const std::uint8_t charset = r.u8();
  r.bytes(kResponseReserved);
  const std::uint32_t ext = r.u32();
  if (!r.ok()) return bad<ClientLogin>(what, "shorter than 32 bytes");
  if (!has(caps, CLIENT_PROTOCOL_41)) return bad<ClientLogin>(what, "client without CLIENT_PROTOCOL_41");
  if (mariadb_extended(caps)) caps |= Capabilities{ext} << 32;
  if (r.at_end()) {
    if (!has(caps, CLIENT_SSL)) return bad<ClientLogin>(what, "no user name");
    return R::ok(ClientLogin{SslRequest{caps, max_packet, charset}}, payload.size());
  }
  HandshakeResponse41 h;
  h.capabilities = caps;
  h.max_packet = max_packet;
  h.charset = charset;
  h.username = std::string(r.cstring());
  if (!r.ok()) return bad<ClientLogin>(what, "unterminated user name");
  if (has(caps, CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    h.auth_response = to_bytes(r.lenenc_bytes());
  } else if (has(caps, CLIENT_SECURE_CONNECTION)) {
    const std::uint8_t n = r.u8();
    h.auth_response = to_bytes(r.bytes(n));
  } else {
    h.auth_response = to_bytes(as_bytes(r.cstring()));
  }
  if (!r.ok()) return bad<ClientLogin>(what, "bad auth response");
  if (has(caps, CLIENT_CONNECT_WITH_DB) && !r.at_end()) h.database = std::string(r.cstring_or_rest());
  if (has(caps, CLIENT_PLUGIN_AUTH) && !r.at_end()) h.auth_plugin = std::string(r.cstring_or_rest());
  if (has(caps, CLIENT_CONNECT_ATTRS) && !r.at_end()) {
    const std::uint64_t total = r.lenenc();
    if (!r.ok() || total > limits.max_mysql_connect_attrs_bytes || total > r.remaining())
      return bad<ClientLogin>(what, "connection attributes longer than the limit or the packet");
    LeReader a(r.bytes(static_cast<std::size_t>(total)));
    while (a.ok() && !a.at_end()) {
      if (h.attributes.size() >= limits.max_mysql_connect_attrs)
        return bad<ClientLogin>(what, "too many connection attributes");
      std::string key(a.lenenc_string());
      std::string value(a.lenenc_string());
      if (!a.ok()) break;
      h.attributes.emplace_back(std::move(key), std::move(value));
    }
    if (!a.ok()) return bad<ClientLogin>(what, "bad connection attribute");
  }
  // CLIENT_ZSTD_COMPRESSION_ALGORITHM adds a compression level byte; the proxy never
  // offers it, so it is tolerated but not kept.
  if (has(caps, CLIENT_ZSTD_COMPRESSION_ALGORITHM) && r.remaining() == 1) r.u8();
  if (!r.at_end()) return bad<ClientLogin>(what, "trailing bytes");
  return R::ok(ClientLogin{std::move(h)}, payload.size());
}

namespace {

void write_login_header(LeWriter& w, Capabilities caps, std::uint32_t max_packet, std::uint8_t charset) {
  w.u32(static_cast<std::uint32_t>(caps));
  w.u32(max_packet);
  w.u8(charset);
  w.zeros(kResponseReserved);
  w.u32(mariadb_extended(caps) ? static_cast<std::uint32_t>(caps >> 32) : 0);
}

}  // namespace

void encode_ssl_request(Bytes& out, const SslRequest& req) {
  LeWriter w(out);
  write_login_header(w, req.capabilities | CLIENT_SSL, req.max_packet, req.charset);
}

void encode_handshake_response(Bytes& out, const HandshakeResponse41& h) {
  LeWriter w(out);
  const Capabilities caps = h.capabilities;
  write_login_header(w, caps, h.max_packet, h.charset);
  w.cstring(h.username);
  if (has(caps, CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    w.lenenc_bytes(h.auth_response);
  } else if (has(caps, CLIENT_SECURE_CONNECTION)) {
    const std::size_t n = std::min<std::size_t>(255, h.auth_response.size());  // int<1>: callers keep it short
    w.u8(static_cast<std::uint8_t>(n));
    w.bytes(std::span<const std::uint8_t>(h.auth_response).first(n));
  } else {
    w.cstring(as_string_view(h.auth_response));
  }
  const bool with_db = has(caps, CLIENT_CONNECT_WITH_DB) && h.database.has_value();
  const bool with_plugin = has(caps, CLIENT_PLUGIN_AUTH) && h.auth_plugin.has_value();
  const bool with_attrs = has(caps, CLIENT_CONNECT_ATTRS) && !h.attributes.empty();
  // A later field needs the earlier ones present (they are positional).
  if (with_db || (has(caps, CLIENT_CONNECT_WITH_DB) && (with_plugin || with_attrs))) w.cstring(h.database.value_or(""));
  if (with_plugin || (has(caps, CLIENT_PLUGIN_AUTH) && with_attrs)) w.cstring(h.auth_plugin.value_or(""));
  if (with_attrs) {
    Bytes attrs;
    LeWriter aw(attrs);
    for (const auto& [k, v] : h.attributes) {
      aw.lenenc_string(k);
      aw.lenenc_string(v);
    }
    w.lenenc_bytes(attrs);
  }
}

// ---- AuthSwitchRequest / AuthMoreData ----

Decoded<AuthSwitchRequest> decode_auth_switch(std::span<const std::uint8_t> payload) {
  LeReader r(payload);
  if (r.u8() != kEofHeader || !r.ok()) return bad<AuthSwitchRequest>("AuthSwitchRequest", "wrong header");
  if (r.at_end()) return bad<AuthSwitchRequest>("AuthSwitchRequest", "old-password switch is not supported");
  AuthSwitchRequest req;
  req.plugin = std::string(r.cstring_or_rest());
  req.plugin_data = to_bytes(r.rest());
  return Decoded<AuthSwitchRequest>::ok(std::move(req), payload.size());
}

void encode_auth_switch(Bytes& out, const AuthSwitchRequest& req) {
  LeWriter w(out);
  w.u8(kEofHeader);
  w.cstring(req.plugin);
  w.bytes(req.plugin_data);
}

Decoded<AuthMoreData> decode_auth_more_data(std::span<const std::uint8_t> payload) {
  if (payload.empty() || payload[0] != kAuthMoreDataHeader)
    return bad<AuthMoreData>("AuthMoreData", "wrong header");
  return Decoded<AuthMoreData>::ok(AuthMoreData{to_bytes(payload.subspan(1))}, payload.size());
}

void encode_auth_more_data(Bytes& out, std::span<const std::uint8_t> data) {
  out.push_back(kAuthMoreDataHeader);
  out.insert(out.end(), data.begin(), data.end());
}

Decoded<AuthReply> decode_auth_reply(std::span<const std::uint8_t> payload, Capabilities caps) {
  using R = Decoded<AuthReply>;
  if (payload.empty()) return bad<AuthReply>("authentication reply", "empty packet");
  auto wrap = [&](auto d) -> R {
    if (d.status != DecodeStatus::Ok) return R::malformed(d.error);
    return R::ok(AuthReply{std::move(d.value)}, payload.size());
  };
  switch (payload[0]) {
    case kOkHeader: return wrap(decode_ok(payload, caps));
    case kErrHeader: return wrap(decode_err(payload, caps));
    case kEofHeader: return wrap(decode_auth_switch(payload));
    case kAuthMoreDataHeader: return wrap(decode_auth_more_data(payload));
    default: return bad<AuthReply>("authentication reply", "unexpected packet type");
  }
}

std::span<const std::uint8_t> switch_scramble(const AuthSwitchRequest& req) {
  std::span<const std::uint8_t> d(req.plugin_data);
  if (!d.empty() && d.back() == 0) d = d.first(d.size() - 1);
  return d;
}

}  // namespace segproxy::protocols::mysql
