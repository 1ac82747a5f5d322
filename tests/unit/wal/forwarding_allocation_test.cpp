// Issue 14 "no allocation per record in the steady state": once a session's Forwarding
// has held its largest burst and the caller reuses its action vector, driving it
// allocates nothing. Counted with a replaced global operator new (this test binary only).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "authz/wal/forwarding.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace segproxy::authz::wal {
namespace {

// One pgbench-like read (Parse/Bind/Execute/Sync) and one tpcb-like transaction whose
// COMMIT is held until the watermark reaches it.
void cycle(Forwarding& f, std::uint64_t& id, std::uint64_t& rec, std::uint64_t now, std::vector<Action>& out) {
  out.clear();
  f.submit({++id, MessageKind::PgExtended, WriteClass::ReadOnly, false, false, ++rec}, now, out);
  f.submit({++id, MessageKind::PgExtended, WriteClass::ReadOnly, false, false, 0}, now, out);
  f.submit({++id, MessageKind::PgExecute, WriteClass::ReadOnly, false, false, ++rec}, now, out);
  f.submit({++id, MessageKind::PgSync, WriteClass::ReadOnly, false, false, 0}, now, out);
  f.on_pg_ready('I', now, out);
  f.submit({++id, MessageKind::PgQuery, WriteClass::ReadOnly, false, true, ++rec}, now, out);  // BEGIN
  f.on_pg_ready('T', now, out);
  for (int i = 0; i < 3; ++i) {
    f.submit({++id, MessageKind::PgQuery, WriteClass::Contained, false, false, ++rec}, now, out);
    f.on_pg_ready('T', now, out);
  }
  f.submit({++id, MessageKind::PgQuery, WriteClass::CommitPoint, true, true, ++rec}, now, out);  // COMMIT
  f.on_durable(rec, now, out);
  f.on_pg_ready('I', now, out);
}

TEST(ForwardingAllocation, SteadyStateDrivingAllocatesNothing) {
  Forwarding f(Protocol::Postgres, 1000);
  std::vector<Action> out;
  out.reserve(64);
  std::uint64_t id = 0;
  std::uint64_t rec = 0;
  for (int i = 0; i < 10; ++i) cycle(f, id, rec, 1000, out);  // warm up
  const std::size_t before = allocations.load();
  for (int i = 0; i < 1000; ++i) cycle(f, id, rec, 1000, out);
  EXPECT_EQ(allocations.load() - before, 0u);
  EXPECT_EQ(f.held(), 0u);
  EXPECT_FALSE(out.empty());
}

TEST(ForwardingAllocation, HeldMessagesLeaveInSubmissionOrderWhileTheQueueGrows) {
  Forwarding f(Protocol::Postgres, 1000);
  std::vector<Action> out;
  f.submit({1, MessageKind::PgQuery, WriteClass::Escaping, false, false, 1}, 0, out);
  for (std::uint64_t i = 2; i <= 40; ++i)
    f.submit({i, MessageKind::PgQuery, i % 2 ? WriteClass::Escaping : WriteClass::ReadOnly, false, false, i}, 0, out);
  EXPECT_EQ(f.held(), 40u);
  out.clear();
  f.on_durable(40, 0, out);
  std::vector<std::uint64_t> forwarded;
  for (const auto& a : out)
    if (a.kind == ActionKind::Forward) forwarded.push_back(a.id);
  ASSERT_EQ(forwarded.size(), 40u);
  for (std::uint64_t i = 0; i < 40; ++i) EXPECT_EQ(forwarded[i], i + 1);
}

}  // namespace
}  // namespace segproxy::authz::wal
