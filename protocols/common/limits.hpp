#pragma once
// Caps on everything a peer can make us buffer. Passed in, never global.
#include <cstddef>

namespace segproxy::protocols {

struct Limits {
  // PostgreSQL's own MAX_STARTUP_PACKET_LENGTH.
  std::size_t max_startup_packet = 10000;
  // Largest complete frontend (client -> proxy) message we will buffer and decode.
  std::size_t max_frontend_message = 64u * 1024u * 1024u;
  // Largest backend message whose body we need to inspect (auth, ErrorResponse,
  // ParameterStatus, ...). Bulk messages (DataRow, CopyData) are streamed, not buffered.
  std::size_t max_backend_control_message = 1024u * 1024u;
  // Number of startup parameters accepted.
  std::size_t max_startup_parameters = 64;
};

}  // namespace segproxy::protocols
