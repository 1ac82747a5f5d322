#pragma once
// Typed PostgreSQL protocol 3.0 messages (https://www.postgresql.org/docs/15/protocol-message-formats.html).
// Decoded messages are *views* into the caller's buffer: valid until those bytes are
// consumed. The proxy decodes and checks every client frame, then forwards the
// original bytes unchanged.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace segproxy::protocols::pg {

inline constexpr std::int32_t kProtocolVersion30 = 196608;  // 3.0
inline constexpr std::int32_t kSslRequestCode = 80877103;
inline constexpr std::int32_t kGssEncRequestCode = 80877104;
inline constexpr std::int32_t kCancelRequestCode = 80877102;

// ---- Startup phase (untyped: Int32 length, Int32 code/version, body) ----
struct SslRequest {
  bool operator==(const SslRequest&) const = default;
};
struct GssEncRequest {
  bool operator==(const GssEncRequest&) const = default;
};
struct CancelRequest {
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  bool operator==(const CancelRequest&) const = default;
};
struct StartupMessage {
  std::int32_t protocol_version = kProtocolVersion30;
  std::vector<std::pair<std::string, std::string>> parameters;  // in wire order
  bool operator==(const StartupMessage&) const = default;
};
using StartupPacket = std::variant<SslRequest, GssEncRequest, CancelRequest, StartupMessage>;

// ---- Frontend (client -> server) typed messages, after startup ----
struct Query {  // 'Q'
  std::string_view sql;
  bool operator==(const Query&) const = default;
};
struct Parse {  // 'P'
  std::string_view statement;
  std::string_view query;
  std::uint16_t param_type_count = 0;
  bool operator==(const Parse&) const = default;
};
struct Bind {  // 'B' (structure fully validated; parameter values not copied)
  std::string_view portal;
  std::string_view statement;
  std::uint16_t param_format_count = 0;
  std::uint16_t param_count = 0;
  std::uint16_t result_format_count = 0;
  bool operator==(const Bind&) const = default;
};
struct Describe {  // 'D'; target is 'S' (statement) or 'P' (portal)
  char target = 'S';
  std::string_view name;
  bool operator==(const Describe&) const = default;
};
struct Execute {  // 'E'
  std::string_view portal;
  std::int32_t max_rows = 0;
  bool operator==(const Execute&) const = default;
};
struct Close {  // 'C'; target is 'S' or 'P'
  char target = 'S';
  std::string_view name;
  bool operator==(const Close&) const = default;
};
struct Sync {  // 'S'
  bool operator==(const Sync&) const = default;
};
struct Flush {  // 'H'
  bool operator==(const Flush&) const = default;
};
struct Terminate {  // 'X'
  bool operator==(const Terminate&) const = default;
};
struct CopyData {  // 'd'
  std::span<const std::uint8_t> data;
  bool operator==(const CopyData& o) const {
    return data.size() == o.data.size() && std::equal(data.begin(), data.end(), o.data.begin());
  }
};
struct CopyDone {  // 'c'
  bool operator==(const CopyDone&) const = default;
};
struct CopyFail {  // 'f'
  std::string_view message;
  bool operator==(const CopyFail&) const = default;
};
struct FunctionCall {  // 'F' (fast-path; the proxy refuses it)
  std::int32_t function_oid = 0;
  bool operator==(const FunctionCall&) const = default;
};
struct PasswordMessage {  // 'p' (password / SASL responses; only valid during auth)
  std::span<const std::uint8_t> data;
  bool operator==(const PasswordMessage& o) const {
    return data.size() == o.data.size() && std::equal(data.begin(), data.end(), o.data.begin());
  }
};

using FrontendMessage = std::variant<Query, Parse, Bind, Describe, Execute, Close, Sync, Flush,
                                     Terminate, CopyData, CopyDone, CopyFail, FunctionCall,
                                     PasswordMessage>;

// ---- Backend (server -> client) ----
// A complete backend frame: type byte + body (without the length word).
struct BackendFrame {
  char type = 0;
  std::span<const std::uint8_t> body;
};

enum class AuthCode : std::int32_t {
  Ok = 0,
  KerberosV5 = 2,
  CleartextPassword = 3,
  Md5Password = 5,
  Gss = 7,
  GssContinue = 8,
  Sspi = 9,
  Sasl = 10,
  SaslContinue = 11,
  SaslFinal = 12,
};

struct AuthenticationRequest {  // 'R'
  std::int32_t code = 0;
  std::span<const std::uint8_t> data;  // md5: 4-byte salt; SASL: mechanism list; SASL*: payload
};

struct ParameterStatus {  // 'S'
  std::string_view name;
  std::string_view value;
};

struct BackendKeyData {  // 'K'
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
};

// Fields of an ErrorResponse ('E') or NoticeResponse ('N').
struct ErrorFields {
  std::string severity;   // 'S' (localized) or 'V'
  std::string sqlstate;   // 'C'
  std::string message;    // 'M'
  std::string detail;     // 'D'
  std::string hint;       // 'H'
};

// The same fields as views into the message body (valid while the body is).
struct ErrorView {
  std::string_view severity;
  std::string_view sqlstate;
  std::string_view message;
  std::string_view detail;
  std::string_view hint;
};

// What the proxy sends to a client as an error of its own.
struct ErrorInfo {
  std::string severity = "ERROR";  // ERROR | FATAL | PANIC
  std::string sqlstate;            // e.g. "28000"
  std::string message;
  std::string detail;  // optional
  std::string hint;    // optional
};

}  // namespace segproxy::protocols::pg
