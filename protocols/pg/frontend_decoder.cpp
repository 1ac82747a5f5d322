// Frontend (client -> server) decoders: the untyped startup packet and typed messages.
// Spec: PostgreSQL 15 docs, 55.7 "Message Formats" and 55.2.1 "Start-up".
// Rules: every length is checked against its cap before anything waits for or reads the
// body; NeedMore and Malformed consume nothing; a body must match its structure exactly.
#include "protocols/pg/frontend_decoder.hpp"

#include <cstdint>
#include <string>

#include "protocols/common/byte_reader.hpp"

namespace segproxy::protocols::pg {

namespace {

constexpr std::size_t kHeaderSize = 5;  // type byte + Int32 length

std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::string type_name(char type) {
  const auto c = static_cast<unsigned char>(type);
  if (c >= 0x20 && c < 0x7f) return std::string("'") + type + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 0xf];
}

bool known_frontend_type(char type) {
  switch (type) {
    case 'Q': case 'P': case 'B': case 'D': case 'E': case 'C': case 'S':
    case 'H': case 'X': case 'd': case 'c': case 'f': case 'F': case 'p':
      return true;
    default:
      return false;
  }
}

// Reads an Int16 count that must not be negative.
bool read_count(ByteReader& r, std::uint16_t& out) {
  const std::int16_t n = r.i16();
  if (!r.ok() || n < 0) return false;
  out = static_cast<std::uint16_t>(n);
  return true;
}

// n Int16 format codes, each 0 (text) or 1 (binary).
bool read_format_codes(ByteReader& r, std::uint16_t n) {
  for (std::uint16_t i = 0; i < n; ++i) {
    const std::int16_t code = r.i16();
    if (!r.ok() || (code != 0 && code != 1)) return false;
  }
  return true;
}

// n values, each Int32 length (-1 = NULL, else >= 0) followed by that many bytes.
bool read_values(ByteReader& r, std::uint16_t n) {
  for (std::uint16_t i = 0; i < n; ++i) {
    const std::int32_t len = r.i32();
    if (!r.ok()) return false;
    if (len == -1) continue;
    if (len < 0) return false;
    r.bytes(static_cast<std::size_t>(len));
    if (!r.ok()) return false;
  }
  return true;
}

using Result = Decoded<FrontendMessage>;

// The one reading of a typed message's header (type byte + Int32 length; `in` holds at
// least kHeaderSize bytes): the frame size, or why decode_frontend rejects it.
struct Header {
  std::size_t frame_size = 0;
  const char* error = nullptr;
};
Header check_header(std::span<const std::uint8_t> in, const Limits& limits) noexcept {
  if (!known_frontend_type(static_cast<char>(in[0]))) return {0, "unknown frontend message type"};
  const std::uint32_t len = load_u32(in.data() + 1);
  if (len < 4) return {0, "length below 4"};
  if (len > limits.max_frontend_message) return {0, "length above the frontend message limit"};
  // Overflow-free: len <= max_frontend_message, which is a size_t.
  return {std::size_t{len} + 1, nullptr};
}

Result bad(char type, const char* why) { return Result::malformed(type_name(type) + " message: " + why); }

// Each parser gets the body (after the length word) and the full frame size.
Result parse_query(std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  Query q{r.cstring()};
  if (!r.at_end()) return bad('Q', "body is not exactly one NUL-terminated string");
  return Result::ok(q, n);
}

Result parse_parse(std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  Parse p;
  p.statement = r.cstring();
  p.query = r.cstring();
  if (!r.ok()) return bad('P', "missing statement name or query string");
  if (!read_count(r, p.param_type_count)) return bad('P', "bad parameter type count");
  for (std::uint16_t i = 0; i < p.param_type_count; ++i) r.u32();
  if (!r.ok()) return bad('P', "parameter type list shorter than its count");
  if (!r.at_end()) return bad('P', "trailing bytes after parameter types");
  return Result::ok(p, n);
}

Result parse_bind(std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  Bind b;
  b.portal = r.cstring();
  b.statement = r.cstring();
  if (!r.ok()) return bad('B', "missing portal or statement name");
  if (!read_count(r, b.param_format_count)) return bad('B', "bad parameter format count");
  if (!read_format_codes(r, b.param_format_count)) return bad('B', "bad parameter format code");
  if (!read_count(r, b.param_count)) return bad('B', "bad parameter count");
  // PostgreSQL: zero format codes, one for all, or one per parameter.
  if (b.param_format_count > 1 && b.param_format_count != b.param_count)
    return bad('B', "parameter format count does not match parameter count");
  if (!read_values(r, b.param_count)) return bad('B', "bad parameter value length");
  if (!read_count(r, b.result_format_count)) return bad('B', "bad result format count");
  if (!read_format_codes(r, b.result_format_count)) return bad('B', "bad result format code");
  if (!r.at_end()) return bad('B', "trailing bytes after result format codes");
  return Result::ok(b, n);
}

template <class T>
Result parse_target(char type, std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  T m;
  m.target = static_cast<char>(r.u8());
  if (!r.ok()) return bad(type, "missing target");
  if (m.target != 'S' && m.target != 'P') return bad(type, "target is neither 'S' nor 'P'");
  m.name = r.cstring();
  if (!r.at_end()) return bad(type, "name is not exactly one NUL-terminated string");
  return Result::ok(m, n);
}

Result parse_execute(std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  Execute e;
  e.portal = r.cstring();
  e.max_rows = r.i32();
  if (!r.at_end()) return bad('E', "body is not a portal name and an Int32");
  if (e.max_rows < 0) return bad('E', "negative row limit");
  return Result::ok(e, n);
}

Result parse_copy_fail(std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  CopyFail f{r.cstring()};
  if (!r.at_end()) return bad('f', "body is not exactly one NUL-terminated string");
  return Result::ok(f, n);
}

Result parse_function_call(std::span<const std::uint8_t> body, std::size_t n) {
  ByteReader r(body);
  FunctionCall f;
  f.function_oid = r.i32();
  std::uint16_t nfmt = 0;
  std::uint16_t nargs = 0;
  if (!read_count(r, nfmt) || !read_format_codes(r, nfmt)) return bad('F', "bad argument format codes");
  if (!read_count(r, nargs)) return bad('F', "bad argument count");
  if (nfmt > 1 && nfmt != nargs) return bad('F', "argument format count does not match argument count");
  if (!read_values(r, nargs)) return bad('F', "bad argument value length");
  const std::int16_t result_format = r.i16();
  if (!r.ok() || (result_format != 0 && result_format != 1)) return bad('F', "bad result format code");
  if (!r.at_end()) return bad('F', "trailing bytes after result format");
  return Result::ok(f, n);
}

}  // namespace

