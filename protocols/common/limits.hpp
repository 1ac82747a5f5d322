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
  // MySQL: largest logical client -> proxy message (reassembled from 16 MiB packets)
  // we buffer and decode; also the cap for the handshake/login phase of either side.
  std::size_t max_mysql_client_message = 64u * 1024u * 1024u;
  // MySQL: largest logical backend message we follow (rows are streamed, not buffered;
  // 1 GiB is MySQL's highest max_allowed_packet).
  std::size_t max_mysql_backend_message = 1024u * 1024u * 1024u;
  // MySQL: bytes of a backend packet kept for inspection (OK/ERR/EOF, column
  // definitions, prepare OK); a control packet longer than this is Malformed.
  std::size_t max_mysql_backend_control = 1024u * 1024u;
  // MySQL: total size of the connection attributes in a HandshakeResponse41 and their
  // number (MySQL's own limit is 64 KiB).
  std::size_t max_mysql_connect_attrs_bytes = 64u * 1024u;
  std::size_t max_mysql_connect_attrs = 64;
};

}  // namespace segproxy::protocols
