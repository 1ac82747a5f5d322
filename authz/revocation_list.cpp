#include "authz/revocation_list.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "json/json.hpp"
#include "protocols/common/selector_value.hpp"
#include "protocols/common/time_text.hpp"

namespace segproxy::authz {
namespace {

namespace fs = std::filesystem;
namespace json = segproxy::json;

constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;

// Lower-case hex with ':' removed, for certificate fingerprints.
std::string normalize_fingerprint(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == ':') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

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

namespace {

std::optional<Revocation> decode_line(std::string_view line, std::string& error) {
  const auto parsed = json::parse(line);
  if (!parsed) {
    error = "invalid JSON at byte " + std::to_string(parsed.error_offset) + ": " + parsed.error;
    return std::nullopt;
  }
  const json::Value& v = *parsed.value;
  if (!v.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  static constexpr std::string_view kKeys[] = {"id",         "kind",       "value",         "reason",
                                               "created_at", "expires_at", "created_by_uid"};
  for (const auto& m : v.as_object()) {
    if (std::find(std::begin(kKeys), std::end(kKeys), m.key) == std::end(kKeys)) {
      error = "unknown key \"" + m.key.substr(0, 64) + "\"";
      return std::nullopt;
    }
  }
  const auto str = [&](std::string_view key, bool required) -> std::optional<std::string> {
    const json::Value* f = v.find(key);
    if (f == nullptr) {
      if (required) error = "missing \"" + std::string(key) + "\"";
      return std::nullopt;
    }
    if (!f->is_string()) {
      error = "\"" + std::string(key) + "\" must be a string";
      return std::nullopt;
    }
    return f->as_string();
  };
  Revocation r;
  const auto id = str("id", true);
  const auto kind = id ? str("kind", true) : std::nullopt;
  const auto value = kind ? str("value", true) : std::nullopt;
  const auto reason = value ? str("reason", true) : std::nullopt;
  const auto created = reason ? str("created_at", true) : std::nullopt;
  if (!created) return std::nullopt;
  const auto expires = str("expires_at", false);
  if (!error.empty()) return std::nullopt;
  if (id->empty() || id->size() > 64) {
    error = "\"id\" must have 1 to 64 characters";
    return std::nullopt;
  }
  r.id = *id;
  const auto k = revocation_kind_from_string(*kind);
  if (!k) {
    error = "unknown kind \"" + kind->substr(0, 64) + "\"";
    return std::nullopt;
  }
  r.kind = *k;
  auto normalised = normalize_revocation_value(r.kind, *value, error);
  if (!normalised) return std::nullopt;
  r.value = std::move(*normalised);
  r.reason = *reason;
  const auto c = protocols::parse_time(*created);
  if (!c) {
    error = "\"created_at\" is not an RFC 3339 UTC time";
    return std::nullopt;
  }
  r.created_at = *c;
  if (expires) {
    const auto e = protocols::parse_time(*expires);
    if (!e) {
      error = "\"expires_at\" is not an RFC 3339 UTC time";
      return std::nullopt;
    }
    r.expires_at = *e;
  }
  const json::Value* uid = v.find("created_by_uid");
  if (uid == nullptr || !uid->is_int() || uid->as_int() < 0 || uid->as_int() > 0xFFFFFFFFLL) {
    error = "\"created_by_uid\" must be an integer uid";
    return std::nullopt;
  }
  r.created_by_uid = static_cast<std::uint32_t>(uid->as_int());
  return r;
}

std::string encode_file(const std::vector<Revocation>& list) {
  std::string out;
  for (const auto& r : list) {
    out += encode_revocation_line(r);
    out.push_back('\n');
  }
  return out;
}

}  // namespace

std::string_view to_string(RevocationKind k) {
  switch (k) {
    case RevocationKind::Identity: return "identity";
    case RevocationKind::SpiffePrefix: return "spiffe_prefix";
    case RevocationKind::CertSerial: return "cert_serial";
    case RevocationKind::Segment: return "segment";
  }
  return "identity";
}

std::optional<RevocationKind> revocation_kind_from_string(std::string_view s) {
  for (const auto k : {RevocationKind::Identity, RevocationKind::SpiffePrefix, RevocationKind::CertSerial,
                       RevocationKind::Segment}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

std::string normalize_serial(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == ':') continue;
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return {};
    if (out.empty() && c == '0') continue;  // leading zero
    out.push_back(c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  if (out.empty()) {
    const bool any_digit = std::any_of(s.begin(), s.end(), [](char c) { return c != ':'; });
    return any_digit ? "0" : "";
  }
  return out;
}

bool spiffe_prefix_matches(std::string_view prefix, std::string_view spiffe_id) {
  if (prefix.substr(0, 9) != "spiffe://" || spiffe_id.size() < prefix.size()) return false;
  if (spiffe_id.substr(0, prefix.size()) != prefix) return false;
  if (spiffe_id.size() == prefix.size() || prefix.back() == '/') return true;
  return spiffe_id[prefix.size()] == '/';
}

bool identity_matches(std::string_view selector, const ClientIdentity& id) {
  if (selector.empty()) return false;
  if (!id.spiffe_id.empty() && selector == id.spiffe_id) return true;
  if (!id.cn.empty() && selector == id.cn) return true;
  // The forms ClientIdentity::display() shows (sessions, logs): "CN=<cn>" (the "CN="
  // in any case, the name exactly) and "sha256:<at least 16 hex digits>" (a prefix of
  // the fingerprint, as shown).
  if (selector.size() > 3 && (selector[0] == 'C' || selector[0] == 'c') && (selector[1] == 'N' || selector[1] == 'n') &&
      selector[2] == '=') {
    if (!id.cn.empty() && selector.substr(3) == id.cn) return true;
  }
  if (id.sha256_hex.empty()) return false;
  if (selector.substr(0, 7) == "sha256:") {
    const std::string shown = normalize_fingerprint(selector.substr(7));
    const std::string full = normalize_fingerprint(id.sha256_hex);
    const bool hex = std::all_of(shown.begin(), shown.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
    return hex && shown.size() >= 16 && shown.size() <= full.size() && full.compare(0, shown.size(), shown) == 0;
  }
  return normalize_fingerprint(selector) == normalize_fingerprint(id.sha256_hex);
}

bool matches(const Revocation& r, const ClientIdentity& id, std::string_view segment) {
  switch (r.kind) {
    case RevocationKind::Identity: return identity_matches(r.value, id);
    case RevocationKind::SpiffePrefix: return !id.spiffe_id.empty() && spiffe_prefix_matches(r.value, id.spiffe_id);
    case RevocationKind::CertSerial: {
      if (id.serial_hex.empty()) return false;
      return normalize_serial(id.serial_hex) == normalize_serial(r.value);
    }
    case RevocationKind::Segment: return !segment.empty() && segment == r.value;
  }
  return false;
}

std::optional<std::string> normalize_revocation_value(RevocationKind kind, std::string_view value,
                                                      std::string& error) {
  const protocols::SelectorValueRule rule = kind == RevocationKind::SpiffePrefix ? protocols::SelectorValueRule::SpiffePrefix
                                            : kind == RevocationKind::CertSerial ? protocols::SelectorValueRule::CertSerial
                                                                                 : protocols::SelectorValueRule::Name;
  error = protocols::check_selector_value(to_string(kind), rule, value);
  if (!error.empty()) return std::nullopt;
  if (kind == RevocationKind::CertSerial) return normalize_serial(value);
  return std::string(value);
}

std::string encode_revocation_line(const Revocation& r) {
  json::Writer w;
  w.begin_object()
      .field("id", r.id)
      .field("kind", to_string(r.kind))
      .field("value", r.value)
      .field("reason", r.reason)
      .field("created_at", protocols::format_time(r.created_at));
  if (r.expires_at) w.field("expires_at", protocols::format_time(*r.expires_at));
  w.field("created_by_uid", r.created_by_uid).end_object();
  return w.take();
}

std::optional<std::vector<Revocation>> decode_revocation_file(std::string_view text, std::string& error) {
  std::vector<Revocation> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      error = "line " + std::to_string(line_no) + ": no final newline (truncated file?)";
      return std::nullopt;
    }
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    std::string why;
    auto r = decode_line(line, why);
    if (!r) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return std::nullopt;
    }
    for (const auto& prev : out) {
      if (prev.id == r->id) {
        error = "line " + std::to_string(line_no) + ": duplicate id \"" + r->id + "\"";
        return std::nullopt;
      }
    }
    out.push_back(std::move(*r));
  }
  return out;
}

// ---- RevocationList ------------------------------------------------------------------

RevocationList::RevocationList(std::filesystem::path file)
    : file_(std::move(file)), current_(std::make_shared<const std::vector<Revocation>>()) {}

bool RevocationList::load(std::string& error) {
  const std::lock_guard lock(mu_);
  if (file_.empty()) return true;
  std::ifstream in(file_, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(file_, ec) && !ec) {
      current_.store(std::make_shared<const std::vector<Revocation>>());
      return true;
    }
    error = file_.string() + ": cannot read: " + errno_text(errno);
    return false;
  }
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    error = file_.string() + ": read error";
    return false;
  }
  if (text.size() > kMaxFileBytes) {
    error = file_.string() + ": larger than " + std::to_string(kMaxFileBytes) + " bytes";
    return false;
  }
  std::string why;
  auto list = decode_revocation_file(text, why);
  if (!list) {
    error = file_.string() + ": " + why;
    return false;
  }
  current_.store(std::make_shared<const std::vector<Revocation>>(std::move(*list)));
  return true;
}

std::string RevocationList::new_id(const std::vector<Revocation>& existing) const {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    unsigned char bytes[6];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
      // No entropy source: fall back to a counter past the list size (still unique).
      return "n" + std::to_string(existing.size() + 1);
    }
    std::string id;
    for (const unsigned char b : bytes) {
      id.push_back(kHex[b >> 4]);
      id.push_back(kHex[b & 0xF]);
    }
    const bool taken =
        std::any_of(existing.begin(), existing.end(), [&](const Revocation& r) { return r.id == id; });
    if (!taken) return id;
  }
}

