// Fuzz target: client -> proxy MySQL decoding (decode_message, then decode_client_login
// in the connection phase, decode_command + decode_execute_params in the command phase).
// The visible prefix grows by the chunk sizes from the input header. Checked:
//   consumed <= size; NeedMore and Malformed consume nothing; Malformed has a reason;
//   a result on a prefix equals the result on the whole remaining stream;
//   encode_message(payload) reproduces the consumed bytes exactly;
//   decode(encode(m)) == m for logins and commands, and encode(m) is the original
//   payload where the encoding is canonical.
// Flags: bit0 small limits, bit1 start in the command phase, bit2 CLIENT_QUERY_ATTRIBUTES.
#include <cstdint>
#include <variant>

#include "fuzz_support.hpp"
#include "protocols/mysql/commands.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/handshake.hpp"

namespace {

using namespace segproxy::protocols;
using namespace segproxy::protocols::mysql;

void check_message(std::span<const std::uint8_t> view, std::span<const std::uint8_t> whole,
                   const Decoded<Message>& d, std::optional<std::uint8_t> seq, std::size_t cap) {
  FUZZ_CHECK(d.consumed <= view.size());
  if (d.status != DecodeStatus::Ok) {
    FUZZ_CHECK(d.consumed == 0);
    FUZZ_CHECK((d.status == DecodeStatus::Malformed) == !d.error.empty());
  } else {
    FUZZ_CHECK(d.consumed >= kPacketHeaderSize);
    Bytes again;
    const std::uint8_t next = encode_message(again, d.value.first_seq(), d.value.payload());
    FUZZ_CHECK(next == d.value.next_seq());
    FUZZ_CHECK(again.size() == d.consumed);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), view.begin()));
  }
  if (d.status != DecodeStatus::NeedMore) {
    const auto w = decode_message(whole, seq, cap);
    FUZZ_CHECK(w.status == d.status);
    FUZZ_CHECK(w.consumed == d.consumed);
    if (d.status == DecodeStatus::Ok) FUZZ_CHECK(w.value == d.value);
  }
}

// Returns true when the login phase is over (a HandshakeResponse41 was decoded).
bool check_login(std::span<const std::uint8_t> payload, const Limits& limits) {
  const auto d = decode_client_login(payload, limits);
  FUZZ_CHECK((d.status == DecodeStatus::Malformed) == !d.error.empty());
  FUZZ_CHECK(d.status != DecodeStatus::NeedMore);
  if (d.status != DecodeStatus::Ok) return false;
  FUZZ_CHECK(d.consumed == payload.size());
  Bytes again;
  if (const auto* ssl = std::get_if<SslRequest>(&d.value)) {
    encode_ssl_request(again, *ssl);
    FUZZ_CHECK(again.size() == 32);
  } else {
    encode_handshake_response(again, std::get<HandshakeResponse41>(d.value));
  }
  const auto rd = decode_client_login(again, limits);
  FUZZ_CHECK(rd.status == DecodeStatus::Ok);
  FUZZ_CHECK(rd.value == d.value);
  return std::holds_alternative<HandshakeResponse41>(d.value);
}

void check_command(std::span<const std::uint8_t> payload, Capabilities caps, std::uint8_t flags) {
  const auto d = decode_command(payload, caps);
  FUZZ_CHECK(d.status != DecodeStatus::NeedMore);
  FUZZ_CHECK((d.status == DecodeStatus::Malformed) == !d.error.empty());
  if (d.status != DecodeStatus::Ok) return;
  FUZZ_CHECK(d.consumed == payload.size());
  FUZZ_CHECK(command_code(d.value) == payload[0]);
  Bytes again;
  encode_command(again, d.value);
  const bool with_attrs = has(caps, CLIENT_QUERY_ATTRIBUTES) && std::holds_alternative<ComQuery>(d.value);
  const bool canonical = !std::holds_alternative<ComRefused>(d.value) && !with_attrs;
  if (canonical) {
    FUZZ_CHECK(again.size() == payload.size());
    FUZZ_CHECK(std::equal(again.begin(), again.end(), payload.begin()));
    const auto rd = decode_command(again, caps);
    FUZZ_CHECK(rd.status == DecodeStatus::Ok && rd.value == d.value);
  }
  if (const auto* exec = std::get_if<ComStmtExecute>(&d.value)) {
    // Parameter count and long-data set from the flags; previous types: all LONG.
    const std::size_t count = flags >> 4;
    const std::vector<std::uint16_t> previous(count, 0x03);
    std::vector<bool> long_data(count, false);
    if (count > 0 && (flags & 8)) long_data[0] = true;
    for (bool with_previous : {false, true}) {
      const auto p = decode_execute_params(*exec, count, with_previous ? std::span<const std::uint16_t>(previous)
                                                                       : std::span<const std::uint16_t>{},
                                           long_data, caps);
      FUZZ_CHECK((p.status == DecodeStatus::Malformed) == !p.error.empty());
      if (p.status == DecodeStatus::Ok) {
        FUZZ_CHECK(p.consumed == exec->params.size());
        FUZZ_CHECK(p.value.values.size() == p.value.count && p.value.types.size() == p.value.count);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = segproxy::fuzz::split_input(data, size);
  Limits limits;
  if (in.flags & 1) {
    limits.max_mysql_client_message = 48;
    limits.max_mysql_connect_attrs = 2;
    limits.max_mysql_connect_attrs_bytes = 16;
  }
  bool login = (in.flags & 2) == 0;
  Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF;
  if (in.flags & 4) caps |= CLIENT_QUERY_ATTRIBUTES;
  std::uint8_t login_seq = 1;

  const auto stream = in.stream;
  std::size_t pos = 0;
  std::size_t visible = 0;
  std::size_t chunk = 0;
  bool stop = false;
  while (pos < stream.size() && !stop) {
    visible = std::min(stream.size(), visible + in.chunks[chunk++ % 4]);
    for (;;) {
      const auto view = stream.subspan(pos, visible - pos);
      const auto whole = stream.subspan(pos);
      const std::optional<std::uint8_t> seq = login ? std::optional<std::uint8_t>(login_seq) : std::optional<std::uint8_t>(0);
      const auto d = decode_message(view, seq, limits.max_mysql_client_message);
      check_message(view, whole, d, seq, limits.max_mysql_client_message);
      if (d.status == DecodeStatus::Malformed) stop = true;
      if (d.status != DecodeStatus::Ok) break;
      pos += d.consumed;
      const auto payload = d.value.payload();
      if (login) {
        if (check_login(payload, limits)) {
          login = false;
        } else {
          login_seq = d.value.next_seq();  // after an SSLRequest the response comes with seq + 1
        }
      } else if (!payload.empty()) {
        check_command(payload, caps, in.flags);
      }
      if (pos == visible) break;
    }
    if (visible == stream.size()) break;
  }
  return 0;
}
