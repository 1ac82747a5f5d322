// Scoped backend credentials: read once, held only in cleansed-on-free memory, never
// printed. Password files are read with POSIX I/O into a stack buffer (no stdio
// buffering or string regrowth leaving copies behind) and that buffer is cleansed.
#include "authz/credential_store.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace segproxy::authz {
namespace {

constexpr std::size_t kMaxPasswordFile = 4096;

// Zeroes the whole buffer of `s` (including bytes past size() left by earlier contents
// or a move out of the small-string buffer), then empties it.
void wipe(std::string& s) noexcept {
  s.resize(s.capacity());  // within capacity: no reallocation
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Wipes a stack buffer when leaving scope, whichever way.
struct BufferGuard {
  std::array<char, kMaxPasswordFile + 1>& buf;
  ~BufferGuard() { OPENSSL_cleanse(buf.data(), buf.size()); }
};

struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads `path` (at most kMaxPasswordFile bytes) into a Secret. On failure returns false
// and sets `why` (which never contains file content).
bool read_password_file(const std::string& path, Secret& out, std::string& why) {
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (fd.fd < 0) {
    why = "cannot open password file " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "password file " + path + " is not a regular file";
    return false;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxPasswordFile) {
    why = "password file " + path + " is larger than 4 KiB";
    return false;
  }
  std::array<char, kMaxPasswordFile + 1> buf{};
  BufferGuard guard{buf};
  std::size_t len = 0;
  while (len < buf.size()) {
    const ssize_t n = ::read(fd.fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = "cannot read password file " + path + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  if (len > kMaxPasswordFile) {  // grew after fstat
    why = "password file " + path + " is larger than 4 KiB";
    return false;
  }
  if (len >= 1 && buf[len - 1] == '\n') {
    --len;
    if (len >= 1 && buf[len - 1] == '\r') --len;
  }
  if (len == 0) {
    why = "password file " + path + " is empty";
    return false;
  }
  std::string value;
  value.reserve(kMaxPasswordFile);  // heap buffer from the start: no copies on growth
  value.assign(buf.data(), len);
  out = Secret(std::move(value));
  return true;
}

// The secret of one login (static credential or dynamic admin): `why` set on failure.
void load_secret(const std::string& user, const std::string& file, const std::string& env,
                 const EnvironmentLookup& environment, Secret& password, std::string& why) {
  if (user.empty()) {
    why = "no user";
  } else if (!file.empty() && !env.empty()) {
    why = "both password_file and password_env are set";
  } else if (!file.empty()) {
    read_password_file(file, password, why);
  } else if (!env.empty()) {
    std::optional<std::string> v = environment ? environment(env) : std::nullopt;
    if (!v) why = "environment variable " + env + " is not set";
    else if (v->empty()) why = "environment variable " + env + " is empty";
    else password = Secret(std::move(*v));
    if (v) wipe(*v);
  } else {
    why = "no password_file or password_env";
  }
}

}  // namespace

Secret::Secret(std::string value) : value_(std::move(value)) { wipe(value); }

Secret::~Secret() { wipe(value_); }

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) {
  wipe(other.value_);
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe(value_);
    value_ = std::move(other.value_);
    wipe(other.value_);
  }
  return *this;
}

std::unique_ptr<CredentialStore> CredentialStore::load(const config::Config& cfg,
                                                       std::vector<std::string>& errors,
                                                       const EnvironmentLookup& environment) {
  auto store = std::make_unique<CredentialStore>();
  const std::size_t errors_before = errors.size();
  for (const auto& [seg_name, seg] : cfg.segments) {
    for (const auto& [listener, ref] : seg.credentials) {
      const std::string where = "segment \"" + seg_name + "\" listener \"" + listener + "\": ";
      Secret password;
      std::string why;
      if (ref.dynamic) {
        const auto& d = *ref.dynamic;
        load_secret(d.admin_user, d.admin_password_file, d.admin_password_env, environment, password, why);
        if (!why.empty()) {
          errors.push_back(where + "dynamic admin: " + why);
          continue;
        }
        BackendCredential cred;
        cred.dynamic = d;
        cred.admin_user = d.admin_user;
        cred.admin_password = std::move(password);
        store->creds_.emplace(std::pair{seg_name, listener}, std::move(cred));
        continue;
      }
      load_secret(ref.user, ref.password_file, ref.password_env, environment, password, why);
      if (!why.empty()) {
        errors.push_back(where + why);
        continue;
      }
      BackendCredential cred;
      cred.user = ref.user;
      cred.password = std::move(password);
      store->creds_.emplace(std::pair{seg_name, listener}, std::move(cred));
    }
  }
  if (errors.size() != errors_before) return nullptr;  // fail closed: all or nothing
  return store;
}

const BackendCredential* CredentialStore::find(const std::string& segment,
                                               const std::string& listener) const {
  const auto it = creds_.find(std::pair{segment, listener});
  return it == creds_.end() ? nullptr : &it->second;
}

}  // namespace segproxy::authz
