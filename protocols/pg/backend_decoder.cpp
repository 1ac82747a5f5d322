// Backend (server -> client) decoders: whole-frame decoding for the login phase, body
// parsers, and the bounded streaming scanner used while relaying results.
// Spec: PostgreSQL 15 docs, 55.7 "Message Formats" and 55.8 "Error and Notice Message Fields".
#include "protocols/pg/backend_decoder.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "protocols/common/byte_reader.hpp"
#include "protocols/pg/backend_validator.hpp"

namespace segproxy::protocols::pg {

namespace {

constexpr std::size_t kHeaderSize = 5;
// No server offers more than a handful of SASL mechanisms.
constexpr std::size_t kMaxSaslMechanisms = 16;

std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

bool watched_type(char type) {
  switch (type) {
    case 'Z': case 'E': case 'C': case 'S': case 'G': case 'H': case 'W': case 'R':
    case 'K': case 'A': case 'N': case 'I': case '1': case '2': case '3': case 's':
      return true;
    default:
      return false;
  }
}

std::string printable_type(char type) {
  const auto c = static_cast<unsigned char>(type);
  if (c >= 0x20 && c < 0x7f) return std::string("'") + type + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 0xf];
}

std::string message_name(char type) {
  switch (type) {
    case 'E': return "ErrorResponse";
    case 'N': return "NoticeResponse";
    case 'C': return "CommandComplete";
    case 'Z': return "ReadyForQuery";
    case 'S': return "ParameterStatus";
    case 'A': return "NotificationResponse";
    case 'G': return "CopyInResponse";
    case 'H': return "CopyOutResponse";
    case 'W': return "CopyBothResponse";
    case 'T': return "RowDescription";
    case 't': return "ParameterDescription";
    case 'V': return "FunctionCallResponse";
    case 'D': return "DataRow";
    default: return printable_type(type);
  }
}

}  // namespace

Decoded<BackendFrame> decode_backend_frame(std::span<const std::uint8_t> in, const Limits& limits) {
  using R = Decoded<BackendFrame>;
  if (in.size() < kHeaderSize) return R::need_more();
  const char type = static_cast<char>(in[0]);
  const std::uint32_t len = load_u32(in.data() + 1);
  if (len < 4) return R::malformed("backend message " + printable_type(type) + ": length below 4");
  if (len - 4 > limits.max_backend_control_message)
    return R::malformed("backend message " + printable_type(type) + ": length above the control message limit");
  if (in.size() - 1 < len) return R::need_more();
  BackendFrame f;
  f.type = type;
  f.body = in.subspan(kHeaderSize, len - 4);
  return R::ok(f, std::size_t{len} + 1);
}

// 'R': Int32 code, then code-specific data.
std::optional<AuthenticationRequest> parse_authentication(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  AuthenticationRequest a;
  a.code = r.i32();
  if (!r.ok()) return std::nullopt;
  a.data = r.rest();
  switch (static_cast<AuthCode>(a.code)) {
    case AuthCode::Ok:
    case AuthCode::KerberosV5:
    case AuthCode::CleartextPassword:
    case AuthCode::Gss:
    case AuthCode::Sspi:
      if (!a.data.empty()) return std::nullopt;
      break;
    case AuthCode::Md5Password:
      if (a.data.size() != 4) return std::nullopt;
      break;
    case AuthCode::Sasl:
      if (!parse_sasl_mechanisms(a.data)) return std::nullopt;
      break;
    case AuthCode::GssContinue:
    case AuthCode::SaslContinue:
    case AuthCode::SaslFinal:
      break;
    default:
      return std::nullopt;  // unknown authentication code
  }
  return a;
}

// One or more mechanism names, each a String, then an empty String; nothing after.
std::optional<std::vector<std::string>> parse_sasl_mechanisms(std::span<const std::uint8_t> data) {
  ByteReader r(data);
  std::vector<std::string> out;
  for (;;) {
    const std::string_view name = r.cstring();
    if (!r.ok()) return std::nullopt;
    if (name.empty()) break;
    if (out.size() >= kMaxSaslMechanisms) return std::nullopt;
    out.emplace_back(name);
  }
  if (!r.at_end() || out.empty()) return std::nullopt;
  return out;
}

std::optional<ParameterStatus> parse_parameter_status(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  ParameterStatus p;
  p.name = r.cstring();
  p.value = r.cstring();
  if (!r.at_end() || p.name.empty()) return std::nullopt;
  return p;
}

