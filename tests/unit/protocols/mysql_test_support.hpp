#pragma once
// Wire builders for the MySQL protocol unit tests (little-endian; independent of the
// encoders under test, so decoder tests do not just check an encoder against itself).
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::protocols::mysql::test {

using Bytes = std::vector<std::uint8_t>;

struct P {  // payload builder
  Bytes b;
  P& u8(std::uint8_t v) { b.push_back(v); return *this; }
  P& u16(std::uint16_t v) { return le(v, 2); }
  P& u24(std::uint32_t v) { return le(v, 3); }
  P& u32(std::uint32_t v) { return le(v, 4); }
  P& u64(std::uint64_t v) { return le(v, 8); }
  P& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  P& lenenc(std::uint64_t v) {
    if (v < 251) return u8(static_cast<std::uint8_t>(v));
    if (v < 0x10000) return u8(0xFC).u16(static_cast<std::uint16_t>(v));
    if (v < 0x1000000) return u8(0xFD).u24(static_cast<std::uint32_t>(v));
    return u8(0xFE).u64(v);
  }
  P& str(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
  P& cstr(std::string_view s) { str(s); b.push_back(0); return *this; }
  P& lstr(std::string_view s) { lenenc(s.size()); return str(s); }
  P& raw(const Bytes& r) { b.insert(b.end(), r.begin(), r.end()); return *this; }
  P& zeros(std::size_t n) { b.insert(b.end(), n, 0); return *this; }
};

// One physical packet: 3-byte length (overridable), sequence id, payload.
inline Bytes packet(std::uint8_t seq, const Bytes& payload, std::int64_t length_override = -1) {
  Bytes out;
  const auto len = static_cast<std::uint32_t>(length_override >= 0 ? length_override
                                                                   : static_cast<std::int64_t>(payload.size()));
  out.push_back(static_cast<std::uint8_t>(len));
  out.push_back(static_cast<std::uint8_t>(len >> 8));
  out.push_back(static_cast<std::uint8_t>(len >> 16));
  out.push_back(seq);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}
inline Bytes packet(std::uint8_t seq, const P& p) { return packet(seq, p.b); }

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Bytes from_hex(std::string_view hex) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    const int v = nib(c);
    if (v < 0) continue;  // spaces / separators
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

inline std::string to_hex(const Bytes& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 0xf];
  }
  return s;
}

}  // namespace segproxy::protocols::mysql::test
