// "No allocation per record in the steady state" (issue 14), checked by counting: this
// test binary replaces the global operator new with a counting one (a hook only this
// binary has). After a warm-up that grows the queue arena, the writer's batch buffers
// and the de-duplication slots, appending records and waiting for their durability
// allocates nothing, on the appending thread or on the writer thread.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "audit/verifier.hpp"
#include "audit_test_support.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace segproxy::audit {
namespace {

using namespace test;

TEST(SteadyStateAllocations, AppendingAndWaitingForDurabilityAllocateNothingPerRecord) {
  TempDir dir;
  auto cfg = base_config(dir.path());
  cfg.checkpoint_every_records = 0;  // checkpoints (every N records) allocate: amortised, not per record
  cfg.checkpoint_every = std::chrono::seconds(0);
  cfg.rotate_size = 0;
  cfg.rotate_every = std::chrono::seconds(0);
  cfg.statement_text = StatementText::normalized;
  std::string err;
  auto sink = FileSink::open(cfg, err);
  ASSERT_TRUE(sink) << err;
  // Two sessions' statements, built once (a session reuses its record), one repeated and
  // one with changing literals (normalized to the same text).
  AuditRecord a = statement_record(1);
  AuditRecord b = statement_record(2);
  b.session_id = "s-other";
  auto round = [&](int i) {
    b.statement = i % 2 ? "select * from orders where id = 12345" : "select * from orders where id = 67890";
    AuditTicket t1 = sink->append(a);
    AuditTicket t2 = sink->append(b);
    ASSERT_TRUE(sink->wait_durable(t1));
    ASSERT_TRUE(sink->wait_durable(t2));
  };
  for (int i = 0; i < 300; ++i) round(i);  // warm-up: buffers reach their steady size
  // The hook counts (so a zero below means something).
  g_allocations = 0;
  g_counting = true;
  auto* probe = new std::string(100, 'x');
  g_counting = false;
  delete probe;
  ASSERT_GE(g_allocations.load(), 1u);
  const std::uint64_t written0 = sink->stats().written;
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 500; ++i) round(i);
  g_counting = false;
  const std::uint64_t allocations = g_allocations.load();
  EXPECT_EQ(sink->stats().written - written0, 1000u);
  EXPECT_EQ(allocations, 0u) << "allocations while 1000 records were appended and made durable";
  sink.reset();
  const VerifyResult v = verify(dir.path());
  EXPECT_TRUE(v.ok()) << v.summary();
}

}  // namespace
}  // namespace segproxy::audit
