#pragma once
// Encoders for every message the proxy writes (to clients and to backends) and for
// every frontend message type (used by round-trip tests and the backend login).
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/byte_writer.hpp"
#include "protocols/pg/messages.hpp"

namespace segproxy::protocols::pg {

// Startup-phase packets.
void encode_startup(Bytes& out, const StartupPacket& packet);

// Frontend messages (exact inverse of decode_frontend for every alternative).
// Bind is encoded with no parameters/format codes beyond the counts given (zero-length
// values), which is enough for round-trip tests.
void encode_frontend(Bytes& out, const FrontendMessage& msg);
void encode_password(Bytes& out, std::string_view password);  // 'p' with NUL
void encode_sasl_initial_response(Bytes& out, std::string_view mechanism, std::string_view data);
void encode_sasl_response(Bytes& out, std::string_view data);

// Backend messages the proxy produces itself.
void encode_error_response(Bytes& out, const ErrorInfo& err);   // 'E': S, V, C, M, [D], [H]
void encode_notice_response(Bytes& out, const ErrorInfo& info); // 'N'
void encode_ready_for_query(Bytes& out, char status);
void encode_backend_key_data(Bytes& out, std::int32_t process_id, std::int32_t secret_key);
void encode_parameter_status(Bytes& out, std::string_view name, std::string_view value);
void encode_authentication_ok(Bytes& out);
void encode_authentication(Bytes& out, std::int32_t code, std::span<const std::uint8_t> data);
void encode_command_complete(Bytes& out, std::string_view tag);
void encode_backend_frame(Bytes& out, char type, std::span<const std::uint8_t> body);

}  // namespace segproxy::protocols::pg
