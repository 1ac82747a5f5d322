#pragma once
// The relay's hold-back of backend bytes (issue 20, limits.backend_message_timeout): the
// start of an unfinished backend message is kept at the front of the relay buffer instead
// of being relayed while it is short (at most `cap` bytes), so that if the backend stalls
// in the middle of it the client has received nothing of it and can still be sent a clean
// FATAL. Pure: it reads the boundaries the BackendStream followed in the bytes the relay
// fed it, and says how many leading bytes of the buffer may go to the client now.
#include <cstddef>
#include <string>

#include "protocols/pg/backend_decoder.hpp"

namespace segproxy::protocols::pg {

class BackendHoldBack {
 public:
  explicit BackendHoldBack(std::size_t cap) : cap_(cap) {}

  // The relay buffer holds held() bytes (kept back last time) followed by `fresh` bytes
  // that were just fed to `stream` (successfully). Returns how many leading bytes of the
  // buffer go to the client now; the rest (held() afterwards) stays, to be moved to the
  // buffer's front and followed by the next bytes read.
  std::size_t relayable(const BackendStream& stream, std::size_t fresh) {
    const std::size_t old = held_;
    const std::size_t total = old + fresh;
    // Where the unfinished message starts: in the fresh bytes (pending_start), or, when
    // it began before them, in the held bytes - which always start with it (offset 0),
    // unless nothing was held (it began in bytes already relayed: nothing to hold back).
    // pending_start() is npos on a boundary too: then everything goes.
    const std::size_t p = stream.pending_start();
    std::size_t begin = std::string::npos;
    if (p != std::string::npos) begin = old + p;
    else if (old > 0 && !stream.at_boundary()) begin = 0;
    const std::size_t relay = begin != std::string::npos && total - begin <= cap_ ? begin : total;
    held_ = total - relay;
    return relay;
  }

  // Bytes kept back at the buffer's front.
  std::size_t held() const { return held_; }
  // The relay took every byte of the buffer itself (it replaced answers): none are held.
  void forget() { held_ = 0; }

 private:
  std::size_t cap_;
  std::size_t held_ = 0;
};

}  // namespace segproxy::protocols::pg
