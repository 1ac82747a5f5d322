#pragma once
// Filling a session's client read buffer (issue 15; docs/architecture.md "The hot path"):
// both protocols' sessions keep the client's undecoded bytes as [start, end) of a buffer
// borrowed from the thread's pool. A fill keeps those bytes (moved to the front), makes
// room for at least `chunk` more (and for `want` bytes in all: a frame whose checked
// header announced its size) and reads what is there.
//
// fill_client_now is the plain step of a transaction (no coroutine frame): it reads only
// when a read is expected to return data. fill_client is the step that may wait: with
// nothing buffered the buffer goes back to the pool while the session waits
// (wait_client_idle), then it reads.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "daemon/net/idle_wait.hpp"
#include "daemon/net/stream.hpp"
#include "protocols/common/byte_writer.hpp"

namespace segproxy::proxy {

enum class Fill : std::uint8_t {
  Done,    // `n` > 0 bytes read behind `end` (not yet counted into it)
  Failed,  // `ec` says why (asio::error::eof: the client closed)
  Wait,    // nothing could be read without waiting: co_await fill_client(...)
};

namespace client_fill_detail {
// Keeps [start, end) at the front of `buf` and makes room (see the file comment).
inline void make_room(Stream& s, protocols::Bytes& buf, std::size_t& start, std::size_t& end, std::size_t chunk,
                      std::size_t want) {
  if (start > 0) {
    if (end > start) std::memmove(buf.data(), buf.data() + start, end - start);
    end -= start;
    start = 0;
  }
  const std::size_t target = std::max(end + chunk, want);
  if (buf.empty()) buf = s.buffers().take(target);
  if (buf.size() < target) buf.resize(target);
}
}  // namespace client_fill_detail

// The plain step: Done (`n` bytes read), Failed (`ec`) or Wait (nothing read, nothing
// given back; [start, end) may have moved to the front).
inline Fill fill_client_now(Stream& s, protocols::Bytes& buf, std::size_t& start, std::size_t& end,
                            std::size_t chunk, std::size_t want, error_code& ec, std::size_t& n) {
  n = 0;
  if (start == end) {
    if (!s.readable_now()) return Fill::Wait;  // fill_client gives the buffer back while it waits
    start = end = 0;
  }
  client_fill_detail::make_room(s, buf, start, end, chunk, want);
  if (!s.read_now(asio::buffer(buf.data() + end, buf.size() - end), ec, n)) return Fill::Wait;
  return ec ? Fill::Failed : Fill::Done;
}

// The step that may wait: returns the bytes read behind `end` (> 0), or 0 with `ec` set.
inline awaitable<std::size_t> fill_client(Stream& s, protocols::Bytes& buf, std::size_t& start, std::size_t& end,
                                          std::size_t chunk, std::size_t want, error_code& ec) {
  if (start == end) {
    co_await wait_client_idle(s, buf, start, end, ec);
    if (ec) co_return 0;
  }
  client_fill_detail::make_room(s, buf, start, end, chunk, want);
  const std::size_t n = co_await s.read_some(asio::buffer(buf.data() + end, buf.size() - end), ec);
  co_return ec ? 0 : n;
}

}  // namespace segproxy::proxy
