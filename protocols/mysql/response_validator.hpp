#pragma once
// Structure checks of MySQL / MariaDB response packets the proxy relays (issue 12 item
// 4.4): every length-encoded integer and string must lie inside its packet. Pure; used by
// ResponseTracker on packets it already holds (no extra copy).
#include <cstdint>
#include <optional>
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

// The column type byte of a ColumnDefinition41 (nullopt when it is malformed).
std::optional<std::uint8_t> column_definition_type(std::span<const std::uint8_t> packet, bool extended_type_info);

// A binary-protocol result row (COM_STMT_EXECUTE; "Binary Protocol Resultset Row") for
// columns of `types`: header 0x00, a NULL bitmap of (n + 7 + 2) / 8 bytes (offset 2),
// then each non-NULL value as its type stores it - fixed 1 / 2 / 4 / 8 bytes for the
// integer and floating types, a length byte of 0 / 4 / 7 / 11 (DATE, DATETIME,
// TIMESTAMP) or 0 / 8 / 12 (TIME) and that many bytes, a string<lenenc> for the string,
// decimal, bit, enum, set, blob, JSON, geometry and vector types - all inside the packet,
// which they fill exactly. An unknown type is refused (the value's length is unknown).
bool valid_binary_row(std::span<const std::uint8_t> packet, std::span<const std::uint8_t> types);

}  // namespace segproxy::protocols::mysql