std::optional<BackendKeyData> parse_backend_key_data(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  BackendKeyData k;
  k.process_id = r.i32();
  k.secret_key = r.i32();
  if (!r.at_end()) return std::nullopt;
  return k;
}

std::optional<char> parse_ready_for_query(std::span<const std::uint8_t> body) {
  if (body.size() != 1) return std::nullopt;
  const char status = static_cast<char>(body[0]);
  if (status != 'I' && status != 'T' && status != 'E') return std::nullopt;
  return status;
}

// Fields: Byte1 code + String, repeated, terminated by a zero byte; nothing after.
// Severity: the non-localized 'V' wins over the localized 'S'.
std::optional<ErrorView> parse_error_view(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  ErrorView f;
  bool have_v = false;
  for (;;) {
    const std::uint8_t code = r.u8();
    if (!r.ok()) return std::nullopt;
    if (code == 0) break;
    const std::string_view value = r.cstring();
    if (!r.ok()) return std::nullopt;
    switch (code) {
      case 'S':
        if (!have_v) f.severity = value;
        break;
      case 'V':
        f.severity = value;
        have_v = true;
        break;
      case 'C': f.sqlstate = value; break;
      case 'M': f.message = value; break;
      case 'D': f.detail = value; break;
      case 'H': f.hint = value; break;
      default: break;  // other fields are informational; future codes must be ignored
    }
  }
  if (!r.at_end()) return std::nullopt;
  return f;
}

std::optional<ErrorFields> parse_error_fields(std::span<const std::uint8_t> body) {
  const auto v = parse_error_view(body);
  if (!v) return std::nullopt;
  return ErrorFields{std::string(v->severity), std::string(v->sqlstate), std::string(v->message),
                     std::string(v->detail), std::string(v->hint)};
}

std::optional<std::string_view> parse_command_complete(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  const std::string_view tag = r.cstring();
  if (!r.at_end()) return std::nullopt;
  return tag;
}

// ---- BackendStream ----

BackendStream::BackendStream(const Limits& limits, BackendCheck check)
    : max_control_message_(limits.max_backend_control_message), check_(check) {}

bool BackendStream::at_boundary() const { return error_.empty() && header_have_ == 0; }

DecodeStatus BackendStream::fail(std::string error) {
  error_ = std::move(error);
  clean_prefix_ = msg_start_;
  return DecodeStatus::Malformed;
}

DecodeStatus BackendStream::fail_unfollowed() {
  return fail(std::string("the backend's answers can no longer be matched to the requests sent (") +
              skips_.lost_reason() + ")");
}

// One more piece of a DataRow body; `left_after` body bytes follow it. False on a
// negative count, a length below -1 or past the message end, or bytes after the last
// column (the end itself is checked when the message completes).
bool BackendStream::scan_row(std::span<const std::uint8_t> part, std::size_t left_after) {
  std::size_t i = 0;
  while (i < part.size()) {
    switch (row_phase_) {
      case RowPhase::Count:
        acc_[acc_have_++] = part[i++];
        if (acc_have_ == 2) {
          const auto n = static_cast<std::int16_t>((acc_[0] << 8) | acc_[1]);
          if (n < 0) return false;
          if (const auto want = shape_.expected_columns()) {
            if (static_cast<std::size_t>(n) != *want) {
              row_error_ = "backend sent a DataRow of " + std::to_string(n) + " columns after a RowDescription of " +
                           std::to_string(*want) + " fields";
              return false;
            }
            ++rows_checked_;
          }
          acc_have_ = 0;
          cols_left_ = static_cast<std::uint32_t>(n);
          row_phase_ = cols_left_ > 0 ? RowPhase::Length : RowPhase::Done;
        }
        break;
      case RowPhase::Length:
        acc_[acc_have_++] = part[i++];
        if (acc_have_ == 4) {
          const auto len = static_cast<std::int32_t>(load_u32(acc_));
          acc_have_ = 0;
          const std::size_t remaining = part.size() - i + left_after;
          if (len < -1 || (len > 0 && static_cast<std::size_t>(len) > remaining)) return false;
          --cols_left_;
          if (len > 0) {
            value_left_ = static_cast<std::size_t>(len);
            row_phase_ = RowPhase::Value;
          } else {
            row_phase_ = cols_left_ > 0 ? RowPhase::Length : RowPhase::Done;
          }
        }
        break;
      case RowPhase::Value: {
        const std::size_t take = std::min(value_left_, part.size() - i);
        i += take;
        value_left_ -= take;
        if (value_left_ == 0) row_phase_ = cols_left_ > 0 ? RowPhase::Length : RowPhase::Done;
        break;
      }
      case RowPhase::Done:
        return false;
    }
  }
  return true;
}

