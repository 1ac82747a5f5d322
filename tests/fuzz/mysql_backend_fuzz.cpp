// Fuzz target: backend -> proxy MySQL decoding: the greeting and authentication replies
// (decode_message + decode_greeting / decode_auth_reply, with encode round trips), then
// the ResponseTracker following a pipelined command script.
// Input after the common 5-byte header: byte 0 = number of scripted commands n (mod 16),
// bytes 1..n = command kinds (mod 9: COM_QUERY, COM_STMT_PREPARE, COM_STMT_EXECUTE,
// COM_STMT_FETCH, COM_FIELD_LIST, COM_STATISTICS, COM_PING, COM_SET_OPTION, COM_INIT_DB),
// then the backend byte stream. Flags: bit0 small control-packet cap, bit1
// CLIENT_DEPRECATE_EOF, bit2 CLIENT_SESSION_TRACK, bit3 MARIADB_CLIENT_CACHE_METADATA,
// bit4 MARIADB_CLIENT_PROGRESS, bit5 no login phase.
// Checked: the tracker consumes everything or reports Malformed with a reason, and the
// responses it reports are the same whether the stream arrives in chunks or at once.
#include <cstdint>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/handshake.hpp"
#include "protocols/mysql/packets.hpp"
#include "protocols/mysql/response_tracker.hpp"

