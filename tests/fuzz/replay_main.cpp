// Corpus replay driver for g++ builds (no libFuzzer): runs LLVMFuzzerTestOneInput on
// every file of the given corpus directories (or files), then on a fixed number of
// deterministic pseudo-random mutations of each seed, so the sanitizer build exercises
// more than the seeds themselves. Usage: replay [--mutations N] <dir|file>...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Buf = std::vector<std::uint8_t>;

struct Rng {  // xorshift64*: deterministic across platforms
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

// With SEGPROXY_FUZZ_REPLAY_LAST=FILE each input is written to FILE before it runs, so
// the input of a crash or a hang can be kept as a reproducer.
void run(const Buf& b) {
  if (const char* last = std::getenv("SEGPROXY_FUZZ_REPLAY_LAST")) {
    std::ofstream(last, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  LLVMFuzzerTestOneInput(b.data(), b.size());
}

Buf mutate(const Buf& seed, const std::vector<Buf>& all, Rng& rng) {
  Buf b = seed;
  const std::size_t rounds = 1 + rng.below(4);
  for (std::size_t r = 0; r < rounds; ++r) {
    switch (rng.below(9)) {
      case 0:  // flip a bit
        if (!b.empty()) b[rng.below(b.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
        break;
      case 1:  // random byte
        if (!b.empty()) b[rng.below(b.size())] = static_cast<std::uint8_t>(rng.next());
        break;
      case 2: {  // interesting byte
        static const std::uint8_t kVals[] = {0, 1, 3, 4, 5, 8, 0x7f, 0x80, 0xff, 'S', 'P', 'E', 'Z', '='};
        if (!b.empty()) b[rng.below(b.size())] = kVals[rng.below(sizeof kVals)];
        break;
      }
      case 3: {  // interesting 32-bit big-endian value (lengths)
        static const std::uint32_t kVals[] = {0, 3, 4, 5, 8, 16, 0x7fffffff, 0x80000000, 0xffffffff, 10000, 10001};
        if (b.size() >= 4) {
          const std::size_t at = rng.below(b.size() - 3);
          const std::uint32_t v = kVals[rng.below(std::size(kVals))];
          for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
        }
        break;
      }
      case 4:  // truncate
        if (!b.empty()) b.resize(rng.below(b.size()));
        break;
      case 5: {  // delete a range
        if (b.size() > 1) {
          const std::size_t at = rng.below(b.size());
          const std::size_t n = 1 + rng.below(std::min<std::size_t>(16, b.size() - at));
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
        }
        break;
      }
      case 6: {  // insert random bytes
        const std::size_t at = rng.below(b.size() + 1);
        const std::size_t n = 1 + rng.below(8);
        for (std::size_t i = 0; i < n; ++i)
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng.next()));
        break;
      }
      case 7: {  // splice in part of another seed
        const Buf& other = all[rng.below(all.size())];
        if (!other.empty()) {
          const std::size_t from = rng.below(other.size());
          const std::size_t n = 1 + rng.below(other.size() - from);
          const std::size_t at = rng.below(b.size() + 1);
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), other.begin() + static_cast<std::ptrdiff_t>(from),
                   other.begin() + static_cast<std::ptrdiff_t>(from + n));
        }
        break;
      }
      default:  // new chunk sizes / flags in the 5-byte header
        if (!b.empty()) b[rng.below(std::min<std::size_t>(5, b.size()))] = static_cast<std::uint8_t>(rng.next());
        break;
    }
  }
  return b;
}

bool read_file(const std::filesystem::path& p, Buf& out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mutations = 2000;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::strtoul(argv[++i], nullptr, 10);
      continue;
    }
    const std::filesystem::path p(arg);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such corpus: %s\n", arg.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "replay: empty corpus\n");
    return 2;
  }
  std::vector<Buf> seeds;
  for (const auto& f : files) {
    Buf b;
    if (!read_file(f, b)) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.string().c_str());
      return 2;
    }
    seeds.push_back(std::move(b));
  }
  for (const auto& s : seeds) run(s);
  run({});
  std::size_t runs = seeds.size() + 1;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    Rng rng{0x9e3779b97f4a7c15ull ^ (i + 1) * 0x100000001b3ull};
    for (std::size_t m = 0; m < mutations; ++m) {
      run(mutate(seeds[i], seeds, rng));
      ++runs;
    }
  }
  std::printf("replay: %zu seeds, %zu runs, no failures\n", seeds.size(), runs);
  return 0;
}
