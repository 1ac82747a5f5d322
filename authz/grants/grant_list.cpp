#include "authz/grants/grant_list.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "authz/revocation_list.hpp"  // write_file_atomically

namespace segproxy::authz {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;

std::string encode_file(const std::vector<Grant>& list) {
  std::string out;
  for (const auto& g : list) {
    out += encode_grant_line(g);
    out.push_back('\n');
  }
  return out;
}

}  // namespace

std::string new_grant_id(const std::vector<Grant>& existing) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    unsigned char bytes[6];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return "g" + std::to_string(existing.size() + 1);
    std::string id;
    for (const unsigned char b : bytes) {
      id.push_back(kHex[b >> 4]);
      id.push_back(kHex[b & 0xF]);
    }
    const bool taken = std::any_of(existing.begin(), existing.end(), [&](const Grant& g) { return g.id == id; });
    if (!taken) return id;
  }
}

GrantList::GrantList(fs::path file) : file_(std::move(file)), current_(std::make_shared<const std::vector<Grant>>()) {}

bool GrantList::load(std::string& error) {
  const std::lock_guard lock(mu_);
  if (file_.empty()) return true;
  std::ifstream in(file_, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(file_, ec) && !ec) return true;
    error = file_.string() + ": cannot read: " + std::strerror(errno);
    return false;
  }
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad() || text.size() > kMaxFileBytes) {
    error = file_.string() + ": read error or larger than " + std::to_string(kMaxFileBytes) + " bytes";
    return false;
  }
  std::string why;
  auto list = decode_grant_file(text, why);
  if (!list) {
    error = file_.string() + ": " + why;
    return false;
  }
  current_.store(std::make_shared<const std::vector<Grant>>(std::move(*list)));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

GrantList::Update GrantList::unchanged() const {
  Update u;
  u.ok = true;
  u.snapshot = current_.load();
  return u;
}

GrantList::Update GrantList::commit(std::vector<Grant> next, std::vector<Grant> changed) {
  Update u;
  if (!file_.empty() && !write_file_atomically(file_, encode_file(next), u.error)) {
    u.snapshot = current_.load();
    return u;
  }
  u.ok = true;
  u.snapshot = std::make_shared<const std::vector<Grant>>(std::move(next));
  u.changed = std::move(changed);
  current_.store(u.snapshot);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return u;
}

GrantList::Update GrantList::add(Grant g) {
  const std::lock_guard lock(mu_);
  const auto cur = current_.load();
  if (std::any_of(cur->begin(), cur->end(), [&](const Grant& o) { return o.id == g.id; })) {
    Update u = unchanged();
    u.ok = false;
    u.error = "a grant with id " + g.id + " exists already";
    return u;
  }
  std::vector<Grant> next(*cur);
  next.push_back(g);
  return commit(std::move(next), {std::move(g)});
}

GrantList::Update GrantList::remove(const std::string& id) {
  const std::lock_guard lock(mu_);
  const auto cur = current_.load();
  std::vector<Grant> next, removed;
  for (const auto& g : *cur) (g.id == id ? removed : next).push_back(g);
  if (removed.empty()) return unchanged();
  return commit(std::move(next), std::move(removed));
}

GrantList::Update GrantList::prune_expired(GrantTime now) {
  const std::lock_guard lock(mu_);
  const auto cur = current_.load();
  std::vector<Grant> next, expired;
  for (const auto& g : *cur) (g.active_at(now) ? next : expired).push_back(g);
  if (expired.empty()) return unchanged();
  return commit(std::move(next), std::move(expired));
}

GrantList::Update GrantList::replace(std::vector<Grant> next) {
  const std::lock_guard lock(mu_);
  if (*current_.load() == next) return unchanged();
  return commit(std::move(next), {});
}

std::vector<Grant> GrantList::matching(const ClientIdentity& id, std::string_view segment, GrantTime now) const {
  std::vector<Grant> out;
  const auto cur = current_.load();
  for (const auto& g : *cur) {
    if (g.active_at(now) && grant_matches(g, id, segment)) out.push_back(g);
  }
  return out;
}

std::size_t GrantList::active_count(GrantTime now) const {
  const auto cur = current_.load();
  return static_cast<std::size_t>(std::count_if(cur->begin(), cur->end(), [&](const Grant& g) { return g.active_at(now); }));
}

}  // namespace segproxy::authz
