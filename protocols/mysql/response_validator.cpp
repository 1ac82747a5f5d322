// MySQL response packet structure checks (see response_validator.hpp).
// Spec: MySQL Client/Server Protocol, "Protocol::ColumnDefinition41", "Text Resultset Row",
// "Binary Protocol Resultset Row", "Binary Protocol Value"; field types: include/field_types.h.
#include "protocols/mysql/response_validator.hpp"

#include "protocols/mysql/wire.hpp"

namespace segproxy::protocols::mysql {

bool valid_column_definition(std::span<const std::uint8_t> packet, bool field_list, bool extended_type_info) {
  LeReader r(packet);
  for (int i = 0; i < 6; ++i) r.lenenc_bytes();  // catalog, schema, table, org_table, name, org_name
  if (extended_type_info) r.lenenc_bytes();
  const std::uint64_t fixed = r.lenenc();
  if (!r.ok() || fixed != 0x0C) return false;
  r.bytes(12);
  if (!r.ok()) return false;
  if (r.at_end()) return true;
  if (!field_list) return false;
  r.lenenc_bytes();  // default value
  return r.at_end();
}

bool valid_text_row(std::span<const std::uint8_t> packet) {
  LeReader r(packet);
  while (r.ok() && !r.at_end()) {
    bool is_null = false;
    const std::uint64_t n = r.lenenc_or_null(is_null);
    if (!r.ok()) return false;
    if (is_null) continue;
    if (n > r.remaining()) return false;
    r.bytes(static_cast<std::size_t>(n));
  }
  return r.at_end();
}

std::optional<std::uint8_t> column_definition_type(std::span<const std::uint8_t> packet, bool extended_type_info) {
  LeReader r(packet);
  for (int i = 0; i < 6; ++i) r.lenenc_bytes();
  if (extended_type_info) r.lenenc_bytes();
  if (r.lenenc() != 0x0C || !r.ok()) return std::nullopt;
  r.bytes(6);  // charset, column length
  const std::uint8_t type = r.u8();
  if (!r.ok()) return std::nullopt;
  return type;
}

namespace {

// Bytes of a binary value of `type` (reading its length prefix), or false.
bool skip_binary_value(LeReader& r, std::uint8_t type) {
  switch (type) {
    case 0x01:  // TINY
      r.bytes(1);
      break;
    case 0x02:  // SHORT
    case 0x0d:  // YEAR
      r.bytes(2);
      break;
    case 0x03:  // LONG
    case 0x09:  // INT24
    case 0x04:  // FLOAT
      r.bytes(4);
      break;
    case 0x08:  // LONGLONG
    case 0x05:  // DOUBLE
      r.bytes(8);
      break;
    case 0x06:  // NULL: no value
      break;
    case 0x07:  // TIMESTAMP
    case 0x0a:  // DATE
    case 0x0c:  // DATETIME
    case 0x0e:  // NEWDATE
    case 0x11:  // TIMESTAMP2
    case 0x12: {  // DATETIME2
      const std::uint8_t n = r.u8();
      if (r.ok() && n != 0 && n != 4 && n != 7 && n != 11) return false;
      r.bytes(n);
      break;
    }
    case 0x0b:    // TIME
    case 0x13: {  // TIME2
      const std::uint8_t n = r.u8();
      if (r.ok() && n != 0 && n != 8 && n != 12) return false;
      r.bytes(n);
      break;
    }
    case 0x00:  // DECIMAL
    case 0x0f:  // VARCHAR
    case 0x10:  // BIT
    case 0xf2:  // VECTOR (MySQL 9)
    case 0xf5:  // JSON
    case 0xf6:  // NEWDECIMAL
    case 0xf7:  // ENUM
    case 0xf8:  // SET
    case 0xf9:  // TINY_BLOB
    case 0xfa:  // MEDIUM_BLOB
    case 0xfb:  // LONG_BLOB
    case 0xfc:  // BLOB
    case 0xfd:  // VAR_STRING
    case 0xfe:  // STRING
    case 0xff:  // GEOMETRY
      r.lenenc_bytes();
      break;
    default:
      return false;
  }
  return r.ok();
}

}  // namespace

bool valid_binary_row(std::span<const std::uint8_t> packet, std::span<const std::uint8_t> types) {
  LeReader r(packet);
  if (r.u8() != 0x00 || !r.ok()) return false;
  const std::size_t bitmap_size = (types.size() + 7 + 2) / 8;
  const auto bitmap = r.bytes(bitmap_size);
  if (!r.ok()) return false;
  for (std::size_t i = 0; i < types.size(); ++i) {
    const std::size_t bit = i + 2;
    if ((bitmap[bit / 8] >> (bit % 8)) & 1) continue;  // NULL
    if (!skip_binary_value(r, types[i])) return false;
  }
  return r.at_end();
}

}  // namespace segproxy::protocols::mysql
