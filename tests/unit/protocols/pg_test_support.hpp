#pragma once
// Small wire builders for the protocol unit tests (independent of the encoder, so the
// decoder tests do not just check the encoder against itself).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/byte_reader.hpp"
#include "protocols/common/byte_writer.hpp"
#include "protocols/pg/request_skips.hpp"

namespace segproxy::protocols::pg::test {

using Bytes = std::vector<std::uint8_t>;

struct Body {
  Bytes b;
  Body& u8(std::uint8_t v) { b.push_back(v); return *this; }
  Body& i16(std::int16_t v) {
    b.push_back(static_cast<std::uint8_t>(static_cast<std::uint16_t>(v) >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Body& i32(std::int32_t v) {
    const auto u = static_cast<std::uint32_t>(v);
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(u >> s));
    return *this;
  }
  Body& str(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
  Body& cstr(std::string_view s) { str(s); b.push_back(0); return *this; }
  Body& raw(const Bytes& r) { b.insert(b.end(), r.begin(), r.end()); return *this; }
};

// Typed frame: type byte, Int32 length (body + 4, unless overridden), body.
inline Bytes frame(char type, const Body& body, std::int64_t length_override = -1) {
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(type));
  const auto len = static_cast<std::uint32_t>(length_override >= 0 ? length_override
                                                                   : static_cast<std::int64_t>(body.b.size() + 4));
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(len >> s));
  out.insert(out.end(), body.b.begin(), body.b.end());
  return out;
}

// Untyped startup packet: Int32 length (including itself), body.
inline Bytes untyped(const Body& body, std::int64_t length_override = -1) {
  Bytes out;
  const auto len = static_cast<std::uint32_t>(length_override >= 0 ? length_override
                                                                   : static_cast<std::int64_t>(body.b.size() + 4));
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(len >> s));
  out.insert(out.end(), body.b.begin(), body.b.end());
  return out;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline std::span<const std::uint8_t> span_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// RequestSkips: feeds backend message types and returns the total of skipped requests
// reported; forwards frontend messages, none of which may be known skipped at once.
inline std::uint32_t answer(RequestSkips& s, const std::string& types) {
  std::uint32_t skipped = 0;
  for (const char t : types) skipped += s.backend(t);
  return skipped;
}
inline void send(RequestSkips& s, std::initializer_list<FrontendMessage> sent) {
  for (const auto& m : sent) EXPECT_FALSE(s.forwarded(m));
}

}  // namespace segproxy::protocols::pg::test