DecodeStatus BackendStream::feed(std::span<const std::uint8_t> data, BackendEvents& events) {
  if (!error_.empty()) {
    clean_prefix_ = 0;
    return DecodeStatus::Malformed;  // sticky: the stream is lost
  }
  const bool structure = check_ == BackendCheck::Structure;
  const std::uint8_t* const base = data.data();
  if (header_have_ != 0) msg_start_ = std::string::npos;  // continues a message of an earlier feed
  if (unpaired()) {
    if (header_have_ == 0) msg_start_ = 0;  // lost while forwarding: nothing of this feed goes
    return fail_unfollowed();
  }
  while (!data.empty()) {
    if (header_have_ < kHeaderSize) {
      if (header_have_ == 0) msg_start_ = static_cast<std::size_t>(data.data() - base);
      // Collect the 5-byte header, which may arrive split across feeds.
      const std::size_t take = std::min(kHeaderSize - header_have_, data.size());
      std::copy_n(data.begin(), take, header_ + header_have_);
      header_have_ += take;
      data = data.subspan(take);
      if (header_have_ < kHeaderSize) break;

      type_ = static_cast<char>(header_[0]);
      const std::uint32_t len = load_u32(header_ + 1);
      if (len < 4) return fail("backend message " + printable_type(type_) + ": length below 4");
      body_left_ = len - 4;
      watched_ = watched_type(type_);
      // DataRow and FunctionCallResponse carry values (a lo_read through the fast path
      // returns the whole chunk in one 'V'): checked while streaming, never buffered, so
      // only the relay cap applies to them, not the control-message limit.
      streamed_ = type_ == 'D' || type_ == 'V';
      buffered_ = watched_ || (structure && !streamed_ && is_checked_whole(type_));
      body_.clear();
      if (structure) {
        if (!is_relay_backend_type(type_))
          return fail("backend message " + printable_type(type_) + ": not a message a server sends in a session");
        if (body_left_ > kMaxRelayMessage)
          return fail("backend message " + printable_type(type_) + ": length above the message limit");
        if (type_ == 'D') {
          row_phase_ = RowPhase::Count;
          acc_have_ = 0;
        } else if (type_ == 'V') {  // Int32 length (-1 = NULL) and the value: one DataRow column
          row_phase_ = RowPhase::Length;
          cols_left_ = 1;
          acc_have_ = 0;
        }
      }
      if (buffered_) {
        if (body_left_ > max_control_message_)
          return fail("backend message " + printable_type(type_) + ": length above the control message limit");
        body_.reserve(body_left_);
      }
    } else {
      // Body bytes: buffered for watched / checked types, skipped otherwise.
      const std::size_t take = std::min(body_left_, data.size());
      const auto part = data.first(take);
      if (buffered_) body_.insert(body_.end(), part.begin(), part.end());
      body_left_ -= take;
      data = data.subspan(take);
      if (structure && streamed_ && !scan_row(part, body_left_))
        return fail(type_ == 'D' && !row_error_.empty() ? row_error_
                                                        : "backend sent a malformed " + message_name(type_) + " message");
    }
    if (header_have_ == kHeaderSize && body_left_ == 0) {
      if (structure) {
        if (streamed_ && row_phase_ != RowPhase::Done)
          return fail("backend sent a malformed " + message_name(type_) + " message");
        if (buffered_ && !valid_backend_body(type_, body_))
          return fail("backend sent a malformed " + message_name(type_) + " message");
        if (type_ != 'D') shape_.backend(type_, body_);
      }
      header_have_ = 0;  // on a boundary before reporting, so a throwing handler leaves us consistent
      last_complete_ = type_;
      if (watched_) events.on_backend_message(type_, body_);
      if (type_ != 'D') {
        for (std::uint32_t skipped = skips_.backend(type_); skipped > 0; --skipped) {
          if (structure) shape_.request_skipped();
          events.on_request_skipped();
        }
        // Requests and answers no longer pair up: fail closed (the message that showed it
        // is not relayed) rather than await an answer that never comes, or record one
        // against the wrong request.
        if (unpaired()) return fail_unfollowed();
      }
    }
  }
  return DecodeStatus::Ok;
}

}  // namespace segproxy::protocols::pg
