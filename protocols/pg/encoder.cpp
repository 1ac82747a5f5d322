// Encoders: the exact inverse of the decoders, plus the backend messages the proxy
// writes itself. Spec: PostgreSQL 15 docs, 55.7 "Message Formats".
#include "protocols/pg/encoder.hpp"

#include <cstring>
#include <type_traits>

namespace segproxy::protocols::pg {

namespace {

// A String field cannot hold a NUL; text the proxy composes is cut at the first one so
// the frame stays well-formed whatever ends up in it.
std::string_view until_nul(std::string_view s) {
  const auto at = s.find('\0');
  return at == std::string_view::npos ? s : s.substr(0, at);
}

void write_fields(Bytes& out, char type, const ErrorInfo& e) {
  ByteWriter w(out);
  const auto at = w.begin_message(type);
  w.u8('S');
  w.cstring(until_nul(e.severity));
  w.u8('V');
  w.cstring(until_nul(e.severity));
  w.u8('C');
  w.cstring(until_nul(e.sqlstate));
  w.u8('M');
  w.cstring(until_nul(e.message));
  if (!e.detail.empty()) {
    w.u8('D');
    w.cstring(until_nul(e.detail));
  }
  if (!e.hint.empty()) {
    w.u8('H');
    w.cstring(until_nul(e.hint));
  }
  w.u8(0);
  w.end_message(at);
}

void write_target(ByteWriter& w, char type, char target, std::string_view name) {
  const auto at = w.begin_message(type);
  w.u8(static_cast<std::uint8_t>(target));
  w.cstring(name);
  w.end_message(at);
}

void write_empty(ByteWriter& w, char type) { w.end_message(w.begin_message(type)); }

}  // namespace

void encode_startup(Bytes& out, const StartupPacket& packet) {
  ByteWriter w(out);
  const auto at = w.begin_message('\0');
  std::visit(
      [&w](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, SslRequest>) {
          w.i32(kSslRequestCode);
        } else if constexpr (std::is_same_v<T, GssEncRequest>) {
          w.i32(kGssEncRequestCode);
        } else if constexpr (std::is_same_v<T, CancelRequest>) {
          w.i32(kCancelRequestCode);
          w.i32(p.process_id);
          w.i32(p.secret_key);
        } else {
          static_assert(std::is_same_v<T, StartupMessage>);
          w.i32(p.protocol_version);
          for (const auto& [name, value] : p.parameters) {
            w.cstring(name);
            w.cstring(value);
          }
          w.u8(0);
        }
      },
      packet);
  w.end_message(at);
}

