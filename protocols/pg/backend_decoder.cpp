// Backend (server -> client) decoders: whole-frame decoding for the login phase, body
// parsers, and the bounded streaming scanner used while relaying results.
// Spec: PostgreSQL 15 docs, 55.7 "Message Formats" and 55.8 "Error and Notice Message Fields".
#include "protocols/pg/backend_decoder.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "protocols/common/byte_reader.hpp"

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
std::optional<ErrorFields> parse_error_fields(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  ErrorFields f;
  bool have_v = false;
  for (;;) {
    const std::uint8_t code = r.u8();
    if (!r.ok()) return std::nullopt;
    if (code == 0) break;
    const std::string_view value = r.cstring();
    if (!r.ok()) return std::nullopt;
    switch (code) {
      case 'S':
        if (!have_v) f.severity = std::string(value);
        break;
      case 'V':
        f.severity = std::string(value);
        have_v = true;
        break;
      case 'C': f.sqlstate = std::string(value); break;
      case 'M': f.message = std::string(value); break;
      case 'D': f.detail = std::string(value); break;
      case 'H': f.hint = std::string(value); break;
      default: break;  // other fields are informational; future codes must be ignored
    }
  }
  if (!r.at_end()) return std::nullopt;
  return f;
}

std::optional<std::string_view> parse_command_complete(std::span<const std::uint8_t> body) {
  ByteReader r(body);
  const std::string_view tag = r.cstring();
  if (!r.at_end()) return std::nullopt;
  return tag;
}

// ---- BackendStream ----

BackendStream::BackendStream(const Limits& limits) : limits_(limits) {}

bool BackendStream::at_boundary() const { return error_.empty() && header_have_ == 0; }

DecodeStatus BackendStream::feed(std::span<const std::uint8_t> data, BackendEvents& events) {
  if (!error_.empty()) return DecodeStatus::Malformed;  // sticky: the stream is lost
  while (!data.empty()) {
    if (header_have_ < kHeaderSize) {
      // Collect the 5-byte header, which may arrive split across feeds.
      const std::size_t take = std::min(kHeaderSize - header_have_, data.size());
      std::copy_n(data.begin(), take, header_ + header_have_);
      header_have_ += take;
      data = data.subspan(take);
      if (header_have_ < kHeaderSize) break;

      type_ = static_cast<char>(header_[0]);
      const std::uint32_t len = load_u32(header_ + 1);
      if (len < 4) {
        error_ = "backend message " + printable_type(type_) + ": length below 4";
        return DecodeStatus::Malformed;
      }
      body_left_ = len - 4;
      watched_ = watched_type(type_);
      body_.clear();
      if (watched_) {
        if (body_left_ > limits_.max_backend_control_message) {
          error_ = "backend message " + printable_type(type_) + ": length above the control message limit";
          return DecodeStatus::Malformed;
        }
        body_.reserve(body_left_);
      }
    } else {
      // Body bytes: buffered for watched types, skipped otherwise.
      const std::size_t take = std::min(body_left_, data.size());
      if (watched_) body_.insert(body_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
      body_left_ -= take;
      data = data.subspan(take);
    }
    if (header_have_ == kHeaderSize && body_left_ == 0) {
      header_have_ = 0;  // on a boundary before reporting, so a throwing handler leaves us consistent
      if (watched_) events.on_backend_message(type_, body_);
    }
  }
  return DecodeStatus::Ok;
}

}  // namespace segproxy::protocols::pg
