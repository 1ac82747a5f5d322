#pragma once
// Decoders for what a client sends. Pure functions over a byte span.
#include <span>

#include "protocols/common/decoded.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/pg/messages.hpp"

namespace segproxy::protocols::pg {

// Decodes the first packet of a connection (no type byte): SSLRequest, GSSENCRequest,
// CancelRequest or StartupMessage. Lengths below 8 or above limits.max_startup_packet,
// protocol major != 3, unterminated/empty parameter names, a missing final terminator,
// or more than limits.max_startup_parameters are Malformed.
Decoded<StartupPacket> decode_startup(std::span<const std::uint8_t> in, const Limits& limits);

// Decodes one typed frontend message. Unknown types, length < 4, length above
// limits.max_frontend_message (checked from the header alone, before the body arrives),
// and bodies that do not exactly match the message's structure are Malformed. NeedMore
// after a complete, checked header carries the frame size in `needed`.
Decoded<FrontendMessage> decode_frontend(std::span<const std::uint8_t> in, const Limits& limits);

// Size in bytes (type byte + length word + body) of the typed frontend message at the
// start of `in`, read from its header alone: how much a reader must buffer before
// decode_frontend can decode it. 0 when fewer than 5 bytes are buffered or when
// decode_frontend would reject the header (unknown type, length below 4 or above
// limits.max_frontend_message): a reader must never size a buffer from an unchecked length.
std::size_t frontend_frame_size(std::span<const std::uint8_t> in, const Limits& limits) noexcept;

}  // namespace segproxy::protocols::pg