RevocationList::Update RevocationList::commit(std::vector<Revocation> next, std::vector<Revocation> changed) {
  Update u;
  if (!file_.empty()) {
    if (!write_file_atomically(file_, encode_file(next), u.error)) {
      u.snapshot = current_.load();
      return u;
    }
  }
  u.ok = true;
  u.snapshot = std::make_shared<const std::vector<Revocation>>(std::move(next));
  u.changed = std::move(changed);
  current_.store(u.snapshot);
  return u;
}

RevocationList::Update RevocationList::add(RevocationKind kind, std::string_view value, std::string reason,
                                           std::optional<std::chrono::seconds> ttl, std::uint32_t created_by_uid,
                                           TimePoint now) {
  const std::lock_guard lock(mu_);
  Update u;
  auto normalised = normalize_revocation_value(kind, value, u.error);
  if (!normalised) {
    u.snapshot = current_.load();
    return u;
  }
  const auto cur = current_.load();
  std::vector<Revocation> next;
  for (const auto& r : *cur) {
    if (!(r.kind == kind && r.value == *normalised)) next.push_back(r);
  }
  Revocation r;
  r.id = new_id(*cur);
  r.kind = kind;
  r.value = std::move(*normalised);
  r.reason = std::move(reason);
  r.created_at = std::chrono::floor<std::chrono::seconds>(now);  // the file keeps whole seconds
  if (ttl) r.expires_at = r.created_at + *ttl;
  r.created_by_uid = created_by_uid;
  next.push_back(r);
  return commit(std::move(next), {std::move(r)});
}

