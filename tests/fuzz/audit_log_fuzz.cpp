// Fuzz target: the audit log verifier and reader (audit/verifier, record_codec,
// checkpoint) over hostile log directories. Input layout:
//   byte 0 : flags — bit 0: the last section is checkpoints.jsonl; bit 1: verify the
//            checkpoint signatures with the seed corpus's public key; bit 2: name each
//            log file after the first "seq" in it (else after its position)
//   rest   : sections separated by the 4 bytes 00 'F' 'Z' 00, each one file's bytes
// Checked: verify() and both readers (verifying, and export's --no-verify) finish
//   without crashing on any directory; a result names its status; when verify() says
//   the log is intact, the verifying reader reads to the end without a problem too.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/log_files.hpp"
#include "audit/verifier.hpp"
#include "fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using segproxy::audit::AuditRecord;
using segproxy::audit::LogReader;
using segproxy::audit::VerifyOptions;

// The public half of the key that signed tests/fuzz/corpus/audit_log (a test key).
constexpr std::string_view kSeedPublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAFFrP99Ig3OD6vW9PdSfb/ZSoVj12lk/40gTOEtYI9RI=\n"
    "-----END PUBLIC KEY-----\n";

// One scratch directory per fuzzing process, removed when the process exits normally.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    path = fs::path(tmp != nullptr ? tmp : "/tmp") / ("segproxy-audit-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(path / "log");
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::uint64_t first_seq(std::string_view s, std::uint64_t fallback) {
  const auto at = s.find("\"seq\":");
  if (at == std::string_view::npos) return fallback;
  std::uint64_t v = 0;
  std::size_t i = at + 6, digits = 0;
  for (; i < s.size() && digits < 19 && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) v = v * 10 + (s[i] - '0');
  return digits == 0 ? fallback : v;
}

// Reads every record; true when the reader found the log intact (ok or torn tail).
bool read_all(const fs::path& dir, bool verify_chain) {
  VerifyOptions opts;
  opts.verify_chain = verify_chain;
  LogReader reader(dir, opts);
  AuditRecord record;
  std::string_view line;
  std::size_t n = 0;
  while (n < 100000 && reader.next(record, line)) ++n;
  FUZZ_CHECK(!reader.result().summary().empty());
  return reader.result().intact();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > (256u << 10)) return 0;
  static const ScratchDir scratch;
  const fs::path& root = scratch.path;
  const fs::path dir = root / "log";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove(e.path(), ec);

  const std::uint8_t flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::string_view kSep("\0FZ\0", 4);
  std::vector<std::string_view> sections;
  for (std::size_t pos = 0;;) {
    const auto next = rest.find(kSep, pos);
    sections.push_back(rest.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos || sections.size() == 16) break;
    pos = next + kSep.size();
  }
  std::optional<fs::path> checkpoints;
  if ((flags & 1) != 0 && sections.size() > 1) {
    checkpoints = dir / segproxy::audit::kCheckpointFileName;
    write_file(*checkpoints, sections.back());
    sections.pop_back();
  }
  const auto start = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const std::uint64_t seq = (flags & 4) != 0 ? first_seq(sections[i], i + 1) : i + 1;
    write_file(dir / segproxy::audit::log_file_name(start + std::chrono::seconds(i), seq), sections[i]);
  }
  std::optional<fs::path> pubkey;
  if ((flags & 2) != 0) {
    pubkey = root / "seed.pub";
    write_file(*pubkey, kSeedPublicKey);
  }

  const auto result = segproxy::audit::verify(dir, pubkey, checkpoints);
  FUZZ_CHECK(!result.summary().empty());
  read_all(dir, false);
  if (result.intact()) FUZZ_CHECK(read_all(dir, true));
  return 0;
}
