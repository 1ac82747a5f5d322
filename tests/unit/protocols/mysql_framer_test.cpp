// MySQL wire primitives and framing: length-encoded integers, packet reassembly,
// 16 MiB continuation, sequence ids, caps, and the streaming MessageStream.
#include <gtest/gtest.h>

#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/wire.hpp"
#include "mysql_test_support.hpp"

namespace segproxy::protocols::mysql {
namespace {

using test::P;
using test::packet;

constexpr std::size_t kBig = 64u * 1024u * 1024u;

// ---- int<lenenc> ----

TEST(MysqlWire, LenencIntegerRoundTripsAtEveryWidthBoundary) {
  for (std::uint64_t v : {0ull, 1ull, 250ull, 251ull, 0xFFFFull, 0x10000ull, 0xFFFFFFull, 0x1000000ull,
                          0xFFFFFFFFFFFFFFFFull}) {
    Bytes b;
    LeWriter(b).lenenc(v);
    EXPECT_EQ(b.size(), lenenc_size(v)) << v;
    EXPECT_EQ(b, P().lenenc(v).b) << v;
    LeReader r(b);
    EXPECT_EQ(r.lenenc(), v);
    EXPECT_TRUE(r.at_end());
  }
}

TEST(MysqlWire, LenencIntegerFFIsMalformed) {
  const Bytes b{0xFF, 1, 2};
  LeReader r(b);
  r.lenenc();
  EXPECT_FALSE(r.ok());
}

TEST(MysqlWire, LenencNullIsOnlyAcceptedWhereNullIsAllowed) {
  const Bytes b{0xFB};
  LeReader strict(b);
  strict.lenenc();
  EXPECT_FALSE(strict.ok());
  LeReader lenient(b);
  bool is_null = false;
  lenient.lenenc_or_null(is_null);
  EXPECT_TRUE(lenient.ok());
  EXPECT_TRUE(is_null);
}

TEST(MysqlWire, TruncatedLenencIntegerAndStringFail) {
  for (const Bytes& b : {Bytes{0xFC, 1}, Bytes{0xFD, 1, 2}, Bytes{0xFE, 1, 2, 3, 4, 5, 6, 7}, Bytes{3, 'a', 'b'}}) {
    LeReader r(b);
    r.lenenc_bytes();
    EXPECT_FALSE(r.ok());
  }
}

TEST(MysqlWire, HugeLenencStringLengthDoesNotOverflow) {
  const Bytes b = P().u8(0xFE).u64(0xFFFFFFFFFFFFFFFFull).str("abc").b;
  LeReader r(b);
  r.lenenc_bytes();
  EXPECT_FALSE(r.ok());
}

// ---- decode_message ----

TEST(MysqlFramer, SinglePacketDecodesAsAViewAndConsumesExactlyItsBytes) {
  const Bytes wire = test::concat({packet(0, P().u8(0x03).str("SELECT 1")), packet(0, P().u8(0x0E))});
  const auto d = decode_message(wire, 0, kBig);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.consumed, 13u);
  EXPECT_EQ(d.value.packets(), 1u);
  EXPECT_EQ(d.value.next_seq(), 1);
  EXPECT_EQ(as_string_view(d.value.payload()), std::string_view("\x03SELECT 1"));
  EXPECT_EQ(d.value.payload().data(), wire.data() + 4);
}

TEST(MysqlFramer, EveryStrictPrefixIsNeedMoreAndConsumesNothing) {
  const Bytes wire = packet(3, P().u8(0x03).str("SELECT 1"));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    const auto d = decode_message(std::span(wire).first(n), 3, kBig);
    EXPECT_EQ(d.status, DecodeStatus::NeedMore) << n;
    EXPECT_EQ(d.consumed, 0u);
  }
}

TEST(MysqlFramer, EmptyPayloadIsOneEmptyPacket) {
  Bytes out;
  EXPECT_EQ(encode_message(out, 7, {}), 8);
  EXPECT_EQ(out, (Bytes{0, 0, 0, 7}));
  const auto d = decode_message(out, 7, kBig);
  ASSERT_EQ(d.status, DecodeStatus::Ok);
  EXPECT_TRUE(d.value.payload().empty());
}

TEST(MysqlFramer, PayloadOfExactly16MiBEndsWithEmptyPacket) {
  const Bytes payload(kMaxPacketPayload, 0xAB);
  Bytes out;
  EXPECT_EQ(encode_message(out, 0, payload), 2);
  ASSERT_EQ(out.size(), payload.size() + 8);
  EXPECT_EQ((Bytes(out.begin(), out.begin() + 4)), (Bytes{0xFF, 0xFF, 0xFF, 0}));
  EXPECT_EQ((Bytes(out.end() - 4, out.end())), (Bytes{0, 0, 0, 1}));
  const auto d = decode_message(out, 0, kBig);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.consumed, out.size());
  EXPECT_EQ(d.value.packets(), 2u);
  EXPECT_EQ(d.value.last_seq(), 1);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), d.value.payload().begin(), d.value.payload().end()));
}

