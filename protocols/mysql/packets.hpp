#pragma once
// Generic response packets: OK, ERR, EOF, COM_STMT_PREPARE_OK, the column count of a
// result set; classification by header byte. Input/output are logical message payloads
// (frame them with framer.hpp). Payload decoders never return NeedMore: a payload is
// either Ok (consumed == its size) or Malformed with a reason.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocols/common/decoded.hpp"
#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/messages.hpp"

namespace segproxy::protocols::mysql {

inline constexpr std::uint8_t kOkHeader = 0x00;
inline constexpr std::uint8_t kAuthMoreDataHeader = 0x01;
inline constexpr std::uint8_t kLocalInfileHeader = 0xFB;
inline constexpr std::uint8_t kEofHeader = 0xFE;
inline constexpr std::uint8_t kErrHeader = 0xFF;

// ---- Classification by first byte and logical size (works on a truncated head) ----
// An EOF packet is 0xFE with a payload shorter than 9 bytes; with CLIENT_DEPRECATE_EOF
// the end of a result set is an OK packet with a 0xFE header and a payload shorter than
// 0xFFFFFF (a row starting with 0xFE would carry a >= 2^24-byte first column).
inline bool is_err(std::span<const std::uint8_t> head, std::size_t size) {
  return size > 0 && !head.empty() && head[0] == kErrHeader;
}
inline bool is_eof(std::span<const std::uint8_t> head, std::size_t size) {
  return size > 0 && size < 9 && !head.empty() && head[0] == kEofHeader;
}
inline bool is_ok_eof_terminator(std::span<const std::uint8_t> head, std::size_t size) {
  return size > 0 && size < 0xFFFFFF && !head.empty() && head[0] == kEofHeader;
}
inline bool is_ok(std::span<const std::uint8_t> head, std::size_t size) {
  return size >= 3 && !head.empty() && head[0] == kOkHeader;
}

// ---- OK ----
// Accepts the 0x00 header, and 0xFE when `allow_eof_header` (OK-as-EOF terminators with
// CLIENT_DEPRECATE_EOF). Session-state information is decoded when CLIENT_SESSION_TRACK
// is in `caps` and SERVER_SESSION_STATE_CHANGED is set.
Decoded<OkPacket> decode_ok(std::span<const std::uint8_t> payload, Capabilities caps, bool allow_eof_header = false);
void encode_ok(Bytes& out, const OkPacket& ok, Capabilities caps);

// ---- ERR ----
// The '#' + 5-character SQLSTATE marker is read when present (CLIENT_PROTOCOL_41; also
// tolerated before capabilities are known, e.g. an ERR instead of the greeting).
Decoded<ErrPacket> decode_err(std::span<const std::uint8_t> payload, Capabilities caps);
// Writes 0xFF, code, ['#' sqlstate] (with CLIENT_PROTOCOL_41; a sqlstate that is not
// 5 characters becomes "HY000"), message.
void encode_err(Bytes& out, const ErrPacket& err, Capabilities caps);
// Convenience: the proxy's own ERR as a framed packet with sequence id `seq`.
void encode_err_packet(Bytes& out, std::uint8_t seq, std::uint16_t code, std::string_view sqlstate,
                       std::string_view message, Capabilities caps);

// ---- EOF ----
Decoded<EofPacket> decode_eof(std::span<const std::uint8_t> payload, Capabilities caps);
void encode_eof(Bytes& out, const EofPacket& eof, Capabilities caps);

// ---- COM_STMT_PREPARE_OK ----
Decoded<PrepareOk> decode_prepare_ok(std::span<const std::uint8_t> payload);
void encode_prepare_ok(Bytes& out, const PrepareOk& ok);

// ---- Result set head: the column count (int<lenenc>, > 0) ----
Decoded<std::uint64_t> decode_column_count(std::span<const std::uint8_t> payload);

// ---- Text protocol row (ProtocolText::ResultsetRow): `columns` values, each a
// string<lenenc> or NULL (0xFB). Malformed when the payload holds fewer or more. ----
using TextRow = std::vector<std::optional<std::string>>;
Decoded<TextRow> decode_text_row(std::span<const std::uint8_t> payload, std::uint64_t columns);

}  // namespace segproxy::protocols::mysql
