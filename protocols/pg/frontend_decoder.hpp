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
// and bodies that do not exactly match the message's structure are Malformed.
Decoded<FrontendMessage> decode_frontend(std::span<const std::uint8_t> in, const Limits& limits);

}  // namespace segproxy::protocols::pg
