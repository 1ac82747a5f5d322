// Generic response packets (page_protocol_basic_ok_packet.html, _err_packet.html,
// _eof_packet.html, page_protocol_com_stmt_prepare.html "COM_STMT_PREPARE_OK",
// page_protocol_com_query_response_text_resultset.html).
#include "protocols/mysql/packets.hpp"

#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/wire.hpp"

namespace segproxy::protocols::mysql {

namespace {

constexpr std::uint8_t kSessionTrackSystemVariables = 0;
constexpr std::uint8_t kSessionTrackSchema = 1;
constexpr std::uint8_t kSessionTrackTransactionState = 5;
constexpr std::size_t kMaxSessionTrackEntries = 1024;

template <class T>
Decoded<T> bad(const char* what, const char* why) {
  return Decoded<T>::malformed(std::string(what) + ": " + why);
}

// Session state information: a sequence of (int<1> type, string<lenenc> data).
bool parse_session_state(std::span<const std::uint8_t> block, SessionStateChange& out) {
  out.raw.assign(block.begin(), block.end());
  LeReader r(block);
  std::size_t entries = 0;
  while (r.ok() && !r.at_end()) {
    if (++entries > kMaxSessionTrackEntries) return false;
    const std::uint8_t type = r.u8();
    LeReader d(r.lenenc_bytes());
    if (!r.ok()) return false;
    switch (type) {
      case kSessionTrackSchema:
        out.schema = std::string(d.lenenc_string());
        break;
      case kSessionTrackSystemVariables: {
        std::string name(d.lenenc_string());
        std::string value(d.lenenc_string());
        out.system_variables.emplace_back(std::move(name), std::move(value));
        break;
      }
      case kSessionTrackTransactionState:
        out.transaction_state = std::string(d.lenenc_string());
        break;
      default:
        break;  // GTIDs, state change, characteristics: kept in `raw` only
    }
    if (!d.ok()) return false;
  }
  return r.ok();
}

}  // namespace

Decoded<OkPacket> decode_ok(std::span<const std::uint8_t> payload, Capabilities caps, bool allow_eof_header) {
  using R = Decoded<OkPacket>;
  LeReader r(payload);
  OkPacket ok;
  const std::uint8_t header = r.u8();
  if (!r.ok() || !(header == kOkHeader || (allow_eof_header && header == kEofHeader)))
    return bad<OkPacket>("OK packet", "wrong header");
  ok.eof_header = header == kEofHeader;
  ok.affected_rows = r.lenenc();
  ok.last_insert_id = r.lenenc();
  if (has(caps, CLIENT_PROTOCOL_41)) {
    ok.status = r.u16();
    ok.warnings = r.u16();
  } else if (has(caps, CLIENT_TRANSACTIONS)) {
    ok.status = r.u16();
  }
  if (!r.ok()) return bad<OkPacket>("OK packet", "truncated");
  if (has(caps, CLIENT_SESSION_TRACK)) {
    // Servers omit the info string entirely when it is empty and nothing changed.
    if (!r.at_end()) ok.info = std::string(r.lenenc_string());
    if (!r.ok()) return bad<OkPacket>("OK packet", "bad info string");
    if ((ok.status & SERVER_SESSION_STATE_CHANGED) != 0 && !r.at_end()) {
      const auto block = r.lenenc_bytes();
      SessionStateChange change;
      if (!r.ok() || !parse_session_state(block, change)) return bad<OkPacket>("OK packet", "bad session state");
      ok.session_state = std::move(change);
    }
    if (!r.at_end()) return bad<OkPacket>("OK packet", "trailing bytes");
  } else {
    ok.info = std::string(r.rest_string());
  }
  return R::ok(std::move(ok), payload.size());
}

void encode_ok(Bytes& out, const OkPacket& ok, Capabilities caps) {
  LeWriter w(out);
  w.u8(ok.eof_header ? kEofHeader : kOkHeader);
  w.lenenc(ok.affected_rows);
  w.lenenc(ok.last_insert_id);
  const StatusFlags status = ok.status;
  if (has(caps, CLIENT_PROTOCOL_41)) {
    w.u16(status);
    w.u16(ok.warnings);
  } else if (has(caps, CLIENT_TRANSACTIONS)) {
    w.u16(status);
  }
  if (has(caps, CLIENT_SESSION_TRACK)) {
    if (!ok.info.empty() || ok.session_state) w.lenenc_string(ok.info);
    if (ok.session_state && (status & SERVER_SESSION_STATE_CHANGED) != 0) w.lenenc_bytes(ok.session_state->raw);
  } else {
    w.bytes(ok.info);
  }
}

Decoded<ErrPacket> decode_err(std::span<const std::uint8_t> payload, Capabilities caps) {
  (void)caps;  // the marker is recognised by its '#', with or without PROTOCOL_41
  LeReader r(payload);
  ErrPacket err;
  if (r.u8() != kErrHeader || !r.ok()) return bad<ErrPacket>("ERR packet", "wrong header");
  err.code = r.u16();
  if (!r.ok()) return bad<ErrPacket>("ERR packet", "truncated");
  if (r.peek() == '#' && r.remaining() >= 6) {
    r.u8();
    err.sqlstate = std::string(r.fixed_string(5));
  }
  err.message = std::string(r.rest_string());
  return Decoded<ErrPacket>::ok(std::move(err), payload.size());
}

void encode_err(Bytes& out, const ErrPacket& err, Capabilities caps) {
  LeWriter w(out);
  w.u8(kErrHeader);
  w.u16(err.code);
  if (has(caps, CLIENT_PROTOCOL_41)) {
    w.u8('#');
    w.bytes(err.sqlstate.size() == 5 ? std::string_view(err.sqlstate) : std::string_view("HY000"));
  }
  w.bytes(err.message);
}

void encode_err_packet(Bytes& out, std::uint8_t seq, std::uint16_t code, std::string_view sqlstate,
                       std::string_view message, Capabilities caps) {
  Bytes payload;
  encode_err(payload, ErrPacket{code, std::string(sqlstate), std::string(message)}, caps);
  encode_message(out, seq, payload);
}

Decoded<EofPacket> decode_eof(std::span<const std::uint8_t> payload, Capabilities caps) {
  LeReader r(payload);
  EofPacket eof;
  if (r.u8() != kEofHeader || !r.ok() || payload.size() >= 9) return bad<EofPacket>("EOF packet", "wrong header");
  if (has(caps, CLIENT_PROTOCOL_41)) {
    eof.warnings = r.u16();
    eof.status = r.u16();
  }
  if (!r.at_end()) return bad<EofPacket>("EOF packet", "wrong length");
  return Decoded<EofPacket>::ok(eof, payload.size());
}

void encode_eof(Bytes& out, const EofPacket& eof, Capabilities caps) {
  LeWriter w(out);
  w.u8(kEofHeader);
  if (has(caps, CLIENT_PROTOCOL_41)) {
    w.u16(eof.warnings);
    w.u16(eof.status);
  }
}

Decoded<PrepareOk> decode_prepare_ok(std::span<const std::uint8_t> payload) {
  LeReader r(payload);
  PrepareOk ok;
  if (r.u8() != kOkHeader || !r.ok()) return bad<PrepareOk>("COM_STMT_PREPARE_OK", "wrong header");
  ok.statement_id = r.u32();
  ok.num_columns = r.u16();
  ok.num_params = r.u16();
  r.u8();  // reserved filler
  if (!r.ok()) return bad<PrepareOk>("COM_STMT_PREPARE_OK", "truncated");
  if (!r.at_end()) ok.warnings = r.u16();
  // MySQL 8 may append metadata_follows (CLIENT_OPTIONAL_RESULTSET_METADATA, never
  // negotiated by the proxy); anything else is malformed.
  if (!r.ok() || r.remaining() > 1) return bad<PrepareOk>("COM_STMT_PREPARE_OK", "wrong length");
  return Decoded<PrepareOk>::ok(ok, payload.size());
}

void encode_prepare_ok(Bytes& out, const PrepareOk& ok) {
  LeWriter w(out);
  w.u8(kOkHeader);
  w.u32(ok.statement_id);
  w.u16(ok.num_columns);
  w.u16(ok.num_params);
  w.u8(0);
  w.u16(ok.warnings);
}

Decoded<std::uint64_t> decode_column_count(std::span<const std::uint8_t> payload) {
  LeReader r(payload);
  const std::uint64_t n = r.lenenc();
  if (!r.at_end() || n == 0) return bad<std::uint64_t>("result set", "bad column count");
  return Decoded<std::uint64_t>::ok(n, payload.size());
}

Decoded<TextRow> decode_text_row(std::span<const std::uint8_t> payload, std::uint64_t columns) {
  // Each value takes at least one byte: more columns than bytes cannot be a row (and the
  // reservation below stays bounded by the payload).
  if (columns == 0 || columns > payload.size()) return bad<TextRow>("text row", "bad column count");
  LeReader r(payload);
  TextRow row;
  row.reserve(static_cast<std::size_t>(columns));
  for (std::uint64_t i = 0; i < columns; ++i) {
    bool is_null = false;
    const std::uint64_t n = r.lenenc_or_null(is_null);
    if (is_null) {
      row.emplace_back(std::nullopt);
      continue;
    }
    const auto b = r.bytes(static_cast<std::size_t>(n));
    if (!r.ok()) break;
    row.emplace_back(std::string(b.begin(), b.end()));
  }
  if (!r.ok()) return bad<TextRow>("text row", "truncated value");
  if (!r.at_end()) return bad<TextRow>("text row", "bytes after the last column");
  return Decoded<TextRow>::ok(std::move(row), payload.size());
}

}  // namespace segproxy::protocols::mysql
