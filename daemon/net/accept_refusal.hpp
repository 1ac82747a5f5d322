#pragma once
// The answer to a connection refused at accept by a connection cap
// (limits.max_concurrent_handshakes, max_handshakes_per_address,
// max_connections_per_address; daemon/net/address_limits.hpp), before any session
// exists: the protocol's own "too many connections", as its server says it, written
// without waiting, then the connection closed.
//  - PostgreSQL: ErrorResponse FATAL 53300 "sorry, too many clients already" in plaintext,
//    the answer libpq reads in place of the SSLRequest's 'S' / 'N' (PostgreSQL's
//    postmaster answers a connection it cannot serve this way). Whatever the client
//    already sent is read and dropped first, so the close is a FIN, not a reset that could
//    discard the answer at the client.
//  - MySQL: an ERR packet 1040 (ER_CON_COUNT_ERROR) "Too many connections" in place of the
//    greeting, as MariaDB sends it.
// The cost stays a few non-blocking system calls: nothing is waited for.
#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

void refuse_at_accept(tcp::socket& sock, bool mysql);

}  // namespace segproxy::proxy