void encode_frontend(Bytes& out, const FrontendMessage& msg) {
  ByteWriter w(out);
  std::visit(
      [&w](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Query>) {
          const auto at = w.begin_message('Q');
          w.cstring(m.sql);
          w.end_message(at);
        } else if constexpr (std::is_same_v<T, Parse>) {
          const auto at = w.begin_message('P');
          w.cstring(m.statement);
          w.cstring(m.query);
          w.u16(m.param_type_count);
          for (std::uint16_t i = 0; i < m.param_type_count; ++i) w.u32(0);  // unspecified type
          w.end_message(at);
        } else if constexpr (std::is_same_v<T, Bind>) {
          const auto at = w.begin_message('B');
          w.cstring(m.portal);
          w.cstring(m.statement);
          w.u16(m.param_format_count);
          for (std::uint16_t i = 0; i < m.param_format_count; ++i) w.i16(0);
          w.u16(m.param_count);
          for (std::uint16_t i = 0; i < m.param_count; ++i) w.i32(0);  // zero-length value
          w.u16(m.result_format_count);
          for (std::uint16_t i = 0; i < m.result_format_count; ++i) w.i16(0);
          w.end_message(at);
        } else if constexpr (std::is_same_v<T, Describe>) {
          write_target(w, 'D', m.target, m.name);
        } else if constexpr (std::is_same_v<T, Execute>) {
          const auto at = w.begin_message('E');
          w.cstring(m.portal);
          w.i32(m.max_rows);
          w.end_message(at);
        } else if constexpr (std::is_same_v<T, Close>) {
          write_target(w, 'C', m.target, m.name);
        } else if constexpr (std::is_same_v<T, Sync>) {
          write_empty(w, 'S');
        } else if constexpr (std::is_same_v<T, Flush>) {
          write_empty(w, 'H');
        } else if constexpr (std::is_same_v<T, Terminate>) {
          write_empty(w, 'X');
        } else if constexpr (std::is_same_v<T, CopyData>) {
          const auto at = w.begin_message('d');
          w.bytes(m.data);
          w.end_message(at);
        } else if constexpr (std::is_same_v<T, CopyDone>) {
          write_empty(w, 'c');
        } else if constexpr (std::is_same_v<T, CopyFail>) {
          const auto at = w.begin_message('f');
          w.cstring(m.message);
          w.end_message(at);
        } else if constexpr (std::is_same_v<T, FunctionCall>) {
          const auto at = w.begin_message('F');
          w.i32(m.function_oid);
          w.i16(0);  // argument format codes
          w.i16(0);  // arguments
          w.i16(0);  // result format: text
          w.end_message(at);
        } else {
          static_assert(std::is_same_v<T, PasswordMessage>);
          const auto at = w.begin_message('p');
          w.bytes(m.data);
          w.end_message(at);
        }
      },
      msg);
}

void encode_password(Bytes& out, std::string_view password) {
  ByteWriter w(out);
  const auto at = w.begin_message('p');
  w.cstring(password);
  w.end_message(at);
}

// SASLInitialResponse: mechanism String, Int32 length of the data, the data.
void encode_sasl_initial_response(Bytes& out, std::string_view mechanism, std::string_view data) {
  ByteWriter w(out);
  const auto at = w.begin_message('p');
  w.cstring(mechanism);
  w.i32(static_cast<std::int32_t>(data.size()));
  w.bytes(data);
  w.end_message(at);
}

void encode_sasl_response(Bytes& out, std::string_view data) {
  ByteWriter w(out);
  const auto at = w.begin_message('p');
  w.bytes(data);
  w.end_message(at);
}

void encode_error_response(Bytes& out, const ErrorInfo& err) { write_fields(out, 'E', err); }

void encode_notice_response(Bytes& out, const ErrorInfo& info) { write_fields(out, 'N', info); }

void encode_ready_for_query(Bytes& out, char status) {
  ByteWriter w(out);
  const auto at = w.begin_message('Z');
  w.u8(static_cast<std::uint8_t>(status));
  w.end_message(at);
}

void encode_backend_key_data(Bytes& out, std::int32_t process_id, std::int32_t secret_key) {
  ByteWriter w(out);
  const auto at = w.begin_message('K');
  w.i32(process_id);
  w.i32(secret_key);
  w.end_message(at);
}

void encode_parameter_status(Bytes& out, std::string_view name, std::string_view value) {
  ByteWriter w(out);
  const auto at = w.begin_message('S');
  w.cstring(until_nul(name));
  w.cstring(until_nul(value));
  w.end_message(at);
}

void encode_authentication_ok(Bytes& out) { encode_authentication(out, 0, {}); }

void encode_authentication(Bytes& out, std::int32_t code, std::span<const std::uint8_t> data) {
  ByteWriter w(out);
  const auto at = w.begin_message('R');
  w.i32(code);
  w.bytes(data);
  w.end_message(at);
}

void encode_command_complete(Bytes& out, std::string_view tag) {
  ByteWriter w(out);
  const auto at = w.begin_message('C');
  w.cstring(until_nul(tag));
  w.end_message(at);
}

void encode_backend_frame(Bytes& out, char type, std::span<const std::uint8_t> body) {
  ByteWriter w(out);
  const auto at = w.begin_message(type);
  w.bytes(body);
  w.end_message(at);
}

}  // namespace segproxy::protocols::pg
