#pragma once
// Typed MySQL/MariaDB protocol messages (payloads of logical messages; framing is in
// framer.hpp). Connection-phase and generic response messages own their strings (the
// proxy keeps them across reads); command messages are *views* into the decoded
// payload, valid until those bytes are consumed (the proxy checks, then forwards the
// original bytes unchanged).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/wire.hpp"

namespace segproxy::protocols::mysql {

inline constexpr std::size_t kScrambleLength = 20;
inline constexpr std::uint8_t kUtf8mb4GeneralCi = 45;
inline constexpr std::uint32_t kDefaultMaxPacket = 16u * 1024u * 1024u;

// ---- Connection phase (page_protocol_connection_phase_packets.html) ----

// Protocol::HandshakeV10, both directions (parsed from the backend, encoded by the proxy).
struct HandshakeV10 {
  std::string server_version;
  std::uint32_t connection_id = 0;
  Bytes scramble;  // auth-plugin-data: 20 bytes normally (part 1 + part 2 without NUL)
  Capabilities capabilities = 0;  // incl. MariaDB extended bits (upper 32) if announced
  std::uint8_t charset = kUtf8mb4GeneralCi;
  StatusFlags status = SERVER_STATUS_AUTOCOMMIT;
  std::string auth_plugin;  // empty without CLIENT_PLUGIN_AUTH
  bool operator==(const HandshakeV10&) const = default;
};

// Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41, CLIENT_SSL set.
struct SslRequest {
  Capabilities capabilities = 0;
  std::uint32_t max_packet = kDefaultMaxPacket;
  std::uint8_t charset = kUtf8mb4GeneralCi;
  bool operator==(const SslRequest&) const = default;
};

// Protocol::HandshakeResponse41.
struct HandshakeResponse41 {
  Capabilities capabilities = 0;  // incl. MariaDB extended bits when CLIENT_MYSQL is clear
  std::uint32_t max_packet = kDefaultMaxPacket;
  std::uint8_t charset = kUtf8mb4GeneralCi;
  std::string username;
  Bytes auth_response;
  std::optional<std::string> database;     // CLIENT_CONNECT_WITH_DB (and present)
  std::optional<std::string> auth_plugin;  // CLIENT_PLUGIN_AUTH (and present)
  std::vector<std::pair<std::string, std::string>> attributes;  // CLIENT_CONNECT_ATTRS
  bool operator==(const HandshakeResponse41&) const = default;
};

using ClientLogin = std::variant<SslRequest, HandshakeResponse41>;

// Protocol::AuthSwitchRequest (0xFE). `plugin_data` is as sent (MySQL appends a NUL to
// the 20-byte scramble; scramble() strips it).
struct AuthSwitchRequest {
  std::string plugin;
  Bytes plugin_data;
  bool operator==(const AuthSwitchRequest&) const = default;
};

// Protocol::AuthMoreData (0x01).
struct AuthMoreData {
  Bytes data;
  bool operator==(const AuthMoreData&) const = default;
};

// ---- Generic response packets (page_protocol_basic_response_packets.html) ----

// Session state information carried by an OK packet when CLIENT_SESSION_TRACK was
// negotiated and SERVER_SESSION_STATE_CHANGED is set (only the parts the proxy uses are
// decoded; `raw` keeps the whole block).
struct SessionStateChange {
  std::optional<std::string> schema;  // SESSION_TRACK_SCHEMA
  std::vector<std::pair<std::string, std::string>> system_variables;  // SESSION_TRACK_SYSTEM_VARIABLES
  std::optional<std::string> transaction_state;  // SESSION_TRACK_TRANSACTION_STATE (8 chars)
  Bytes raw;
  bool operator==(const SessionStateChange&) const = default;
};

struct OkPacket {
  bool eof_header = false;  // 0xFE (OK-as-EOF with CLIENT_DEPRECATE_EOF) instead of 0x00
  std::uint64_t affected_rows = 0;
  std::uint64_t last_insert_id = 0;
  StatusFlags status = 0;
  std::uint16_t warnings = 0;
  std::string info;
  std::optional<SessionStateChange> session_state;
  bool operator==(const OkPacket&) const = default;
};

struct ErrPacket {
  std::uint16_t code = 0;
  std::string sqlstate = "HY000";  // 5 chars; "HY000" when the packet carries no marker
  std::string message;
  bool operator==(const ErrPacket&) const = default;
};

struct EofPacket {
  std::uint16_t warnings = 0;
  StatusFlags status = 0;
  bool operator==(const EofPacket&) const = default;
};

// COM_STMT_PREPARE_OK.
struct PrepareOk {
  std::uint32_t statement_id = 0;
  std::uint16_t num_columns = 0;
  std::uint16_t num_params = 0;
  std::uint16_t warnings = 0;
  bool operator==(const PrepareOk&) const = default;
};

// What a backend may answer during authentication.
using AuthReply = std::variant<OkPacket, ErrPacket, AuthSwitchRequest, AuthMoreData>;

}  // namespace segproxy::protocols::mysql
