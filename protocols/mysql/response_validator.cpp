// MySQL response packet structure checks (see response_validator.hpp).
// Spec: MySQL Client/Server Protocol, "Protocol::ColumnDefinition41", "Text Resultset Row".
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

}  // namespace segproxy::protocols::mysql