namespace {

using namespace segproxy::protocols;
using namespace segproxy::protocols::mysql;

struct Recorder : ResponseEvents {
  std::vector<ResponseSummary> responses;
  std::vector<std::uint8_t> infile_seqs;
  std::size_t unsolicited = 0;
  void on_response(const ResponseSummary& s) override { responses.push_back(s); }
  void on_local_infile_request(std::string_view, std::uint8_t seq) override { infile_seqs.push_back(seq); }
  void on_unsolicited_error(const ErrPacket&) override { ++unsolicited; }
};

bool same(const ResponseSummary& a, const ResponseSummary& b) {
  return a.command == b.command && a.error == b.error && a.err == b.err && a.affected_rows == b.affected_rows &&
         a.status == b.status && a.rows == b.rows && a.result_sets == b.result_sets && a.oks == b.oks &&
         a.prepared == b.prepared && a.cursor_opened == b.cursor_opened && a.schema == b.schema &&
         a.local_infile_requested == b.local_infile_requested && a.statistics == b.statistics;
}

Command scripted(std::uint8_t kind) {
  switch (kind % 9) {
    case 0: return ComQuery{"SELECT 1"};
    case 1: return ComStmtPrepare{"SELECT ?"};
    case 2: return ComStmtExecute{1, 0, 1, {}};
    case 3: return ComStmtFetch{1, 10};
    case 4: return ComFieldList{"t", ""};
    case 5: return ComStatistics{};
    case 6: return ComPing{};
    case 7: return ComSetOption{0};
    default: return ComInitDb{"db"};
  }
}

// Decodes the greeting (seq 0) and authentication replies (seq 2, 4, ...) until an OK or
// ERR; returns the offset of the command phase, or nullopt when the stream stops first.
std::optional<std::size_t> login(std::span<const std::uint8_t> s, Capabilities caps) {
  const auto g = decode_message(s, 0, 1 << 20);
  if (g.status != DecodeStatus::Ok) return std::nullopt;
  const auto greeting = decode_greeting(g.value.payload());
  FUZZ_CHECK((greeting.status == DecodeStatus::Malformed) == !greeting.error.empty());
  if (greeting.status != DecodeStatus::Ok) return std::nullopt;
  if (const auto* hs = std::get_if<HandshakeV10>(&greeting.value)) {
    Bytes again;
    encode_handshake_v10(again, *hs);
    const auto rd = decode_greeting(again);
    FUZZ_CHECK(rd.status == DecodeStatus::Ok && rd.value == greeting.value);
  } else {
    return std::nullopt;
  }
  std::size_t pos = g.consumed;
  std::uint8_t seq = 2;
  for (int round = 0; round < 4; ++round) {
    const auto m = decode_message(s.subspan(pos), seq, 1 << 20);
    if (m.status != DecodeStatus::Ok) return std::nullopt;
    pos += m.consumed;
    seq = static_cast<std::uint8_t>(m.value.next_seq() + 1);
    const auto r = decode_auth_reply(m.value.payload(), caps);
    FUZZ_CHECK((r.status == DecodeStatus::Malformed) == !r.error.empty());
    if (r.status != DecodeStatus::Ok) return std::nullopt;
    Bytes again;
    if (const auto* ok = std::get_if<OkPacket>(&r.value)) {
      encode_ok(again, *ok, caps);
      const auto rd = decode_ok(again, caps);
      FUZZ_CHECK(rd.status == DecodeStatus::Ok && rd.value == *ok);
      return pos;
    }
    if (const auto* err = std::get_if<ErrPacket>(&r.value)) {
      encode_err(again, *err, caps);
      const auto rd = decode_err(again, caps);
      FUZZ_CHECK(rd.status == DecodeStatus::Ok && rd.value.code == err->code && rd.value.message == err->message);
      return std::nullopt;
    }
    if (const auto* sw = std::get_if<AuthSwitchRequest>(&r.value)) {
      encode_auth_switch(again, *sw);
      const auto rd = decode_auth_switch(again);
      FUZZ_CHECK(rd.status == DecodeStatus::Ok && rd.value == *sw);
    }
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = segproxy::fuzz::split_input(data, size);
  if (in.stream.empty()) return 0;
  Limits limits;
  if (in.flags & 1) limits.max_mysql_backend_control = 32;
  Capabilities caps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS;
  if (in.flags & 2) caps |= CLIENT_DEPRECATE_EOF;
  if (in.flags & 4) caps |= CLIENT_SESSION_TRACK;
  if (in.flags & 8) caps |= MARIADB_CLIENT_CACHE_METADATA;
  if (in.flags & 16) caps |= MARIADB_CLIENT_PROGRESS;

  const std::size_t n = std::min<std::size_t>(in.stream[0] % 16, in.stream.size() - 1);
  const auto kinds = in.stream.subspan(1, n);
  auto stream = in.stream.subspan(1 + n);
  if ((in.flags & 32) == 0) {
    const auto at = login(stream, caps);
    if (!at) return 0;
    stream = stream.subspan(*at);
  }

  auto run = [&](bool chunked, Recorder& rec, std::string& error) {
    ResponseTracker t(caps, limits, SERVER_STATUS_AUTOCOMMIT);
    for (auto k : kinds) t.expect(scripted(k), 1);
    DecodeStatus status = DecodeStatus::Ok;
    if (!chunked) {
      status = t.feed(stream, rec);
    } else {
      std::size_t pos = 0;
      std::size_t c = 0;
      while (pos < stream.size() && status == DecodeStatus::Ok) {
        const std::size_t len = std::min(stream.size() - pos, in.chunks[c++ % 4]);
        status = t.feed(stream.subspan(pos, len), rec);
        pos += len;
      }
    }
    FUZZ_CHECK(status != DecodeStatus::NeedMore);
    FUZZ_CHECK((status == DecodeStatus::Malformed) == !t.error().empty());
    FUZZ_CHECK(rec.responses.size() <= kinds.size());
    error = t.error();
    return status;
  };
  Recorder whole, chunked;
  std::string e1, e2;
  const DecodeStatus s1 = run(false, whole, e1);
  const DecodeStatus s2 = run(true, chunked, e2);
  FUZZ_CHECK(s1 == s2);
  FUZZ_CHECK(whole.responses.size() == chunked.responses.size());
  for (std::size_t i = 0; i < whole.responses.size(); ++i) FUZZ_CHECK(same(whole.responses[i], chunked.responses[i]));
  FUZZ_CHECK(whole.infile_seqs == chunked.infile_seqs);
  FUZZ_CHECK(whole.unsolicited == chunked.unsolicited);
  return 0;
}
