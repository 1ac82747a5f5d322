#include "authz/persisted_list.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "protocols/common/time_text.hpp"

namespace segproxy::authz {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int e) { return std::strerror(e); }

bool write_all(int fd, std::string_view data, std::string& error) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno_text(errno);
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

// Temp file in the same directory, fsync, rename, fsync the directory.
bool write_file_atomically(const fs::path& file, std::string_view data, std::string& error) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::string tmp = (dir / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // created 0600
  if (fd < 0) {
    error = "cannot create a temporary file in " + dir.string() + ": " + errno_text(errno);
    return false;
  }
  std::string why;
  bool ok = ::fchmod(fd, 0600) == 0 || (why = errno_text(errno), false);
  ok = ok && write_all(fd, data, why);
  ok = ok && (::fsync(fd) == 0 || (why = "fsync: " + errno_text(errno), false));
  if (::close(fd) != 0 && ok) {
    why = "close: " + errno_text(errno);
    ok = false;
  }
  ok = ok && (::rename(tmp.c_str(), file.c_str()) == 0 || (why = "rename: " + errno_text(errno), false));
  if (!ok) {
    ::unlink(tmp.c_str());
    error = "cannot write " + file.string() + ": " + why;
    return false;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    error = "cannot fsync directory " + dir.string() + ": " + errno_text(errno);
    if (dfd >= 0) ::close(dfd);
    return false;  // the rename happened; durability of it is not assured
  }
  ::close(dfd);
  return true;
}

std::optional<std::string> read_list_file(const fs::path& file, std::string& error) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    error = file.string() + ": cannot read: " + errno_text(errno);
    return std::nullopt;
  }
  const auto too_large = [&] {
    ::close(fd);
    error = file.string() + ": larger than " + std::to_string(kMaxListFileBytes) + " bytes";
    return std::nullopt;
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = file.string() + ": cannot read: " + errno_text(errno);
    ::close(fd);
    return std::nullopt;
  }
  if (st.st_size < 0 || static_cast<std::uintmax_t>(st.st_size) > kMaxListFileBytes) return too_large();
  // What the file needs, plus one byte so that a file that grew since fstat is seen
  // (then read on, in steps, up to one byte past the cap).
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (got > kMaxListFileBytes) return too_large();
      text.resize(std::min(text.size() * 2, kMaxListFileBytes + 1));
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = file.string() + ": read error: " + errno_text(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > kMaxListFileBytes) return too_large();  // grown past the cap since fstat
  ::close(fd);
  text.resize(got);
  return text;
}

std::optional<json::Value> decode_line_object(std::string_view line, std::initializer_list<std::string_view> keys,
                                              std::string& error) {
  auto parsed = json::parse(line);
  if (!parsed) {
    error = "invalid JSON at byte " + std::to_string(parsed.error_offset) + ": " + parsed.error;
    return std::nullopt;
  }
  if (!parsed.value->is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  for (const auto& m : parsed.value->as_object()) {
    if (std::find(keys.begin(), keys.end(), m.key) == keys.end()) {
      error = "unknown key \"" + m.key.substr(0, 64) + "\"";
      return std::nullopt;
    }
  }
  return std::move(parsed.value);
}

std::optional<std::string> string_member(const json::Value& object, std::string_view key, bool required,
                                         std::string& error) {
  const json::Value* f = object.find(key);
  if (f == nullptr) {
    if (required) error = "missing \"" + std::string(key) + "\"";
    return std::nullopt;
  }
  if (!f->is_string()) {
    error = "\"" + std::string(key) + "\" must be a string";
    return std::nullopt;
  }
  return f->as_string();
}

std::optional<std::chrono::system_clock::time_point> time_member(const json::Value& object, std::string_view key,
                                                                 std::string& error) {
  const auto text = string_member(object, key, true, error);
  if (!text) return std::nullopt;
  const auto t = protocols::parse_time(*text);
  if (!t) error = "\"" + std::string(key) + "\" is not an RFC 3339 UTC time";
  return t;
}

std::optional<std::uint32_t> uid_member(const json::Value& object, std::string& error) {
  const json::Value* uid = object.find("created_by_uid");
  if (uid == nullptr || !uid->is_int() || uid->as_int() < 0 || uid->as_int() > 0xFFFFFFFFLL) {
    error = "\"created_by_uid\" must be an integer uid";
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(uid->as_int());
}

std::optional<std::string> id_member(const json::Value& object, std::string& error) {
  auto id = string_member(object, "id", true, error);
  if (id && (id->empty() || id->size() > 64)) {
    error = "\"id\" must have 1 to 64 characters";
    return std::nullopt;
  }
  return id;
}

std::string random_list_id(const std::vector<std::string_view>& existing, char fallback) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    unsigned char bytes[6];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return fallback + std::to_string(existing.size() + 1);
    std::string id;
    for (const unsigned char b : bytes) {
      id.push_back(kHex[b >> 4]);
      id.push_back(kHex[b & 0xF]);
    }
    if (std::find(existing.begin(), existing.end(), id) == existing.end()) return id;
  }
}

}  // namespace segproxy::authz
