// Fuzz target: client -> proxy decoding (decode_startup, then decode_frontend).
// The visible prefix of the stream grows by the chunk sizes from the input header, as
// it would when bytes arrive from a socket. Checked for every decode:
//   consumed <= size; NeedMore and Malformed consume nothing; Malformed has a reason;
//   a result on a prefix equals the result on the whole remaining stream;
//   decode(encode(m)) == m, and encode(m) is the original bytes where the encoding is
//   canonical (everything except Parse/Bind/FunctionCall, whose values are not kept).
#include <cstdint>
#include <variant>

#include "fuzz_support.hpp"
#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"

namespace {

using namespace segproxy::protocols;
using namespace segproxy::protocols::pg;

template <class T>
bool same_result(const Decoded<T>& a, const Decoded<T>& b) {
  if (a.status != b.status) return false;
  if (a.status == DecodeStatus::NeedMore) return true;  // a prefix may wait where the whole fails
  return a.consumed == b.consumed && (a.status != DecodeStatus::Ok || a.value == b.value);
}

void check_startup(std::span<const std::uint8_t> view, std::span<const std::uint8_t> whole,
                   const Decoded<StartupPacket>& d, const Limits& limits) {
  FUZZ_CHECK(d.consumed <= view.size());
  if (d.status != DecodeStatus::Ok) {
    FUZZ_CHECK(d.consumed == 0);
    FUZZ_CHECK((d.status == DecodeStatus::Malformed) == !d.error.empty());
  } else {
    FUZZ_CHECK(d.consumed >= 8);
    Bytes again;
    encode_startup(again, d.value);
    FUZZ_CHECK(again.size() == d.consumed);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), view.begin()));
    const auto rd = decode_startup(again, limits);
    FUZZ_CHECK(rd.status == DecodeStatus::Ok && rd.consumed == again.size() && rd.value == d.value);
  }
  if (d.status != DecodeStatus::NeedMore) {
    const auto w = decode_startup(whole, limits);
    FUZZ_CHECK(same_result(d, w));
  }
}

void check_frontend(std::span<const std::uint8_t> view, std::span<const std::uint8_t> whole,
                    const Decoded<FrontendMessage>& d, const Limits& limits) {
  FUZZ_CHECK(d.consumed <= view.size());
  if (d.status != DecodeStatus::Ok) {
    FUZZ_CHECK(d.consumed == 0);
    FUZZ_CHECK((d.status == DecodeStatus::Malformed) == !d.error.empty());
  } else {
    FUZZ_CHECK(d.consumed >= 5);
    Bytes again;
    encode_frontend(again, d.value);
    const auto rd = decode_frontend(again, limits);
    FUZZ_CHECK(rd.status == DecodeStatus::Ok);
    FUZZ_CHECK(rd.consumed == again.size());
    FUZZ_CHECK(rd.value == d.value);
    const bool canonical = !std::holds_alternative<Parse>(d.value) && !std::holds_alternative<Bind>(d.value) &&
                           !std::holds_alternative<FunctionCall>(d.value);
    if (canonical) {
      FUZZ_CHECK(again.size() == d.consumed);
      FUZZ_CHECK(std::equal(again.begin(), again.end(), view.begin()));
    } else {
      FUZZ_CHECK(again.size() <= d.consumed);
    }
  }
  if (d.status != DecodeStatus::NeedMore) {
    const auto w = decode_frontend(whole, limits);
    FUZZ_CHECK(same_result(d, w));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = segproxy::fuzz::split_input(data, size);
  Limits limits;
  // Small caps (flag bit 0) so the over-limit paths are reachable with short inputs.
  if (in.flags & 1) {
    limits.max_startup_packet = 64;
    limits.max_frontend_message = 64;
    limits.max_startup_parameters = 3;
  }
  // Flag bit 1: start after the startup phase.
  bool startup = (in.flags & 2) == 0;

  const auto stream = in.stream;
  std::size_t pos = 0;      // first unconsumed byte
  std::size_t visible = 0;  // bytes "received" so far
  std::size_t chunk = 0;
  while (pos < stream.size()) {
    visible = std::min(stream.size(), visible + in.chunks[chunk++ % 4]);
    bool stop = false;
    for (;;) {
      const auto view = stream.subspan(pos, visible - pos);
      const auto whole = stream.subspan(pos);
      std::size_t consumed = 0;
      DecodeStatus status;
      if (startup) {
        const auto d = decode_startup(view, limits);
        check_startup(view, whole, d, limits);
        status = d.status;
        consumed = d.consumed;
        // After SSLRequest/GSSENCRequest the client sends its StartupMessage next;
        // a CancelRequest ends the connection.
        if (status == DecodeStatus::Ok) {
          if (std::holds_alternative<CancelRequest>(d.value)) stop = true;
          if (std::holds_alternative<StartupMessage>(d.value)) startup = false;
        }
      } else {
        const auto d = decode_frontend(view, limits);
        check_frontend(view, whole, d, limits);
        status = d.status;
        consumed = d.consumed;
      }
      if (status == DecodeStatus::Malformed) stop = true;
      if (status != DecodeStatus::Ok || stop) {
        pos += consumed;
        break;
      }
      pos += consumed;
      if (pos == visible) break;
    }
    if (stop) break;
    if (visible == stream.size() && pos < stream.size()) {
      // Everything arrived and the rest is an incomplete unit: it must stay NeedMore.
      break;
    }
  }
  return 0;
}
