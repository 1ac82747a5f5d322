// The shipper's cadence: a COPY goes right after the previous one only while there is a
// backlog (the batch came back full); a batch that took everything durable means caught
// up, and the next poll waits `interval` (a steady flow ships in batches of about
// interval x rate records, not in one COPY per handful of records).
#include <gtest/gtest.h>

#include "audit/store/shipper.hpp"

namespace segproxy::audit::store {
namespace {

TEST(ShipperCadence, OnlyABatchFullByCountOrBytesContinuesAtOnceAPartialOneWaitsTheInterval) {
  ShipperOptions o;
  o.batch = 1000;
  o.batch_bytes = 1u << 20;
  EXPECT_TRUE(batch_was_full(1000, 500'000, o));      // full by count
  EXPECT_TRUE(batch_was_full(10, 1u << 20, o));       // full by bytes
  EXPECT_TRUE(batch_was_full(1, (1u << 20) + 7, o));  // one record over the byte bound
  EXPECT_FALSE(batch_was_full(999, 500'000, o));      // took all that was durable
  EXPECT_FALSE(batch_was_full(1, 100, o));
  EXPECT_FALSE(batch_was_full(0, 19, o));             // nothing new (the COPY header only)
}

}  // namespace
}  // namespace segproxy::audit::store
