#pragma once
// Three-way decode result shared by every wire decoder.
// Contract: on NeedMore nothing is consumed (consumed == 0); on Ok, `consumed` is the
// exact size of the decoded unit; on Malformed, `error` says why and the caller closes
// the session (nothing is consumed).
#include <cstddef>
#include <string>
#include <utility>

namespace segproxy::protocols {

enum class DecodeStatus { Ok, NeedMore, Malformed };

template <class T>
struct Decoded {
  DecodeStatus status = DecodeStatus::NeedMore;
  T value{};
  std::size_t consumed = 0;
  std::string error;
  // NeedMore: the size of the whole unit when its header is already buffered and checked
  // (a reader buffers that much before decoding again); 0 when not known yet.
  std::size_t needed = 0;

  static Decoded need_more(std::size_t whole = 0) {
    Decoded d;
    d.needed = whole;
    return d;
  }
  static Decoded malformed(std::string why) {
    Decoded d;
    d.status = DecodeStatus::Malformed;
    d.error = std::move(why);
    return d;
  }
  static Decoded ok(T v, std::size_t n) {
    Decoded d;
    d.status = DecodeStatus::Ok;
    d.value = std::move(v);
    d.consumed = n;
    return d;
  }
};

}  // namespace segproxy::protocols
