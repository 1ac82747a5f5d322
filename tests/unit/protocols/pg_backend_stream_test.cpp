// BackendStream: same watched events for every chunking, bounded memory for bulk rows,
// and a cap on watched messages.
#include <gtest/gtest.h>

#include "protocols/pg/backend_decoder.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::frame;

struct Recorder : BackendEvents {
  std::vector<std::pair<char, Bytes>> events;
  void on_backend_message(char type, std::span<const std::uint8_t> body) override {
    events.emplace_back(type, Bytes(body.begin(), body.end()));
  }
};

Bytes result_stream() {
  return test::concat({
      frame('1', Body()),                                                        // ParseComplete
      frame('2', Body()),                                                        // BindComplete
      frame('T', Body().i16(1).cstr("a").i32(0).i16(0).i32(23).i16(4).i32(-1).i16(0)),  // RowDescription
      frame('D', Body().i16(1).i32(1).str("1")),                                 // DataRow
      frame('D', Body().i16(1).i32(-1)),                                         // DataRow NULL
      frame('C', Body().cstr("SELECT 2")),
      frame('N', Body().u8('S').cstr("NOTICE").u8('M').cstr("hi").u8(0)),
      frame('S', Body().cstr("TimeZone").cstr("UTC")),
      frame('I', Body()),
      frame('E', Body().u8('S').cstr("ERROR").u8('C').cstr("42601").u8('M').cstr("syntax").u8(0)),
      frame('Z', Body().u8('E')),
  });
}

std::vector<std::pair<char, Bytes>> expected_events() {
  return {
      {'1', {}},
      {'2', {}},
      {'C', Body().cstr("SELECT 2").b},
      {'N', Body().u8('S').cstr("NOTICE").u8('M').cstr("hi").u8(0).b},
      {'S', Body().cstr("TimeZone").cstr("UTC").b},
      {'I', {}},
      {'E', Body().u8('S').cstr("ERROR").u8('C').cstr("42601").u8('M').cstr("syntax").u8(0).b},
      {'Z', Body().u8('E').b},
  };
}

TEST(PgBackendStream, EveryTwoWaySplitReportsTheSameWatchedEvents) {
  const Bytes wire = result_stream();
  const Limits limits;
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    BackendStream s(limits);
    Recorder r;
    ASSERT_EQ(s.feed(std::span(wire).first(cut), r), DecodeStatus::Ok);
    ASSERT_EQ(s.feed(std::span(wire).subspan(cut), r), DecodeStatus::Ok);
    EXPECT_EQ(r.events, expected_events()) << "cut " << cut;
    EXPECT_TRUE(s.at_boundary());
  }
}

TEST(PgBackendStream, EveryFixedChunkSizeReportsTheSameWatchedEvents) {
  const Bytes wire = result_stream();
  const Limits limits;
  for (std::size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    BackendStream s(limits);
    Recorder r;
    for (std::size_t at = 0; at < wire.size(); at += chunk) {
      ASSERT_EQ(s.feed(std::span(wire).subspan(at, std::min(chunk, wire.size() - at)), r), DecodeStatus::Ok);
    }
    EXPECT_EQ(r.events, expected_events()) << "chunk " << chunk;
    EXPECT_TRUE(s.at_boundary());
  }
}

TEST(PgBackendStream, EveryThreeWaySplitReportsTheSameWatchedEvents) {
  const Bytes wire = result_stream();
  const Limits limits;
  for (std::size_t a = 0; a <= wire.size(); ++a) {
    for (std::size_t b = a; b <= wire.size(); ++b) {
      BackendStream s(limits);
      Recorder r;
      s.feed(std::span(wire).first(a), r);
      s.feed(std::span(wire).subspan(a, b - a), r);
      ASSERT_EQ(s.feed(std::span(wire).subspan(b), r), DecodeStatus::Ok);
      ASSERT_EQ(r.events, expected_events()) << a << "," << b;
    }
  }
}

TEST(PgBackendStream, BoundaryIsReportedOnlyBetweenMessages) {
  const Bytes wire = frame('Z', Body().u8('I'));
  BackendStream s{Limits{}};
  Recorder r;
  EXPECT_TRUE(s.at_boundary());
  s.feed(std::span(wire).first(3), r);
  EXPECT_FALSE(s.at_boundary());
  s.feed(std::span(wire).subspan(3, 2), r);
  EXPECT_FALSE(s.at_boundary());
  s.feed(std::span(wire).subspan(5), r);
  EXPECT_TRUE(s.at_boundary());
  EXPECT_EQ(r.events.size(), 1u);
}

