// MySQL packet framing and reassembly (page_protocol_basic_packets.html,
// "Sending More Than 16Mb"). Lengths are checked against their caps from the header,
// before any body is waited for; NeedMore and Malformed consume nothing.
#include "protocols/mysql/framer.hpp"

#include <algorithm>
#include <string>

namespace segproxy::protocols::mysql {

namespace {

std::size_t load_u24(const std::uint8_t* p) {
  return std::size_t{p[0]} | (std::size_t{p[1]} << 8) | (std::size_t{p[2]} << 16);
}

std::string seq_error(std::uint8_t got, std::uint8_t want) {
  return "packet sequence id " + std::to_string(got) + ", expected " + std::to_string(want);
}

}  // namespace

bool Message::operator==(const Message& o) const {
  const auto a = payload();
  const auto b = o.payload();
  return first_seq_ == o.first_seq_ && last_seq_ == o.last_seq_ && packets_ == o.packets_ &&
         std::equal(a.begin(), a.end(), b.begin(), b.end());
}

Decoded<Message> decode_message(std::span<const std::uint8_t> in, std::optional<std::uint8_t> expected_seq,
                                std::size_t max_payload) {
  using Result = Decoded<Message>;
  std::size_t off = 0;
  std::size_t total = 0;
  std::size_t packets = 0;
  std::uint8_t first_seq = 0;
  std::uint8_t last_seq = 0;
  for (;;) {
    if (in.size() - off < kPacketHeaderSize) return Result::need_more();
    const std::size_t len = load_u24(in.data() + off);
    const std::uint8_t seq = in[off + 3];
    if (packets == 0) {
      if (expected_seq && seq != *expected_seq) return Result::malformed(seq_error(seq, *expected_seq));
      first_seq = seq;
    } else if (seq != static_cast<std::uint8_t>(last_seq + 1)) {
      return Result::malformed(seq_error(seq, static_cast<std::uint8_t>(last_seq + 1)));
    }
    last_seq = seq;
    if (len > max_payload - total) return Result::malformed("message larger than the limit");
    total += len;
    ++packets;
    if (in.size() - off - kPacketHeaderSize < len) return Result::need_more();
    off += kPacketHeaderSize + len;
    if (len < kMaxPacketPayload) break;
  }

  Message m;
  m.first_seq_ = first_seq;
  m.last_seq_ = last_seq;
  m.packets_ = packets;
  if (packets == 1) {
    m.view_ = in.subspan(kPacketHeaderSize, total);
  } else {
    m.joined_ = true;
    m.storage_.reserve(total);
    std::size_t at = 0;
    for (std::size_t i = 0; i < packets; ++i) {
      const std::size_t len = load_u24(in.data() + at);
      const auto body = in.subspan(at + kPacketHeaderSize, len);
      m.storage_.insert(m.storage_.end(), body.begin(), body.end());
      at += kPacketHeaderSize + len;
    }
  }
  return Result::ok(std::move(m), off);
}

std::uint8_t encode_message(Bytes& out, std::uint8_t seq, std::span<const std::uint8_t> payload) {
  LeWriter w(out);
  std::size_t off = 0;
  for (;;) {
    const std::size_t n = std::min(kMaxPacketPayload, payload.size() - off);
    w.u24(static_cast<std::uint32_t>(n));
    w.u8(seq++);
    w.bytes(payload.subspan(off, n));
    off += n;
    if (n < kMaxPacketPayload) return seq;
  }
}

DecodeStatus MessageStream::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return DecodeStatus::Malformed;
}

bool MessageStream::finish_packet(MessageSink& sink) {
  in_body_ = false;
  if (packet_len_ == kMaxPacketPayload) {
    continuing_ = true;
    return true;
  }
  continuing_ = false;
  current_.head = head_;
  return sink.on_message(current_, error_);
}

DecodeStatus MessageStream::feed(std::span<const std::uint8_t> data, MessageSink& sink) {
  if (failed_) return DecodeStatus::Malformed;
  std::size_t pos = 0;
  for (;;) {
    if (!in_body_) {
      // Fast path: a whole single-packet message is in `data`: report it in place.
      if (header_have_ == 0 && !continuing_ && data.size() - pos >= kPacketHeaderSize) {
        const std::size_t len = load_u24(data.data() + pos);
        if (len < kMaxPacketPayload && data.size() - pos - kPacketHeaderSize >= len) {
          if (len > max_message_) return fail("message larger than the limit");
          StreamedMessage m;
          m.first_seq = m.last_seq = data[pos + 3];
          m.size = len;
          m.head = data.subspan(pos + kPacketHeaderSize, std::min(len, keep_));
          pos += kPacketHeaderSize + len;
          if (!sink.on_message(m, error_)) return fail(error_.empty() ? "refused by the response tracker" : error_);
          continue;
        }
      }
      if (pos == data.size()) return DecodeStatus::Ok;
      header_[header_have_++] = data[pos++];
      if (header_have_ < kPacketHeaderSize) continue;
      header_have_ = 0;
      const std::size_t len = load_u24(header_);
      const std::uint8_t seq = header_[3];
      if (continuing_) {
        const auto want = static_cast<std::uint8_t>(current_.last_seq + 1);
        if (seq != want) return fail(seq_error(seq, want));
      } else {
        current_ = StreamedMessage{};
        current_.first_seq = seq;
        head_.clear();
      }
      current_.last_seq = seq;
      if (len > max_message_ - current_.size) return fail("message larger than the limit");
      current_.size += len;
      packet_len_ = len;
      body_left_ = len;
      in_body_ = true;
      if (body_left_ == 0 && !finish_packet(sink))
        return fail(error_.empty() ? "refused by the response tracker" : error_);
      continue;
    }
    if (pos == data.size()) return DecodeStatus::Ok;
    const std::size_t n = std::min(body_left_, data.size() - pos);
    if (head_.size() < keep_) {
      const std::size_t take = std::min(n, keep_ - head_.size());
      head_.insert(head_.end(), data.begin() + static_cast<std::ptrdiff_t>(pos),
                   data.begin() + static_cast<std::ptrdiff_t>(pos + take));
    }
    pos += n;
    body_left_ -= n;
    if (body_left_ == 0 && !finish_packet(sink))
      return fail(error_.empty() ? "refused by the response tracker" : error_);
  }
}

}  // namespace segproxy::protocols::mysql