std::size_t frontend_frame_size(std::span<const std::uint8_t> in, const Limits& limits) noexcept {
  if (in.size() < kHeaderSize) return 0;
  const Header h = check_header(in, limits);
  return h.error == nullptr ? h.frame_size : 0;
}

Decoded<FrontendMessage> decode_frontend(std::span<const std::uint8_t> in, const Limits& limits) {
  if (in.empty()) return Result::need_more();
  const char type = static_cast<char>(in[0]);
  if (!known_frontend_type(type)) return Result::malformed("unknown frontend message type " + type_name(type));
  if (in.size() < kHeaderSize) return Result::need_more();
  const Header h = check_header(in, limits);
  if (h.error != nullptr) return bad(type, h.error);
  const std::size_t n = h.frame_size;
  if (in.size() < n) return Result::need_more(n);
  const auto body = in.subspan(kHeaderSize, n - kHeaderSize);

  switch (type) {
    case 'Q': return parse_query(body, n);
    case 'P': return parse_parse(body, n);
    case 'B': return parse_bind(body, n);
    case 'D': return parse_target<Describe>('D', body, n);
    case 'C': return parse_target<Close>('C', body, n);
    case 'E': return parse_execute(body, n);
    case 'S':
    case 'H':
    case 'X':
    case 'c':
      if (!body.empty()) return bad(type, "length must be exactly 4");
      if (type == 'S') return Result::ok(Sync{}, n);
      if (type == 'H') return Result::ok(Flush{}, n);
      if (type == 'X') return Result::ok(Terminate{}, n);
      return Result::ok(CopyDone{}, n);
    case 'd': return Result::ok(CopyData{body}, n);
    case 'f': return parse_copy_fail(body, n);
    case 'F': return parse_function_call(body, n);
    case 'p': return Result::ok(PasswordMessage{body}, n);
    default: break;
  }
  return Result::malformed("unknown frontend message type " + type_name(type));
}

// ---- Startup packet (55.2.1; untyped: Int32 length incl. itself, Int32 code) ----

Decoded<StartupPacket> decode_startup(std::span<const std::uint8_t> in, const Limits& limits) {
  using R = Decoded<StartupPacket>;
  if (in.size() < 4) return R::need_more();
  const std::uint32_t len = load_u32(in.data());
  if (len < 8) return R::malformed("startup packet length below 8");
  if (len > limits.max_startup_packet) return R::malformed("startup packet length above the limit");
  if (in.size() < 8) return R::need_more();
  const auto code = static_cast<std::int32_t>(load_u32(in.data() + 4));

  // Decide what the packet is, and check its exact length, before waiting for the body.
  if (code == kSslRequestCode || code == kGssEncRequestCode) {
    if (len != 8) return R::malformed("SSLRequest/GSSENCRequest length must be exactly 8");
    if (code == kSslRequestCode) return R::ok(SslRequest{}, 8);
    return R::ok(GssEncRequest{}, 8);
  }
  if (code == kCancelRequestCode) {
    if (len != 16) return R::malformed("CancelRequest length must be exactly 16");
    if (in.size() < 16) return R::need_more();
    ByteReader r(in.subspan(8, 8));
    CancelRequest c;
    c.process_id = r.i32();
    c.secret_key = r.i32();
    return R::ok(c, 16);
  }
  if ((static_cast<std::uint32_t>(code) >> 16) != 3)
    return R::malformed("unsupported startup protocol version (major must be 3)");
  if (in.size() < len) return R::need_more();

  ByteReader r(in.subspan(8, len - 8));
  StartupMessage m;
  m.protocol_version = code;
  for (;;) {
    const std::string_view name = r.cstring();
    if (!r.ok()) return R::malformed("startup packet: unterminated parameter list");
    if (name.empty()) break;  // the final terminator
    const std::string_view value = r.cstring();
    if (!r.ok()) return R::malformed("startup packet: parameter without a value");
    if (m.parameters.size() >= limits.max_startup_parameters)
      return R::malformed("startup packet: too many parameters");
    m.parameters.emplace_back(std::string(name), std::string(value));
  }
  if (!r.at_end()) return R::malformed("startup packet: bytes after the parameter list terminator");
  return R::ok(std::move(m), len);
}

}  // namespace segproxy::protocols::pg
