#pragma once
// The writer's group commit window (audit.group_delay, durability group; docs/audit.md
// "Group commit window"), like PostgreSQL's commit_delay / commit_siblings: woken by a
// wait, the writer holds the group open while records of other sessions are in flight -
// appended (their statements forwarded, the answers not yet back) but not yet waited for -
// so that their waits, which follow shortly, share its write and fdatasync. It never
// delays a group when every appended record is already waited for: a lone session (or
// any set of sessions that are all waiting) is written at once.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace segproxy::audit {

// The counters the decision reads (the sink's, under its lock).
struct GroupWindowState {
  std::uint64_t last_record = 0;  // seq of the last submitter's record appended
  std::uint64_t waited_hi = 0;    // highest seq a waiter declared (wait_async's highest_seq), lead or submit
  std::uint64_t taken = 0;        // last seq the writer has taken from the queue
  std::size_t queued = 0;         // entries waiting for the writer
  std::size_t max_queue = 0;      // audit.max_queue
};

// Some record is appended, not yet taken by the writer, and nobody waits for it yet.
constexpr bool records_in_flight(const GroupWindowState& s) {
  return s.last_record > s.waited_hi && s.last_record > s.taken;
}

// Whether the writer, woken to write a group, waits (up to audit.group_delay) first. It
// stops waiting as soon as this turns false (every in-flight record is waited for, or the
// queue is half full).
constexpr bool hold_group_open(const GroupWindowState& s, std::chrono::microseconds group_delay) {
  return group_delay.count() > 0 && records_in_flight(s) && s.queued < s.max_queue / 2 + 1;
}

}  // namespace segproxy::audit
