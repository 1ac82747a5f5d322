#pragma once
// The idle wait of a session's client side (issue 15; docs/architecture.md "The hot
// path"): nothing the client sent is left undecoded, so the read buffer goes back to the
// thread's pool and the session waits for readability holding none. Both protocols'
// sessions wait here: in their command loop before the next message and in their
// buffer fill when a read finds nothing buffered.
// Not a coroutine: it returns Stream::wait_readable's awaitable, so it adds no coroutine
// frame and no allocation per message.
#include <cstddef>

#include "daemon/net/stream.hpp"
#include "protocols/common/byte_writer.hpp"

namespace segproxy::proxy {

// `buf`'s undecoded bytes are [start, end), which must be empty: both are reset, `buf`
// is given back (left empty), and the awaitable completes when the client's next bytes
// may be read (`ec`: an error, reported again by the read that follows).
inline awaitable<void> wait_client_idle(Stream& client, protocols::Bytes& buf, std::size_t& start, std::size_t& end,
                                        error_code& ec) {
  start = end = 0;
  client.buffers().give_back(buf);
  return client.wait_readable(ec);
}

}  // namespace segproxy::proxy
