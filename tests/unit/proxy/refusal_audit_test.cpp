// session.refused records for connections dropped before login (issue 12 item 4.8):
// every probe leaves a record, a flood is folded to one record per (listener, client IP,
// reason) per second with the folded count.
#include "daemon/session/refusal_audit.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace segproxy::proxy {
namespace {

class CapturingSink : public audit::AuditSink {
 public:
  void submit(audit::AuditRecord record, OnDurable on_durable) override {
    records.push_back(std::move(record));
    on_durable(true);
  }
  std::vector<audit::AuditRecord> records;
};

using Clock = RefusalAudit::Clock;

PreLoginRefusal probe(std::string_view addr, std::string_view reason) {
  return PreLoginRefusal{"7", "pg", "postgresql", addr, reason, "plaintext data after SSLRequest", "08P01"};
}

TEST(RefusalAudit, FirstRefusalOfAProbeIsRecordedWithAddressListenerAndReason) {
  CapturingSink sink;
  RefusalAudit ra(&sink);
  EXPECT_TRUE(ra.record(probe("10.0.0.9:4711", "plaintext_after_sslrequest"), Clock::time_point{}));
  ASSERT_EQ(sink.records.size(), 1u);
  const auto& r = sink.records[0];
  EXPECT_EQ(r.event, "session.refused");
  EXPECT_EQ(r.session_id, "7");
  EXPECT_EQ(r.listener, "pg");
  EXPECT_EQ(r.protocol, "postgresql");
  EXPECT_EQ(r.client_addr, "10.0.0.9:4711");
  EXPECT_EQ(r.detail, "plaintext_after_sslrequest");
  EXPECT_EQ(r.sqlstate, "08P01");
  EXPECT_EQ(r.reason, "plaintext data after SSLRequest");
}

TEST(RefusalAudit, FloodFromOneAddressIsFoldedToOneRecordPerSecondWithTheCount) {
  CapturingSink sink;
  RefusalAudit ra(&sink);
  const Clock::time_point t0{};
  for (int i = 0; i < 50; ++i) ra.record(probe("10.0.0.9:" + std::to_string(1000 + i), "malformed_startup"), t0);
  ASSERT_EQ(sink.records.size(), 1u);
  // Different ports of one address share the key; another reason or address does not.
  ra.record(probe("10.0.0.9:1", "handshake_failed"), t0);
  ra.record(probe("10.0.0.10:1", "malformed_startup"), t0);
  EXPECT_EQ(sink.records.size(), 3u);
  // A second later the key records again and reports what was folded.
  ra.record(probe("10.0.0.9:2000", "malformed_startup"), t0 + std::chrono::seconds(1));
  ASSERT_EQ(sink.records.size(), 4u);
  EXPECT_EQ(sink.records.back().detail, "malformed_startup; folded=49");
  ra.record(probe("10.0.0.9:2001", "malformed_startup"), t0 + std::chrono::seconds(3));
  EXPECT_EQ(sink.records.back().detail, "malformed_startup");
}

TEST(RefusalAudit, KeyTableIsBoundedAndFoldsOverflowIntoTheNextRecord) {
  CapturingSink sink;
  RefusalAudit ra(&sink, 4);
  const Clock::time_point t0{};
  for (int i = 0; i < 10; ++i) ra.record(probe("10.0.1." + std::to_string(i) + ":1", "timeout"), t0);
  EXPECT_EQ(sink.records.size(), 4u);  // the other 6 are counted, not lost
  ra.record(probe("10.0.2.1:1", "timeout"), t0 + std::chrono::seconds(2));
  ASSERT_EQ(sink.records.size(), 5u);
  EXPECT_EQ(sink.records.back().detail, "timeout; folded=6");
}

TEST(RefusalAudit, LongErrorTextIsCapped) {
  CapturingSink sink;
  RefusalAudit ra(&sink);
  const std::string long_error(10000, 'x');
  ra.record(PreLoginRefusal{"1", "pg", "postgresql", "[::1]:5", "handshake_failed", long_error, ""}, Clock::time_point{});
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].reason.size(), RefusalAudit::kMaxErrorChars);
  EXPECT_EQ(RefusalAudit::host_of("[::1]:5"), "::1");
  EXPECT_EQ(RefusalAudit::host_of("1.2.3.4:5"), "1.2.3.4");
}

}  // namespace
}  // namespace segproxy::proxy
