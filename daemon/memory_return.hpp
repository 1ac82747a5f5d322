#pragma once
// Gives the allocator's free memory back to the kernel after a burst of connections
// (issue 20, bench/RESULTS.md "Session 13, lead: soak"). glibc keeps what the sessions of
// a burst freed (a handshake flood, 1,000 half-open connections) in its per-thread
// arenas; without a trim the process stays at the burst's high-water mark (28 MB before
// the soak's first flood, 58 MB from then on). When the live connection count has fallen
// well below its peak since the last trim, malloc_trim(0) returns the free pages of every
// arena. It runs on the control thread, at most once per tick, never on a session's path.
#include <cstddef>

namespace segproxy::proxy {

class MemoryReturn {
 public:
  // A drop smaller than this is ordinary churn, not the end of a burst.
  static constexpr std::size_t kMinDrop = 128;

  // Called once per tick with the live connection count: true when the memory of the
  // connections that ended since the peak should be returned now (the peak then starts
  // again from `connections`).
  bool should_trim(std::size_t connections);

 private:
  std::size_t peak_ = 0;
};

// Resident set size of this process in KiB (/proc/self/statm), 0 if unreadable.
std::size_t resident_kib();

// malloc_trim(0): the free pages of every arena back to the kernel.
void return_free_memory();

}  // namespace segproxy::proxy
