// daemon/net/client_fill: the client read buffer both sessions fill (issue 15, no
// coroutine frame per message). The sessions' pattern - the plain fill first
// (fill_client_now), the fill that waits (fill_client) only when it reports Wait, then
// decode every whole message buffered - over real loopback TCP: MySQL commands split at
// every byte offset are decoded whole, once and in order; several that arrive in one
// read are all decoded from that read; an idle fill holds no buffer while it waits; a
// frame larger than one chunk gets the room its header announced.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/net/client_fill.hpp"
#include "protocols/mysql/framer.hpp"

namespace segproxy::proxy {
namespace {

namespace my = protocols::mysql;
using protocols::Bytes;
using protocols::DecodeStatus;

constexpr std::size_t kChunk = 64;  // small, so a long command needs several fills

Bytes framed(std::uint8_t seq, const std::string& payload) {
  Bytes out;
  my::encode_message(out, seq, Bytes(payload.begin(), payload.end()));
  return out;
}

// Three client commands: COM_QUERY, COM_PING, and a COM_QUERY longer than kChunk.
std::vector<std::string> three_payloads() {
  return {std::string("\x03SELECT 1", 9), std::string("\x0e", 1), "\x03SELECT '" + std::string(300, 'x') + "'"};
}

Bytes all_framed() {
  Bytes all;
  for (const auto& p : three_payloads()) {
    const Bytes f = framed(0, p);
    all.insert(all.end(), f.begin(), f.end());
  }
  return all;
}

struct Pair {
  asio::io_context ctx{1};
  tcp::socket peer{ctx};
  std::unique_ptr<Stream> stream;

  Pair() {
    tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer.connect(acc.local_endpoint());
    stream = std::make_unique<Stream>(acc.accept());
    peer.set_option(tcp::no_delay(true));
  }
  void send(const std::uint8_t* p, std::size_t n) { asio::write(peer, asio::buffer(p, n)); }
};

void settle(asio::io_context& ctx) {
  for (int i = 0; i < 50; ++i) {
    ctx.restart();
    if (ctx.poll() == 0 && i > 2) return;
  }
}

template <class Pred>
bool run_until(asio::io_context& ctx, Pred done) {
  for (int i = 0; i < 5000 && !done(); ++i) {
    ctx.restart();
    ctx.run_one_for(std::chrono::milliseconds(1));
  }
  return done();
}

// A session's client side: [start, end) of buf undecoded.
struct Reader {
  Bytes buf;
  std::size_t start = 0;
  std::size_t end = 0;
  std::vector<std::string> decoded;
  std::size_t fills = 0;       // fills that read something
  std::size_t waiting = 0;     // fill_client calls (the plain step could not read)
  error_code ec;