TEST(MysqlFramer, MultiPacketMessageIsReassembledInOrder) {
  Bytes payload(2 * kMaxPacketPayload + 10);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  Bytes out;
  EXPECT_EQ(encode_message(out, 254, payload), 1);  // 254, 255, 0 -> next 1 (wraps)
  const auto d = decode_message(out, 254, kBig);
  ASSERT_EQ(d.status, DecodeStatus::Ok) << d.error;
  EXPECT_EQ(d.value.packets(), 3u);
  EXPECT_EQ(d.value.first_seq(), 254);
  EXPECT_EQ(d.value.last_seq(), 0);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), d.value.payload().begin(), d.value.payload().end()));
  // Any prefix that cuts the last packet waits.
  const auto part = decode_message(std::span(out).first(out.size() - 1), 254, kBig);
  EXPECT_EQ(part.status, DecodeStatus::NeedMore);
}

TEST(MysqlFramer, SequenceIdMismatchIsMalformed) {
  const Bytes wire = packet(1, P().u8(0x0E));
  const auto d = decode_message(wire, 0, kBig);
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_NE(d.error.find("sequence"), std::string::npos);
  EXPECT_EQ(decode_message(wire, std::nullopt, kBig).status, DecodeStatus::Ok);
}

TEST(MysqlFramer, ContinuationPacketOutOfSequenceIsMalformed) {
  Bytes wire = packet(0, Bytes(kMaxPacketPayload, 1));
  const Bytes tail = packet(5, P().str("x"));
  wire.insert(wire.end(), tail.begin(), tail.end());
  const auto d = decode_message(wire, 0, kBig);
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
}

TEST(MysqlFramer, OversizeMessageIsMalformedFromTheHeaderAlone) {
  const Bytes header{0x01, 0x10, 0x00, 0x00};  // 4097-byte payload announced, no body yet
  const auto d = decode_message(header, 0, 4096);
  EXPECT_EQ(d.status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_message(header, 0, 4097).status, DecodeStatus::NeedMore);
}

TEST(MysqlFramer, OversizeAcrossContinuationPacketsIsMalformed) {
  Bytes wire = packet(0, Bytes(kMaxPacketPayload, 1));
  wire.insert(wire.end(), {0x10, 0, 0, 1});  // 16 more bytes announced
  EXPECT_EQ(decode_message(wire, 0, kMaxPacketPayload + 15).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_message(wire, 0, kMaxPacketPayload + 16).status, DecodeStatus::NeedMore);
}

// ---- MessageStream ----

struct Collect : MessageSink {
  std::vector<std::tuple<std::uint8_t, std::uint8_t, std::size_t, Bytes>> got;
  bool on_message(const StreamedMessage& m, std::string&) override {
    got.emplace_back(m.first_seq, m.last_seq, m.size, Bytes(m.head.begin(), m.head.end()));
    return true;
  }
};

TEST(MysqlMessageStream, SameMessagesForEverySplitOffset) {
  const Bytes wire = test::concat({packet(1, P().u8(1)), packet(2, P().lstr("def").lstr("db")), packet(3, Bytes{}),
                                   packet(4, P().u8(0xFE).u16(0).u16(2))});
  Collect whole;
  MessageStream s1(1024, kBig);
  ASSERT_EQ(s1.feed(wire, whole), DecodeStatus::Ok);
  ASSERT_EQ(whole.got.size(), 4u);
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    Collect c;
    MessageStream s(1024, kBig);
    ASSERT_EQ(s.feed(std::span(wire).first(cut), c), DecodeStatus::Ok);
    ASSERT_EQ(s.feed(std::span(wire).subspan(cut), c), DecodeStatus::Ok);
    EXPECT_EQ(c.got, whole.got) << "cut at " << cut;
    EXPECT_TRUE(s.at_boundary());
  }
}

TEST(MysqlMessageStream, KeepsOnlyTheHeadOfLargeMessagesAndReassemblesContinuations) {
  Bytes payload(kMaxPacketPayload + 3, 0x11);
  payload[0] = 0x22;
  Bytes wire;
  encode_message(wire, 9, payload);
  Collect c;
  MessageStream s(16, kBig);
  for (std::size_t at = 0; at < wire.size(); at += 1 << 20) {
    ASSERT_EQ(s.feed(std::span(wire).subspan(at, std::min<std::size_t>(1 << 20, wire.size() - at)), c),
              DecodeStatus::Ok);
  }
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(std::get<0>(c.got[0]), 9);
  EXPECT_EQ(std::get<1>(c.got[0]), 10);
  EXPECT_EQ(std::get<2>(c.got[0]), payload.size());
  EXPECT_EQ(std::get<3>(c.got[0]).size(), 16u);
  EXPECT_EQ(std::get<3>(c.got[0])[0], 0x22);
}

TEST(MysqlMessageStream, ContinuationOutOfSequenceAndOversizeAreMalformed) {
  Bytes wire = packet(0, Bytes(kMaxPacketPayload, 1));
  const Bytes bad = packet(3, P().u8(1));
  wire.insert(wire.end(), bad.begin(), bad.end());
  Collect c;
  MessageStream s(16, kBig);
  EXPECT_EQ(s.feed(wire, c), DecodeStatus::Malformed);
  EXPECT_FALSE(s.error().empty());

  MessageStream small(16, 10);
  EXPECT_EQ(small.feed(packet(0, Bytes(11, 0)), c), DecodeStatus::Malformed);
}

}  // namespace
}  // namespace segproxy::protocols::mysql
