// Fuzz target: server -> proxy decoding (decode_backend_frame, the body parsers and
// BackendStream). Checked:
//   decode_backend_frame: consumed <= size, NeedMore/Malformed consume nothing, a
//     prefix result equals the whole-stream result;
//   body parsers never crash, and what they accept survives encode -> parse unchanged;
//   BackendStream fed in chunks reports exactly the events of one whole feed, the same
//     status, and (while frames stay under the cap) exactly the watched frames that
//     decode_backend_frame finds; in Structure mode (the relay's validation) the same
//     chunking independence, a prefix of the Framing-mode events, only valid bodies.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "protocols/common/byte_reader.hpp"
#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/backend_validator.hpp"
#include "protocols/pg/encoder.hpp"
#include "protocols/pg/scram_client.hpp"

namespace {

using namespace segproxy::protocols;
using namespace segproxy::protocols::pg;

using Event = std::pair<char, std::vector<std::uint8_t>>;

struct Recorder : BackendEvents {
  std::vector<Event> events;
  void on_backend_message(char type, std::span<const std::uint8_t> body) override {
    events.emplace_back(type, std::vector<std::uint8_t>(body.begin(), body.end()));
  }
};

bool watched(char t) {
  static constexpr char kWatched[] = "ZECSGHWRKANI123s";
  for (const char* p = kWatched; *p; ++p) {
    if (*p == t) return true;
  }
  return false;
}

BackendFrame reframe(const Bytes& wire) {
  const auto d = decode_backend_frame(wire, Limits{});
  FUZZ_CHECK(d.status == DecodeStatus::Ok && d.consumed == wire.size());
  return d.value;
}

// Runs every body parser on the body; re-encodes what they accept and parses it again.
void exercise_parsers(std::span<const std::uint8_t> body) {
  if (const auto a = parse_authentication(body)) {
    Bytes out;
    encode_authentication(out, a->code, a->data);
    const auto again = parse_authentication(reframe(out).body);
    FUZZ_CHECK(again && again->code == a->code && again->data.size() == a->data.size());
    if (a->code == static_cast<std::int32_t>(AuthCode::Sasl)) FUZZ_CHECK(parse_sasl_mechanisms(a->data).has_value());
  }
  if (const auto m = parse_sasl_mechanisms(body)) FUZZ_CHECK(!m->empty());
  if (const auto p = parse_parameter_status(body)) {
    Bytes out;
    encode_parameter_status(out, p->name, p->value);
    const auto again = parse_parameter_status(reframe(out).body);
    FUZZ_CHECK(again && again->name == p->name && again->value == p->value);
  }
  if (const auto k = parse_backend_key_data(body)) {
    Bytes out;
    encode_backend_key_data(out, k->process_id, k->secret_key);
    const auto again = parse_backend_key_data(reframe(out).body);
    FUZZ_CHECK(again && again->process_id == k->process_id && again->secret_key == k->secret_key);
  }
  if (const auto z = parse_ready_for_query(body)) {
    Bytes out;
    encode_ready_for_query(out, *z);
    FUZZ_CHECK(parse_ready_for_query(reframe(out).body) == z);
  }
  if (const auto e = parse_error_fields(body)) {
    Bytes out;
    encode_error_response(out, ErrorInfo{e->severity, e->sqlstate, e->message, e->detail, e->hint});
    const auto again = parse_error_fields(reframe(out).body);
    FUZZ_CHECK(again && again->severity == e->severity && again->sqlstate == e->sqlstate &&
               again->message == e->message && again->detail == e->detail && again->hint == e->hint);
  }
  if (const auto c = parse_command_complete(body)) {
    Bytes out;
    encode_command_complete(out, *c);
    FUZZ_CHECK(parse_command_complete(reframe(out).body) == c);
  }
  std::string raw;
  if (base64_decode(as_string_view(body), raw)) FUZZ_CHECK(base64_encode(raw) == as_string_view(body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = segproxy::fuzz::split_input(data, size);
  Limits limits;
  if (in.flags & 1) limits.max_backend_control_message = 32;
  const auto stream = in.stream;

  // 1. Whole frames, with the visible prefix growing chunk by chunk.
  std::vector<Event> frames;  // watched frames, until the first Malformed
  bool frames_malformed = false;
  {
    std::size_t pos = 0, visible = 0, chunk = 0;
    while (pos < stream.size() && !frames_malformed) {
      visible = std::min(stream.size(), visible + in.chunks[chunk++ % 4]);
      for (;;) {
        const auto view = stream.subspan(pos, visible - pos);
        const auto d = decode_backend_frame(view, limits);
        FUZZ_CHECK(d.consumed <= view.size());
        if (d.status != DecodeStatus::Ok) {
          FUZZ_CHECK(d.consumed == 0);
          FUZZ_CHECK((d.status == DecodeStatus::Malformed) == !d.error.empty());
        }
        if (d.status != DecodeStatus::NeedMore) {
          const auto w = decode_backend_frame(stream.subspan(pos), limits);
          FUZZ_CHECK(w.status == d.status && w.consumed == d.consumed);
        }
        if (d.status == DecodeStatus::Malformed) {
          frames_malformed = true;
          break;
        }
        if (d.status == DecodeStatus::NeedMore) break;
        FUZZ_CHECK(d.consumed == d.value.body.size() + 5);
        exercise_parsers(d.value.body);
        if (watched(d.value.type)) frames.emplace_back(d.value.type, std::vector<std::uint8_t>(d.value.body.begin(), d.value.body.end()));
        pos += d.consumed;
        if (pos == visible) break;
      }
      if (visible == stream.size()) break;
    }
  }

  // 2. BackendStream: chunked feed vs. one feed.
  Recorder chunked, whole;
  DecodeStatus chunked_status = DecodeStatus::Ok;
  {
    BackendStream s(limits);
    std::size_t at = 0, chunk = 0;
    while (at < stream.size()) {
      const std::size_t n = std::min(stream.size() - at, in.chunks[chunk++ % 4]);
      chunked_status = s.feed(stream.subspan(at, n), chunked);
      if (chunked_status == DecodeStatus::Malformed) {
        FUZZ_CHECK(!s.error().empty());
        FUZZ_CHECK(!s.at_boundary());
        break;
      }
      at += n;
    }
  }
  BackendStream s2(limits);
  const DecodeStatus whole_status = s2.feed(stream, whole);
  FUZZ_CHECK(whole_status == chunked_status);
  FUZZ_CHECK(whole.events == chunked.events);
  for (const auto& e : whole.events) FUZZ_CHECK(e.second.size() <= limits.max_backend_control_message);

  // 3. Frame decoder and stream agree on the watched frames both saw.
  // The stream only refuses what the frame decoder also refuses, so every watched frame
  // found before the first refusal was reported, in order; with no refusal, exactly those.
  FUZZ_CHECK(frames.size() <= whole.events.size());
  for (std::size_t i = 0; i < frames.size(); ++i) FUZZ_CHECK(frames[i] == whole.events[i]);
  if (!frames_malformed) {
    FUZZ_CHECK(frames.size() == whole.events.size());
    FUZZ_CHECK(whole_status == DecodeStatus::Ok);
  }

  // 4. Structure mode (the relay, issue 12 item 4.4): chunking changes nothing; it
  // reports a prefix of what Framing mode reports (it refuses more, never less); every
  // body it reports passes the validator; after Malformed, clean_prefix() is within the
  // last feed or npos. flags & 2: the session forwarded simple Queries and described
  // Executes first, so DataRows are also matched with their RowDescription
  // (result_shape.hpp; issue 12 leftovers, item 3) - chunking must not change that either.
  {
    const auto told = [&](BackendStream& s) {
      if ((in.flags & 2) == 0) return;
      for (int i = 0; i < 3; ++i) {
        s.frontend_forwarded(Query{"select 1"});
        s.frontend_forwarded(Bind{"", "", 0, 0, 0});
        s.frontend_forwarded(Describe{'P', ""});
        s.frontend_forwarded(Execute{"", 0});
        s.frontend_forwarded(Sync{});
      }
    };
    Recorder strict_chunked, strict_whole;
    DecodeStatus strict_chunked_status = DecodeStatus::Ok;
    BackendStream sc(limits, BackendCheck::Structure);
    told(sc);
    std::size_t at = 0, chunk = 0;
    while (at < stream.size()) {
      const std::size_t n = std::min(stream.size() - at, in.chunks[chunk++ % 4]);
      strict_chunked_status = sc.feed(stream.subspan(at, n), strict_chunked);
      if (strict_chunked_status == DecodeStatus::Malformed) {
        FUZZ_CHECK(!sc.error().empty());
        FUZZ_CHECK(sc.clean_prefix() == std::string::npos || sc.clean_prefix() <= n);
        break;
      }
      at += n;
    }
    BackendStream sw(limits, BackendCheck::Structure);
    told(sw);
    const DecodeStatus strict_whole_status = sw.feed(stream, strict_whole);
    FUZZ_CHECK(strict_whole_status == strict_chunked_status);
    FUZZ_CHECK(strict_whole.events == strict_chunked.events);
    FUZZ_CHECK(strict_whole.events.size() <= whole.events.size());
    for (std::size_t i = 0; i < strict_whole.events.size(); ++i) {
      FUZZ_CHECK(strict_whole.events[i] == whole.events[i]);
      FUZZ_CHECK(valid_backend_body(strict_whole.events[i].first, strict_whole.events[i].second));
    }
    if (whole_status == DecodeStatus::Malformed) FUZZ_CHECK(strict_whole_status == DecodeStatus::Malformed);
  }
  return 0;
}
