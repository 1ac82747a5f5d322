#pragma once
// Connection phase (page_protocol_connection_phase.html): greeting, SSLRequest,
// HandshakeResponse41, AuthSwitchRequest, AuthMoreData, and the backend's replies
// during authentication. Payload level (frame with framer.hpp): Ok or Malformed.
#include <span>
#include <variant>

#include "protocols/common/decoded.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/mysql/messages.hpp"

namespace segproxy::protocols::mysql {

// A server's first packet: its greeting, or an ERR (e.g. "Too many connections",
// "Host is blocked") sent instead. Protocol versions other than 10 are Malformed.
using Greeting = std::variant<HandshakeV10, ErrPacket>;
Decoded<Greeting> decode_greeting(std::span<const std::uint8_t> payload);

// Writes the proxy's HandshakeV10. The scramble must be 20 bytes (8 + 12; written with
// the trailing NUL MySQL puts after part 2). MariaDB extended capabilities (upper 32
// bits) are written into the last 4 reserved bytes only when CLIENT_LONG_PASSWORD
// ("CLIENT_MYSQL") is clear, as MariaDB servers do.
void encode_handshake_v10(Bytes& out, const HandshakeV10& hs);

// The client's reply to the greeting: a 32-byte SSLRequest (CLIENT_SSL set) or a
// HandshakeResponse41. Clients without CLIENT_PROTOCOL_41 are Malformed (4.1-era
// HandshakeResponse320 is not supported). Connection attributes are capped by
// limits.max_mysql_connect_attrs_bytes / max_mysql_connect_attrs. Optional trailing
// fields (database, plugin name) may be absent at the end of the payload even when
// their flag is set, as MySQL servers accept.
Decoded<ClientLogin> decode_client_login(std::span<const std::uint8_t> payload, const Limits& limits);

void encode_ssl_request(Bytes& out, const SslRequest& req);
// Writes a HandshakeResponse41 honouring its own capability flags: auth response as
// int<lenenc> (PLUGIN_AUTH_LENENC_CLIENT_DATA), int<1> (SECURE_CONNECTION) or
// string<NUL>; database / plugin / attributes when their flag is set and present.
void encode_handshake_response(Bytes& out, const HandshakeResponse41& resp);

// AuthSwitchRequest (0xFE plugin\0 data). A bare 0xFE (the pre-4.1 "use old password"
// request) is Malformed: mysql_old_password is not supported.
Decoded<AuthSwitchRequest> decode_auth_switch(std::span<const std::uint8_t> payload);
void encode_auth_switch(Bytes& out, const AuthSwitchRequest& req);
Decoded<AuthMoreData> decode_auth_more_data(std::span<const std::uint8_t> payload);
void encode_auth_more_data(Bytes& out, std::span<const std::uint8_t> data);

// A backend's reply during authentication: OK (0x00), ERR (0xFF), AuthSwitchRequest
// (0xFE) or AuthMoreData (0x01); anything else is Malformed. `caps` = the capabilities
// the login sent (for the OK/ERR layout).
Decoded<AuthReply> decode_auth_reply(std::span<const std::uint8_t> payload, Capabilities caps);

// The 20 scramble bytes of AuthSwitchRequest data (MySQL and MariaDB append a NUL).
std::span<const std::uint8_t> switch_scramble(const AuthSwitchRequest& req);

}  // namespace segproxy::protocols::mysql
