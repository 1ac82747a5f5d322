#pragma once
// Little-endian primitives of the MySQL client/server protocol
// (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_data_types.html):
// fixed-width integers int<1..8>, length-encoded integers int<lenenc>, and strings
// string<NUL>, string<lenenc>, string<EOF>, string<fix>.
//
// LeReader mirrors protocols/common/ByteReader: every read is bounds-checked, a failed
// read sets ok() to false and returns a zero value, so a decoder reads a whole structure
// and checks ok() once. Length-encoded integers: 0x00..0xFA one byte, 0xFC + int<2>,
// 0xFD + int<3>, 0xFE + int<8>; 0xFB is NULL (only meaningful in text rows: lenenc()
// reports it as a failure unless lenenc_or_null() is used) and 0xFF is never valid.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "protocols/common/byte_reader.hpp"
#include "protocols/common/byte_writer.hpp"

namespace segproxy::protocols::mysql {

using Bytes = protocols::Bytes;

inline constexpr std::uint8_t kLenencNull = 0xFB;

class LeReader {
 public:
  explicit LeReader(std::span<const std::uint8_t> data) : data_(data) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  std::size_t position() const { return pos_; }
  bool at_end() const { return ok_ && pos_ == data_.size(); }
  void fail() { ok_ = false; }
  // The next byte without consuming it (0 and no failure when at the end).
  std::uint8_t peek() const { return ok_ && pos_ < data_.size() ? data_[pos_] : 0; }

  std::uint64_t uint(std::size_t width) {
    if (!need(width)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += width;
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(uint(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(uint(2)); }
  std::uint32_t u24() { return static_cast<std::uint32_t>(uint(3)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
  std::uint64_t u64() { return uint(8); }

  // int<lenenc>. NULL (0xFB) and 0xFF fail the reader.
  std::uint64_t lenenc() {
    bool is_null = false;
    const std::uint64_t v = lenenc_or_null(is_null);
    if (is_null) ok_ = false;
    return v;
  }
  // int<lenenc> where 0xFB means NULL (text result rows).
  std::uint64_t lenenc_or_null(bool& is_null) {
    is_null = false;
    const std::uint8_t first = u8();
    if (!ok_) return 0;
    if (first < 0xFB) return first;
    switch (first) {
      case 0xFB: is_null = true; return 0;
      case 0xFC: return uint(2);
      case 0xFD: return uint(3);
      case 0xFE: return uint(8);
      default: ok_ = false; return 0;  // 0xFF: not a length-encoded integer
    }
  }

  std::span<const std::uint8_t> bytes(std::size_t n) {
    if (!need(n)) return {};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // string<lenenc>: the length is checked against what is left before anything else.
  std::span<const std::uint8_t> lenenc_bytes() {
    const std::uint64_t n = lenenc();
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return {};
    }
    return bytes(static_cast<std::size_t>(n));
  }
  std::string_view lenenc_string() { return as_string_view(lenenc_bytes()); }
  std::string_view fixed_string(std::size_t n) { return as_string_view(bytes(n)); }

  // string<NUL>: the terminator is consumed, not returned.
  std::string_view cstring() {
    // Nothing left: no terminator (never memchr on an empty span: its data() may be null).
    if (!ok_ || pos_ >= data_.size()) {
      ok_ = false;
      return {};
    }
    const void* nul = std::memchr(data_.data() + pos_, 0, data_.size() - pos_);
    if (nul == nullptr) {
      ok_ = false;
      return {};
    }
    const auto len = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - (data_.data() + pos_));
    std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len + 1;
    return s;
  }
  // string<NUL> that may also end at the end of the payload without a terminator
  // (servers and clients omit the final NUL of the plugin name, MySQL bug #59453).
  std::string_view cstring_or_rest() {
    if (!ok_) return {};
    if (pos_ >= data_.size()) return {};  // empty rest (memchr never sees a null pointer)
    if (std::memchr(data_.data() + pos_, 0, data_.size() - pos_) != nullptr) return cstring();
    return as_string_view(rest());
  }

  // string<EOF>
  std::span<const std::uint8_t> rest() {
    if (!ok_) return {};
    auto s = data_.subspan(pos_);
    pos_ = data_.size();
    return s;
  }
  std::string_view rest_string() { return as_string_view(rest()); }

 private:
  bool need(std::size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class LeWriter {
 public:
  explicit LeWriter(Bytes& out) : out_(out) {}

  void uint(std::uint64_t v, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { uint(v, 2); }
  void u24(std::uint32_t v) { uint(v, 3); }
  void u32(std::uint32_t v) { uint(v, 4); }
  void u64(std::uint64_t v) { uint(v, 8); }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }

  // Shortest encoding, as servers write it.
  void lenenc(std::uint64_t v) {
    if (v < 0xFB) {
      u8(static_cast<std::uint8_t>(v));
    } else if (v <= 0xFFFF) {
      u8(0xFC);
      uint(v, 2);
    } else if (v <= 0xFFFFFF) {
      u8(0xFD);
      uint(v, 3);
    } else {
      u8(0xFE);
      uint(v, 8);
    }
  }
  void null() { u8(kLenencNull); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void lenenc_bytes(std::span<const std::uint8_t> b) {
    lenenc(b.size());
    bytes(b);
  }
  void lenenc_string(std::string_view s) {
    lenenc(s.size());
    bytes(s);
  }
  void cstring(std::string_view s) {
    bytes(s);
    out_.push_back(0);
  }

 private:
  Bytes& out_;
};

// Size of the shortest int<lenenc> encoding of v.
inline constexpr std::size_t lenenc_size(std::uint64_t v) {
  return v < 0xFB ? 1 : v <= 0xFFFF ? 3 : v <= 0xFFFFFF ? 4 : 9;
}

}  // namespace segproxy::protocols::mysql
