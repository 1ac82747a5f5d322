// ReplyScan (protocols/pg/reply_scan.hpp): the message boundaries the relay needs when it
// replaces answers whose audit record failed (daemon/pg/pg_wal_replace.cpp) - every
// message's end, type and ReadyForQuery status - are the same however the backend's
// bytes are split across reads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/pg/reply_scan.hpp"
#include "pg_test_support.hpp"

namespace segproxy::protocols::pg {
namespace {

using test::Body;
using test::Bytes;
using test::frame;

struct Seen {
  std::size_t end;  // absolute offset in the whole stream
  char type;
  char status;
  bool operator==(const Seen&) const = default;
};

// A simple-query answer, an empty body (ParseComplete), a failed block's status and a
// long DataRow.
Bytes sample() {
  return test::concat({frame('T', Body().i16(1).cstr("x").i32(0).i16(0).i32(25).i16(-1).i32(-1).i16(0)),
                       frame('D', Body().i16(1).i32(3).str("abc")), frame('C', Body().cstr("SELECT 1")),
                       frame('Z', Body().u8('I')), frame('1', Body()), frame('Z', Body().u8('E')),
                       frame('D', Body().i16(1).i32(300).str(std::string(300, 'v'))), frame('Z', Body().u8('T'))});
}

std::vector<Seen> scan(const Bytes& all, const std::vector<std::size_t>& cuts, bool* ok) {
  ReplyScan s;
  std::vector<Seen> seen;
  std::size_t from = 0;
  *ok = true;
  std::vector<std::size_t> bounds = cuts;
  bounds.push_back(all.size());
  for (const std::size_t to : bounds) {
    const std::span<const std::uint8_t> part(all.data() + from, to - from);
    *ok = *ok && s.feed(part, [&](const ReplyScan::Message& m) { seen.push_back({from + m.end, m.type, m.status}); });
    from = to;
  }
  EXPECT_TRUE(s.at_boundary());
  return seen;
}

TEST(ReplyScan, BoundariesTypesAndReadyForQueryStatusesAreTheSameForEverySplitOfTheStream) {
  const Bytes all = sample();
  bool ok = false;
  const std::vector<Seen> whole = scan(all, {}, &ok);
  ASSERT_TRUE(ok);
  ASSERT_EQ(whole.size(), 8u);
  EXPECT_EQ(whole.back().end, all.size());
  EXPECT_EQ(whole[3], (Seen{whole[3].end, 'Z', 'I'}));
  EXPECT_EQ(whole[4], (Seen{whole[4].end, '1', 0}));
  EXPECT_EQ(whole[5], (Seen{whole[5].end, 'Z', 'E'}));
  EXPECT_EQ(whole[7], (Seen{all.size(), 'Z', 'T'}));
  for (std::size_t a = 1; a < all.size(); ++a) {
    EXPECT_EQ(scan(all, {a}, &ok), whole) << "split at " << a;
    EXPECT_TRUE(ok);
  }
  std::vector<std::size_t> bytewise;
  for (std::size_t i = 1; i < all.size(); ++i) bytewise.push_back(i);
  EXPECT_EQ(scan(all, bytewise, &ok), whole) << "one byte per read";
}

TEST(ReplyScan, ALengthBelowFourIsReportedNotTrusted) {
  const Bytes bad = test::concat({frame('Z', Body().u8('I')), frame('C', Body(), 3)});
  ReplyScan s;
  int messages = 0;
  EXPECT_FALSE(s.feed(bad, [&](const ReplyScan::Message&) { ++messages; }));
  EXPECT_EQ(messages, 1);
}

}  // namespace
}  // namespace segproxy::protocols::pg
