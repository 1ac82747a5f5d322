// Backend message body structure checks (see backend_validator.hpp).
#include "protocols/pg/backend_validator.hpp"

#include <string_view>

#include "protocols/common/byte_reader.hpp"
#include "protocols/pg/backend_decoder.hpp"

namespace segproxy::protocols::pg {

namespace {

bool valid_sqlstate(std::string_view s) {
  if (s.size() != 5) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

// ErrorResponse / NoticeResponse: Byte1 code + String, repeated, then a zero byte.
bool valid_fields(std::span<const std::uint8_t> body, bool error) {
  ByteReader r(body);
  bool severity = false, message = false, sqlstate = false;
  for (;;) {
    const std::uint8_t code = r.u8();
    if (!r.ok()) return false;
    if (code == 0) break;
    const std::string_view value = r.cstring();
    if (!r.ok()) return false;
    if (code == 'S' || code == 'V') severity = severity || !value.empty();
    if (code == 'M') message = true;
    if (code == 'C') {
      if (!valid_sqlstate(value)) return false;
      sqlstate = true;
    }
  }
  if (!r.at_end()) return false;
  return severity && message && (sqlstate || !error);
}

bool valid_format(std::int16_t f) { return f == 0 || f == 1; }

bool valid_copy_response(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  const std::uint8_t overall = r.u8();
  const std::int16_t n = r.i16();
  if (!r.ok() || overall > 1 || n < 0) return false;
  for (std::int16_t i = 0; i < n; ++i) {
    if (!valid_format(r.i16()) || !r.ok()) return false;
  }
  return r.at_end();
}

bool valid_row_description(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  const std::int16_t n = r.i16();
  if (!r.ok() || n < 0) return false;
  for (std::int16_t i = 0; i < n; ++i) {
    r.cstring();
    r.i32();  // table oid
    r.i16();  // column number
    r.i32();  // type oid
    r.i16();  // type size
    r.i32();  // type modifier
    const std::int16_t format = r.i16();
    if (!r.ok() || !valid_format(format)) return false;
  }
  return r.at_end();
}

bool valid_parameter_description(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  const std::int16_t n = r.i16();
  if (!r.ok() || n < 0) return false;
  return body.size() == 2 + 4 * static_cast<std::size_t>(n);
}

bool valid_function_call_response(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  const std::int32_t len = r.i32();
  if (!r.ok()) return false;
  if (len == -1) return r.at_end();
  return len >= 0 && body.size() - 4 == static_cast<std::size_t>(len);
}

bool valid_notification(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  r.i32();
  r.cstring();
  r.cstring();
  return r.ok() && r.at_end();
}

}  // namespace

bool is_relay_backend_type(char type) {
  switch (type) {
    case 'S': case 'Z': case 'E': case 'N': case 'C': case 'T': case 'D':
    case 'I': case '1': case '2': case '3': case 's': case 'n': case 't': case 'G': case 'H':
    case 'W': case 'd': case 'c': case 'A': case 'V':
      return true;
    default:
      return false;
  }
}

bool is_checked_whole(char type) {
  switch (type) {
    case 'Z': case 'E': case 'C': case 'S': case 'G': case 'H': case 'W': case 'R':
    case 'K': case 'A': case 'N': case 'I': case '1': case '2': case '3': case 's':
    case 'T': case 't': case 'V': case 'n': case 'c':
      return true;
    default:
      return false;
  }
}

bool valid_backend_body(char type, std::span<const std::uint8_t> body) {
  switch (type) {
    case 'E': return valid_fields(body, true);
    case 'N': return valid_fields(body, false);
    case 'C': return parse_command_complete(body).has_value();
    case 'Z': return parse_ready_for_query(body).has_value();
    case 'S': return parse_parameter_status(body).has_value();
    case 'K': return parse_backend_key_data(body).has_value();
    case 'R': return parse_authentication(body).has_value();
    case 'A': return valid_notification(body);
    case 'G': case 'H': case 'W': return valid_copy_response(body);
    case 'T': return valid_row_description(body);
    case 't': return valid_parameter_description(body);
    case 'V': return valid_function_call_response(body);
    case '1': case '2': case '3': case 'I': case 'n': case 's': case 'c':
      return body.empty();
    default:
      return false;
  }
}

}  // namespace segproxy::protocols::pg
