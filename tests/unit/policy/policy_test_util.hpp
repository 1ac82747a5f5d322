#pragma once
// Helpers for the policy tests: UTC instants by calendar fields (never the wall clock).
#include <chrono>

namespace segproxy::authz::test {

inline std::chrono::system_clock::time_point utc(int y, unsigned mo, unsigned d, int h = 0,
                                                 int mi = 0, int s = 0) {
  using namespace std::chrono;
  const sys_days day = year{y} / month{mo} / std::chrono::day{d};
  return system_clock::time_point{day} + hours{h} + minutes{mi} + seconds{s};
}

inline std::int64_t unix_s(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

}  // namespace segproxy::authz::test