RevocationList::Update RevocationList::remove(RevocationKind kind, std::string_view value) {
  const std::lock_guard lock(mu_);
  Update u;
  auto normalised = normalize_revocation_value(kind, value, u.error);
  const auto cur = current_.load();
  if (!normalised) {
    u.snapshot = cur;
    return u;
  }
  std::vector<Revocation> next, removed;
  for (const auto& r : *cur) {
    (r.kind == kind && r.value == *normalised ? removed : next).push_back(r);
  }
  if (removed.empty()) {
    u.ok = true;
    u.snapshot = cur;
    return u;
  }
  return commit(std::move(next), std::move(removed));
}

RevocationList::Update RevocationList::prune_expired(TimePoint now) {
  const std::lock_guard lock(mu_);
  const auto cur = current_.load();
  std::vector<Revocation> next, expired;
  for (const auto& r : *cur) (r.active_at(now) ? next : expired).push_back(r);
  if (expired.empty()) {
    Update u;
    u.ok = true;
    u.snapshot = cur;
    return u;
  }
  return commit(std::move(next), std::move(expired));
}

RevocationList::Update RevocationList::replace(std::vector<Revocation> next) {
  const std::lock_guard lock(mu_);
  const auto cur = current_.load();
  if (*cur == next) {
    Update u;
    u.ok = true;
    u.snapshot = cur;
    return u;
  }
  return commit(std::move(next), {});
}

std::optional<Revocation> RevocationList::find_match(const ClientIdentity& id, std::string_view segment,
                                                     TimePoint now) const {
  const auto cur = current_.load();
  for (const auto& r : *cur) {
    if (r.active_at(now) && matches(r, id, segment)) return r;
  }
  return std::nullopt;
}

std::size_t RevocationList::active_count(TimePoint now) const {
  const auto cur = current_.load();
  return static_cast<std::size_t>(
      std::count_if(cur->begin(), cur->end(), [&](const Revocation& r) { return r.active_at(now); }));
}

}  // namespace segproxy::authz
