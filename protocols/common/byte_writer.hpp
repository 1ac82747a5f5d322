#pragma once
// Appends big-endian fields to a byte vector; length-prefixed PostgreSQL messages are
// written with begin_message()/end_message(), which patches the length in place.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace segproxy::protocols {

using Bytes = std::vector<std::uint8_t>;

class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void i16(std::int16_t v) { u16(static_cast<std::uint16_t>(v)); }
  void u32(std::uint32_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 24));
    out_.push_back(static_cast<std::uint8_t>(v >> 16));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void cstring(std::string_view s) {
    bytes(s);
    out_.push_back(0);
  }

  // Starts a typed message ('\0' type = untyped startup-style message); returns a
  // handle for end_message().
  std::size_t begin_message(char type) {
    if (type != '\0') out_.push_back(static_cast<std::uint8_t>(type));
    std::size_t at = out_.size();
    u32(0);
    return at;
  }
  void end_message(std::size_t at) {
    auto len = static_cast<std::uint32_t>(out_.size() - at);
    out_[at] = static_cast<std::uint8_t>(len >> 24);
    out_[at + 1] = static_cast<std::uint8_t>(len >> 16);
    out_[at + 2] = static_cast<std::uint8_t>(len >> 8);
    out_[at + 3] = static_cast<std::uint8_t>(len);
  }

 private:
  Bytes& out_;
};

}  // namespace segproxy::protocols