  // Every whole message buffered, decoded and consumed.
  void decode_all() {
    for (;;) {
      auto d = my::decode_message(std::span<const std::uint8_t>(buf.data() + start, end - start), std::uint8_t{0},
                                  1 << 20);
      if (d.status != DecodeStatus::Ok) {
        ASSERT_NE(d.status, DecodeStatus::Malformed) << d.error;
        return;
      }
      const auto p = d.value.payload();
      decoded.emplace_back(p.begin(), p.end());
      start += d.consumed;
    }
  }
};

// The sessions' loop: plain fill, the waiting fill only after Wait, then decode.
awaitable<void> read_messages(Stream& s, Reader& r, std::size_t want) {
  while (r.decoded.size() < want) {
    std::size_t n = 0;
    const Fill f = fill_client_now(s, r.buf, r.start, r.end, kChunk, 0, r.ec, n);
    if (f == Fill::Failed) co_return;
    if (f == Fill::Wait) {
      ++r.waiting;
      n = co_await fill_client(s, r.buf, r.start, r.end, kChunk, 0, r.ec);
      if (r.ec) co_return;
    }
    r.end += n;
    ++r.fills;
    r.decode_all();
  }
}

TEST(ClientFill, CommandsSplitAtEveryOffsetAreDecodedWholeOnceAndInOrder) {
  const Bytes all = all_framed();
  for (std::size_t k = 1; k < all.size(); ++k) {
    Pair p;
    Reader r;
    asio::co_spawn(p.ctx, read_messages(*p.stream, r, 3), asio::detached);
    settle(p.ctx);  // the reader now waits for the client
    p.send(all.data(), k);
    settle(p.ctx);
    p.send(all.data() + k, all.size() - k);
    ASSERT_TRUE(run_until(p.ctx, [&] { return r.decoded.size() == 3 || r.ec; })) << "split at " << k;
    ASSERT_FALSE(r.ec) << r.ec.message() << " (split at " << k << ")";
    ASSERT_EQ(r.decoded, three_payloads()) << "split at " << k;
    ASSERT_EQ(r.start, r.end) << "split at " << k;  // nothing left undecoded, nothing decoded twice
  }
}

TEST(ClientFill, SeveralCommandsThatArriveTogetherAreDecodedFromOnePlainFill) {
  Pair p;
  const Bytes all = all_framed();
  p.send(all.data(), all.size());
  Reader r;
  // The data is there: the wait completes, then one plain fill reads everything.
  asio::co_spawn(p.ctx, [&]() -> awaitable<void> {
    co_await p.stream->wait_readable(r.ec);
    std::size_t n = 0;
    const Fill f = fill_client_now(*p.stream, r.buf, r.start, r.end, all.size(), 0, r.ec, n);
    if (f == Fill::Done) {
      r.end += n;
      ++r.fills;
      r.decode_all();
    }
  }, asio::detached);
  ASSERT_TRUE(run_until(p.ctx, [&] { return r.fills == 1 || r.ec; }));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.decoded, three_payloads());
  EXPECT_EQ(r.start, r.end);
}

TEST(ClientFill, AnIdleFillHoldsNoBufferWhileItWaitsForTheClient) {
  Pair p;
  Reader r;
  asio::co_spawn(p.ctx, read_messages(*p.stream, r, 2), asio::detached);
  settle(p.ctx);
  // The first command: read, decoded, and nothing is left buffered.
  const Bytes one = framed(0, three_payloads()[0]);
  p.send(one.data(), one.size());
  ASSERT_TRUE(run_until(p.ctx, [&] { return r.decoded.size() == 1 || r.ec; }));
  settle(p.ctx);
  // Now the session is idle: the plain fill found nothing and the waiting fill gave the
  // buffer back before it waits.
  EXPECT_GE(r.waiting, 1u);
  EXPECT_TRUE(r.buf.empty()) << "an idle session holds its read buffer";
  const Bytes two = framed(0, three_payloads()[1]);
  p.send(two.data(), two.size());
  ASSERT_TRUE(run_until(p.ctx, [&] { return r.decoded.size() == 2 || r.ec; }));
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.decoded[1], three_payloads()[1]);
}

TEST(ClientFill, AFrameLargerThanAChunkGetsTheRoomItsHeaderAnnounced) {
  Pair p;
  const Bytes big = framed(0, "\x03" + std::string(5000, 'y'));
  p.send(big.data(), big.size());
  Reader r;
  std::size_t n = 0;
  Fill f = Fill::Wait;
  asio::co_spawn(p.ctx, [&]() -> awaitable<void> {
    co_await p.stream->wait_readable(r.ec);
    // The header said how large the frame is (PostgreSQL's NeedMore `needed`): one fill
    // makes room for all of it.
    f = fill_client_now(*p.stream, r.buf, r.start, r.end, kChunk, big.size(), r.ec, n);
  }, asio::detached);
  ASSERT_TRUE(run_until(p.ctx, [&] { return f != Fill::Wait || r.ec; }));
  ASSERT_EQ(f, Fill::Done);
  EXPECT_GE(r.buf.size(), big.size());
  EXPECT_EQ(n, big.size());
}

TEST(ClientFill, APlainFillReportsTheEndOfAClientThatClosed) {
  Pair p;
  const Bytes one = framed(0, three_payloads()[1]);
  p.send(one.data(), one.size());
  p.peer.shutdown(tcp::socket::shutdown_send);
  Reader r;
  asio::co_spawn(p.ctx, read_messages(*p.stream, r, 2), asio::detached);
  ASSERT_TRUE(run_until(p.ctx, [&] { return bool(r.ec); })) << "the end of stream was never read";
  EXPECT_EQ(r.ec, asio::error::eof);
  EXPECT_EQ(r.decoded.size(), 1u);
}

}  // namespace
}  // namespace segproxy::proxy
