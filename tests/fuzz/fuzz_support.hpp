#pragma once
// Shared helpers for the protocol fuzz targets: a check that aborts (so both libFuzzer
// and the sanitizer replay driver report it), and the input layout
//   byte 0     : flags (target-specific)
//   bytes 1..4 : chunk sizes (1..256) used cyclically to grow the visible prefix
//   rest       : the byte stream under test
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace segproxy::fuzz {

struct Input {
  std::uint8_t flags = 0;
  std::size_t chunks[4] = {1, 1, 1, 1};
  std::span<const std::uint8_t> stream;
};

inline Input split_input(const std::uint8_t* data, std::size_t size) {
  Input in;
  std::span<const std::uint8_t> all(data, size);
  if (all.size() < 5) {
    in.stream = all;
    return in;
  }
  in.flags = all[0];
  for (int i = 0; i < 4; ++i) in.chunks[i] = std::size_t{all[1 + static_cast<std::size_t>(i)]} + 1;
  in.stream = all.subspan(5);
  return in;
}

}  // namespace segproxy::fuzz
