#pragma once
// Backend message boundaries for the rare path that replaces answers whose audit record
// failed after their request was forwarded (daemon/pg/pg_wal_replace.cpp): the type,
// the end and, for ReadyForQuery, the transaction status of every message, across
// feeds split anywhere. Headers only (type + length); bodies are skipped. The relay's
// BackendStream checked the same bytes first, so a length below 4 cannot occur; it is
// still reported (false) rather than trusted. Pure: no I/O.
// Protocol reference: PostgreSQL 15 docs 55.7 "Message Formats".
#include <cstddef>
#include <cstdint>
#include <span>

namespace segproxy::protocols::pg {

class ReplyScan {
 public:
  struct Message {
    std::size_t end = 0;  // offset just past the message in the span of this feed
    char type = 0;
    char status = 0;      // ReadyForQuery: 'I', 'T' or 'E'; otherwise 0
  };

  // Calls on(Message) for every message that ends inside `data`. false: a length below
  // 4 (the scan is then lost).
  template <class OnMessage>
  bool feed(std::span<const std::uint8_t> data, OnMessage&& on) {
    std::size_t i = 0;
    while (i < data.size()) {
      if (have_ < kHeader) {
        header_[have_++] = data[i++];
        if (have_ < kHeader) continue;
        const std::uint32_t len = static_cast<std::uint32_t>(header_[1]) << 24 |
                                  static_cast<std::uint32_t>(header_[2]) << 16 |
                                  static_cast<std::uint32_t>(header_[3]) << 8 | static_cast<std::uint32_t>(header_[4]);
        if (len < 4) return false;
        left_ = len - 4;
        status_ = 0;
        first_ = true;
      } else {
        const std::size_t take = left_ < data.size() - i ? left_ : data.size() - i;
        if (first_ && take > 0) {
          status_ = static_cast<char>(data[i]);
          first_ = false;
        }
        i += take;
        left_ -= take;
      }
      if (have_ == kHeader && left_ == 0) {
        const char type = static_cast<char>(header_[0]);
        have_ = 0;
        on(Message{i, type, type == 'Z' ? status_ : char{0}});
      }
    }
    return true;
  }

  // True when the scan sits exactly on a message boundary.
  bool at_boundary() const { return have_ == 0; }

 private:
  static constexpr std::size_t kHeader = 5;
  std::uint8_t header_[kHeader] = {};
  std::size_t have_ = 0;
  std::size_t left_ = 0;
  char status_ = 0;
  bool first_ = false;
};

}  // namespace segproxy::protocols::pg
