#pragma once
// MySQL packet framing (page_protocol_basic_packets.html): every packet is a 3-byte
// little-endian payload length, a 1-byte sequence id and the payload. A payload of
// 0xFFFFFF bytes continues in the next packet (sequence id + 1); a logical message whose
// size is a multiple of 0xFFFFFF ends with an empty packet.
//
// Two ways in:
//  - decode_message(): one whole logical message from a byte span (client side, login
//    phase): Ok / NeedMore (nothing consumed) / Malformed, with the size cap checked
//    from each header before its body is waited for.
//  - MessageStream: streaming framer for the relay direction (backend -> client): all
//    bytes are consumed as they arrive, only the first `keep` bytes of each logical
//    message are buffered, so memory is bounded whatever the row sizes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "protocols/common/decoded.hpp"
#include "protocols/mysql/wire.hpp"

namespace segproxy::protocols::mysql {

inline constexpr std::size_t kPacketHeaderSize = 4;
inline constexpr std::size_t kMaxPacketPayload = 0xFFFFFF;

// A reassembled logical message. payload() is a view into the decoded input when the
// message was one packet (valid until those bytes are consumed), else into the copy
// the message owns.
class Message {
 public:
  Message() = default;
  std::span<const std::uint8_t> payload() const { return joined_ ? std::span<const std::uint8_t>(storage_) : view_; }
  std::uint8_t first_seq() const { return first_seq_; }
  std::uint8_t last_seq() const { return last_seq_; }
  // The sequence id the peer's reply starts with.
  std::uint8_t next_seq() const { return static_cast<std::uint8_t>(last_seq_ + 1); }
  std::size_t packets() const { return packets_; }

  bool operator==(const Message& o) const;

 private:
  friend Decoded<Message> decode_message(std::span<const std::uint8_t>, std::optional<std::uint8_t>, std::size_t);
  std::span<const std::uint8_t> view_;
  Bytes storage_;
  bool joined_ = false;
  std::uint8_t first_seq_ = 0;
  std::uint8_t last_seq_ = 0;
  std::size_t packets_ = 0;
};

// Decodes one logical message. `expected_seq`: the sequence id its first packet must
// carry (nullopt: any); continuation packets must follow +1 (mod 256). A logical size
// above `max_payload` is Malformed as soon as the header that crosses it is visible.
Decoded<Message> decode_message(std::span<const std::uint8_t> in, std::optional<std::uint8_t> expected_seq,
                                std::size_t max_payload);

// Writes `payload` as one logical message starting at sequence id `seq`, split into
// 0xFFFFFF-byte packets (plus the terminating empty packet when needed). Returns the
// sequence id that follows the last packet written.
std::uint8_t encode_message(Bytes& out, std::uint8_t seq, std::span<const std::uint8_t> payload);

// ---- Streaming ----
struct StreamedMessage {
  std::uint8_t first_seq = 0;
  std::uint8_t last_seq = 0;
  std::size_t size = 0;                // logical payload size
  std::span<const std::uint8_t> head;  // its first min(size, keep) bytes
  bool complete() const { return head.size() == size; }
};

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Return false to stop: feed() then reports Malformed (with the sink's reason).
  virtual bool on_message(const StreamedMessage& m, std::string& error) = 0;
};

class MessageStream {
 public:
  MessageStream(std::size_t keep, std::size_t max_message) : keep_(keep), max_message_(max_message) {}
  // Consumes every byte (Ok) or stops at the first problem (Malformed, see error()):
  // a continuation packet out of sequence, a logical size above max_message, or a sink
  // refusal. After Malformed the stream is unusable.
  DecodeStatus feed(std::span<const std::uint8_t> data, MessageSink& sink);
  bool at_boundary() const { return header_have_ == 0 && !in_body_ && !continuing_; }
  const std::string& error() const { return error_; }

 private:
  bool finish_packet(MessageSink& sink);
  DecodeStatus fail(std::string why);

  std::size_t keep_;
  std::size_t max_message_;
  std::uint8_t header_[kPacketHeaderSize] = {};
  std::size_t header_have_ = 0;
  std::size_t packet_len_ = 0;
  std::size_t body_left_ = 0;
  bool in_body_ = false;
  bool continuing_ = false;  // the previous packet was 0xFFFFFF bytes
  StreamedMessage current_;
  Bytes head_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace segproxy::protocols::mysql
