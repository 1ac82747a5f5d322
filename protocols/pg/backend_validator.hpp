#pragma once
// Structure checks of backend (server -> client) message bodies, for what the proxy
// relays (issue 12 item 4.4): a malformed message must end the backend connection with
// a clean FATAL instead of reaching the client. Pure; used by BackendStream in
// BackendCheck::Structure mode on the bodies it already buffers (no extra copy).
// Spec: PostgreSQL 15 docs 55.7 "Message Formats", 55.8 "Error and Notice Message Fields".
#include <cstdint>
#include <span>

namespace segproxy::protocols::pg {

// Every message type a PostgreSQL 15 server may send after authentication (not 'R'
// Authentication, 'K' BackendKeyData, 'v' NegotiateProtocolVersion: startup only).
bool is_relay_backend_type(char type);

// Types whose body BackendStream buffers (capped) in Structure mode to check it whole:
// the watched control messages plus RowDescription 'T', ParameterDescription 't' and
// FunctionCallResponse 'V'. DataRow is checked while it streams (and its column count
// against its RowDescription, result_shape.hpp); CopyData is opaque.
bool is_checked_whole(char type);

// true if `body` is a well-formed body of a message of `type` (one of is_checked_whole):
//  E  fields NUL-terminated, then a final NUL; S (or V), C (5 characters of [0-9A-Z]) and M present
//  N  fields NUL-terminated, then a final NUL; S (or V) and M present
//  C  one NUL-terminated tag, nothing after        Z  exactly one byte of I / T / E
//  S  name and value, NUL-terminated, name non-empty   K  exactly 8 bytes
//  A  Int32 pid, channel, payload                  1 2 3 I n s c  empty
//  G H W  Int8 format (0/1), Int16 n >= 0, n Int16 formats (0/1), nothing after
//  T  Int16 n >= 0, n fields of (name, Int32, Int16, Int32, Int16, Int32, Int16 format 0/1)
//  t  Int16 n >= 0, n Int32                        V  Int32 len (-1 or the rest), bytes
//  R  an authentication request (parse_authentication)
bool valid_backend_body(char type, std::span<const std::uint8_t> body);

}  // namespace segproxy::protocols::pg
