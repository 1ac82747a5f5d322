#include "daemon/memory_return.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace segproxy::proxy {

bool MemoryReturn::should_trim(std::size_t connections) {
  peak_ = std::max(peak_, connections);
  const std::size_t drop = peak_ - connections;
  if (drop < std::max(kMinDrop, peak_ / 4)) return false;
  peak_ = connections;
  return true;
}

std::size_t resident_kib() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

void return_free_memory() { malloc_trim(0); }

}  // namespace segproxy::proxy
