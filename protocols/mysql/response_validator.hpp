#pragma once
// Structure checks of MySQL / MariaDB response packets the proxy relays (issue 12 item
// 4.4): every length-encoded integer and string must lie inside its packet. Pure; used by
// ResponseTracker on packets it already holds (no extra copy).
#include <cstdint>
#include <span>

namespace segproxy::protocols::mysql {

// ColumnDefinition41: lenenc strings catalog, schema, table, org_table, name, org_name,
// (with MARIADB_CLIENT_EXTENDED_TYPE_INFO: the extended type info, string<lenenc>);
// int<lenenc> 0x0C; charset(2) length(4) type(1) flags(2) decimals(1) filler(2). With
// `field_list` (COM_FIELD_LIST) a lenenc default value may follow; otherwise nothing.
bool valid_column_definition(std::span<const std::uint8_t> packet, bool field_list, bool extended_type_info);

// A text-protocol result row: string<lenenc> or 0xFB (NULL) values, each inside the
// packet, which they fill exactly.
bool valid_text_row(std::span<const std::uint8_t> packet);

}  // namespace segproxy::protocols::mysql