TEST(PgBackendStream, TenMegabyteDataRowIsSkippedWithASmallControlCap) {
  Limits limits;
  limits.max_backend_control_message = 1024;  // a 10 MB watched message could not pass
  const std::size_t value = 10u * 1024u * 1024u;
  Bytes header = frame('D', Body().i16(1).i32(static_cast<std::int32_t>(value)), static_cast<std::int64_t>(4 + 2 + 4 + value));
  BackendStream s(limits);
  Recorder r;
  ASSERT_EQ(s.feed(header, r), DecodeStatus::Ok);
  const Bytes chunk(64 * 1024, 'x');
  for (std::size_t sent = 0; sent < value; sent += chunk.size()) {
    ASSERT_EQ(s.feed(std::span(chunk).first(std::min(chunk.size(), value - sent)), r), DecodeStatus::Ok);
  }
  EXPECT_TRUE(s.at_boundary());
  const Bytes tail = test::concat({frame('C', Body().cstr("SELECT 1")), frame('Z', Body().u8('I'))});
  ASSERT_EQ(s.feed(tail, r), DecodeStatus::Ok);
  ASSERT_EQ(r.events.size(), 2u);  // only the watched messages were reported
  EXPECT_EQ(r.events[0].first, 'C');
  EXPECT_EQ(r.events[1].first, 'Z');
}

TEST(PgBackendStream, WatchedMessageOverTheCapIsMalformedAndSticky) {
  Limits limits;
  limits.max_backend_control_message = 100;
  BackendStream s(limits);
  Recorder r;
  const Bytes ok = frame('E', Body().raw(Bytes(100, 'x')));
  EXPECT_EQ(s.feed(ok, r), DecodeStatus::Ok);
  EXPECT_EQ(r.events.size(), 1u);
  const Bytes big_header = frame('E', Body(), 4 + 101);
  EXPECT_EQ(s.feed(big_header, r), DecodeStatus::Malformed);
  EXPECT_FALSE(s.error().empty());
  EXPECT_FALSE(s.at_boundary());
  EXPECT_EQ(s.feed(frame('Z', Body().u8('I')), r), DecodeStatus::Malformed);
  EXPECT_EQ(r.events.size(), 1u);
}

// Regression: BackendStream used to keep a reference to its Limits, which dangled when
// built from a temporary (found by ASan in BoundaryIsReportedOnlyBetweenMessages).
TEST(PgBackendStream, StreamKeepsItsOwnCopyOfTemporaryLimits) {
  BackendStream s{Limits{10000, 1u << 20, 8, 64}};
  Limits other;  // reuses the stack slot a dangling reference would point into
  other.max_backend_control_message = 1u << 30;
  Recorder r;
  EXPECT_EQ(s.feed(frame('E', Body().raw(Bytes(9, 'x'))), r), DecodeStatus::Malformed);
  EXPECT_GT(other.max_backend_control_message, 0u);
}

TEST(PgBackendStream, LengthBelowFourIsMalformedEvenWhenSplit) {
  const Bytes bad = frame('D', Body(), 2);
  BackendStream s{Limits{}};
  Recorder r;
  EXPECT_EQ(s.feed(std::span(bad).first(2), r), DecodeStatus::Ok);
  EXPECT_EQ(s.feed(std::span(bad).subspan(2), r), DecodeStatus::Malformed);
  EXPECT_FALSE(s.error().empty());
}

TEST(PgBackendStream, EveryDocumentedWatchedTypeIsReported) {
  const std::string watched = "ZECSGHWRKANI123s";
  Bytes wire;
  for (char t : watched) {
    const Bytes f = frame(t, Body());
    wire.insert(wire.end(), f.begin(), f.end());
  }
  const std::string unwatched = "DTdcntv";
  for (char t : unwatched) {
    const Bytes f = frame(t, Body().u8(1));
    wire.insert(wire.end(), f.begin(), f.end());
  }
  BackendStream s{Limits{}};
  Recorder r;
  ASSERT_EQ(s.feed(wire, r), DecodeStatus::Ok);
  std::string got;
  for (const auto& e : r.events) got += e.first;
  EXPECT_EQ(got, watched);
}

}  // namespace
}  // namespace segproxy::protocols::pg
