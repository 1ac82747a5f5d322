// BackendHoldBack (protocols/pg/backend_hold_back.hpp): what the relay sends the client
// after each read, and what it keeps back, as the start of a short unfinished message.
#include <gtest/gtest.h>

#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/backend_hold_back.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

struct Ignore : BackendEvents {
  void on_backend_message(char, std::span<const std::uint8_t>) override {}
};

constexpr std::size_t kCap = 64;

// The relay loop in miniature: the buffer starts with the held bytes, each read appends
// behind them, is fed to the stream, and the relayable prefix goes to `sent`.
struct Relay {
  Limits limits;
  BackendStream stream{limits};
  BackendHoldBack hold{kCap};
  Ignore events;
  Bytes buf;   // held bytes at the front
  Bytes sent;  // what the client got

  // Returns how many bytes went to the client for this read.
  std::size_t read(const Bytes& chunk) {
    buf.insert(buf.end(), chunk.begin(), chunk.end());
    EXPECT_EQ(stream.feed(chunk, events), DecodeStatus::Ok);
    const std::size_t n = hold.relayable(stream, chunk.size());
    EXPECT_EQ(n + hold.held(), buf.size());
    sent.insert(sent.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
};

// A one-column DataRow with a value of `value_bytes` bytes.
Bytes row(std::size_t value_bytes) {
  return frame('D', Body().i16(1).i32(static_cast<std::int32_t>(value_bytes)).str(std::string(value_bytes, 'v')));
}
Bytes head(const Bytes& b, std::size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }
Bytes tail(const Bytes& b, std::size_t from) { return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from), b.end()); }

TEST(PgBackendHoldBack, CompleteMessagesAreRelayedWholeAndNothingIsHeld) {
  Relay r;
  const Bytes wire = test::concat({row(10), frame('C', Body().cstr("SELECT 1")), frame('Z', Body().u8('I'))});
  EXPECT_EQ(r.read(wire), wire.size());
  EXPECT_EQ(r.hold.held(), 0u);
}

TEST(PgBackendHoldBack, ShortUnfinishedMessageAtTheEndIsHeldFromItsStart) {
  Relay r;
  const Bytes done = row(10);
  const Bytes next = row(20);
  EXPECT_EQ(r.read(test::concat({done, head(next, 9)})), done.size());
  EXPECT_EQ(r.hold.held(), 9u);
  EXPECT_EQ(r.sent, done);
}

// Regression (commit 6578b83): pending_start() is npos on a boundary as well as for a
// message that began in earlier bytes; a held message completed by the next read was
// taken for one still unfinished and held forever (pg_dump, COPY, large results hung).
TEST(PgBackendHoldBack, HeldMessageCompletedByTheNextReadIsRelayedWithIt) {
  Relay r;
  const Bytes msg = row(20);
  EXPECT_EQ(r.read(head(msg, 5)), 0u);
  EXPECT_EQ(r.hold.held(), 5u);
  EXPECT_EQ(r.read(tail(msg, 5)), msg.size());
  EXPECT_EQ(r.hold.held(), 0u);
  EXPECT_EQ(r.sent, msg);
}

TEST(PgBackendHoldBack, HeldMessageStillUnfinishedUnderTheCapStaysHeldWhole) {
  Relay r;
  const Bytes msg = row(40);
  EXPECT_EQ(r.read(head(msg, 5)), 0u);
  EXPECT_EQ(r.read(Bytes(msg.begin() + 5, msg.begin() + 20)), 0u);
  EXPECT_EQ(r.hold.held(), 20u);
  EXPECT_TRUE(r.sent.empty());
}

TEST(PgBackendHoldBack, UnfinishedMessagePastTheCapIsRelayedAndItsRestStreams) {
  Relay r;
  const Bytes big = row(4 * kCap);
  EXPECT_EQ(r.read(head(big, 10)), 0u);                 // short: held
  EXPECT_EQ(r.read(Bytes(big.begin() + 10, big.begin() + 2 * kCap)), 2 * kCap);  // past the cap: goes
  EXPECT_EQ(r.hold.held(), 0u);
  // Its start already reached the client: nothing of it is held back any more.
  EXPECT_EQ(r.read(Bytes(big.begin() + 2 * kCap, big.end() - 3)), big.size() - 3 - 2 * kCap);
  EXPECT_EQ(r.read(tail(big, big.size() - 3)), 3u);
  EXPECT_EQ(r.sent, big);
}

TEST(PgBackendHoldBack, HeldMessageFinishedWithAShortNextOneHoldsOnlyTheNextOne) {
  Relay r;
  const Bytes first = row(12);
  const Bytes second = row(30);
  EXPECT_EQ(r.read(head(first, 7)), 0u);
  EXPECT_EQ(r.read(test::concat({tail(first, 7), head(second, 4)})), first.size());
  EXPECT_EQ(r.hold.held(), 4u);
  EXPECT_EQ(r.read(tail(second, 4)), second.size());
  EXPECT_EQ(r.sent, test::concat({first, second}));
}

}  // namespace
}  // namespace segproxy::protocols::pg
