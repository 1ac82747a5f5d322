#pragma once
// A list persisted as a JSON Lines file, the shape both the revocations
// (authz/revocation_list) and the emergency grants (authz/grants/grant_list) keep.
//
// Threads: readers (snapshot, active_count and what the owners build on snapshot) run on
// any thread without locks: they load an immutable snapshot published through an atomic
// shared_ptr. Writers (load, change and what is built on it) are serialised by a mutex
// and block for the file write and fsyncs; each publishes the new snapshot only after it
// is durable on disk, so a change that returns has its entries on disk, and a failed
// write changes nothing. generation() moves with every published list.
//
// File (strict; written by the list only): one JSON object per line, each line ending
// in '\n', in list order, at most kMaxListFileBytes; saved atomically
// (write_file_atomically); read by decode_list_file (line numbers, a truncated last
// line and duplicate ids are errors). A missing file is an empty list.
//
// No wall clock inside: callers pass `now`.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json/json.hpp"

namespace segproxy::authz {

// Temp file in the same directory (0600), fsync, rename over `file`, fsync the directory
// (also used for the fleet's applied-state file, daemon/control/fleet_state).
bool write_file_atomically(const std::filesystem::path& file, std::string_view data, std::string& error);

inline constexpr std::size_t kMaxListFileBytes = 16 * 1024 * 1024;

// The whole text of `file` ("" when it does not exist); nullopt and `error` (naming the
// file) when it cannot be read or is larger than kMaxListFileBytes.
std::optional<std::string> read_list_file(const std::filesystem::path& file, std::string& error);

// ---- decoding one line -------------------------------------------------------------------

// The line as a JSON object whose keys are all in `keys`; nullopt and `error` otherwise
// ("invalid JSON at byte N: ...", "not a JSON object", "unknown key \"k\"").
std::optional<json::Value> decode_line_object(std::string_view line, std::initializer_list<std::string_view> keys,
                                              std::string& error);
// The string member `key`: nullopt when absent (`error` "missing \"key\"" when
// `required`) or not a string (`error` "\"key\" must be a string").
std::optional<std::string> string_member(const json::Value& object, std::string_view key, bool required,
                                         std::string& error);
// The required string members `keys`, in order (for a structured binding); nullopt and
// `error` at the first one missing or not a string.
template <std::size_t N>
std::optional<std::array<std::string, N>> string_members(const json::Value& object,
                                                          const std::array<std::string_view, N>& keys,
                                                          std::string& error) {
  std::array<std::string, N> out;
  for (std::size_t i = 0; i < N; ++i) {
    auto s = string_member(object, keys[i], true, error);
    if (!s) return std::nullopt;
    out[i] = std::move(*s);
  }
  return out;
}
// The string member `key` (required) as `from_string` reads it (-> std::optional<E>);
// nullopt and `error` ("unknown <key> \"word\"") otherwise.
template <class FromString>
auto word_member(const json::Value& object, std::string_view key, FromString from_string, std::string& error)
    -> decltype(from_string(std::string_view{})) {
  const auto word = string_member(object, key, true, error);
  if (!word) return std::nullopt;
  auto parsed = from_string(*word);
  if (!parsed) error = "unknown " + std::string(key) + " \"" + word->substr(0, 64) + "\"";
  return parsed;
}
// The RFC 3339 UTC time in string member `key` (required); nullopt and `error` otherwise.
std::optional<std::chrono::system_clock::time_point> time_member(const json::Value& object, std::string_view key,
                                                                 std::string& error);
// "created_by_uid": an integer uid; nullopt and `error` otherwise.
std::optional<std::uint32_t> uid_member(const json::Value& object, std::string& error);
// "id": 1 to 64 characters; nullopt and `error` otherwise.
std::optional<std::string> id_member(const json::Value& object, std::string& error);

// ---- the whole file ----------------------------------------------------------------------

// Decodes every line with `decode_line(line, why)` (-> std::optional<T>); nullopt and
// "line N: ..." in `error` at the first bad line, a line without its final newline or an
// id (T::id) met before.
template <class T, class DecodeLine>
std::optional<std::vector<T>> decode_list_file(std::string_view text, DecodeLine decode_line, std::string& error) {
  std::vector<T> out;
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
    std::optional<T> entry = decode_line(line, why);
    if (!entry) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return std::nullopt;
    }
    for (const auto& prev : out) {
      if (prev.id == entry->id) {
        error = "line " + std::to_string(line_no) + ": duplicate id \"" + entry->id + "\"";
        return std::nullopt;
      }
    }
    out.push_back(std::move(*entry));
  }
  return out;
}

// 12 random lower-case hex digits no entry of `existing` has as its id; without an
// entropy source `fallback` + (size + 1), still unique.
std::string random_list_id(const std::vector<std::string_view>& existing, char fallback);
template <class T>
std::string new_list_id(const std::vector<T>& existing, char fallback) {
  std::vector<std::string_view> ids;
  ids.reserve(existing.size());
  for (const auto& e : existing) ids.emplace_back(e.id);
  return random_list_id(ids, fallback);
}

// ---- the list ----------------------------------------------------------------------------

// T has `id` and `bool active_at(time_point) const`; `codec` writes one line (no '\n')
// and reads a whole file.
template <class T>
class PersistedList {
 public:
  using Snapshot = std::shared_ptr<const std::vector<T>>;
  using TimePoint = std::chrono::system_clock::time_point;
  // Result of a change: ok=false (error set) leaves list and file as they were.
  struct Update {
    bool ok = false;
    std::string error;
    Snapshot snapshot;       // the list after the change (the old one on error)
    std::vector<T> changed;  // added, or removed / expired entries
  };
  struct Codec {
    std::string (*encode_line)(const T&);
    std::optional<std::vector<T>> (*decode_file)(std::string_view, std::string&);
  };

  // `file` empty: in memory only (nothing is persisted).
  PersistedList(std::filesystem::path file, Codec codec)
      : file_(std::move(file)), codec_(codec), current_(std::make_shared<const std::vector<T>>()) {}
  PersistedList(const PersistedList&) = delete;
  PersistedList& operator=(const PersistedList&) = delete;

  // Reads the file (a missing file is an empty list). On error (message names the file
  // and line) the current list is kept and false returned. Expired entries are kept
  // (they never apply); prune_expired drops them.
  bool load(std::string& error) {
    const std::lock_guard lock(mu_);
    if (file_.empty()) return true;
    const auto text = read_list_file(file_, error);
    if (!text) return false;
    std::string why;
    auto list = codec_.decode_file(*text, why);
    if (!list) {
      error = file_.string() + ": " + why;
      return false;
    }
    publish(std::make_shared<const std::vector<T>>(std::move(*list)));
    return true;
  }

  // Drops entries expired at `now` (changed = them); rewrites the file only when
  // something expired.
  Update prune_expired(TimePoint now) {
    return remove_where([now](const T& e) { return !e.active_at(now); });
  }
  // Replaces the whole list (the fleet control plane's applied set, docs/fleet.md);
  // entries keep their ids. changed = nothing (the caller diffs). Rewrites the file only
  // when the list differs.
  Update replace(std::vector<T> next) {
    return change([&next](const std::vector<T>& cur, std::vector<T>&, std::string&) -> std::optional<std::vector<T>> {
      if (cur == next) return std::nullopt;
      return std::move(next);
    });
  }

  Snapshot snapshot() const { return current_.load(); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::size_t active_count(TimePoint now) const {
    const auto cur = current_.load();
    std::size_t n = 0;
    for (const auto& e : *cur) n += e.active_at(now) ? 1 : 0;
    return n;
  }
  const std::filesystem::path& file() const { return file_; }

 protected:
  ~PersistedList() = default;

  // Under the writers' lock, `edit(current, changed, error)` returns the next list, or
  // nullopt for no change (ok unless it set `error`). The next list is saved, then
  // published; `changed` is handed back in the Update.
  template <class Edit>
  Update change(Edit&& edit) {
    const std::lock_guard lock(mu_);
    const Snapshot cur = current_.load();
    Update u;
    std::vector<T> changed;
    std::optional<std::vector<T>> next = edit(*cur, changed, u.error);
    if (!next) {
      u.ok = u.error.empty();
      u.snapshot = cur;
      return u;
    }
    if (!file_.empty()) {
      std::string text;
      for (const auto& e : *next) {
        text += codec_.encode_line(e);
        text.push_back('\n');
      }
      if (!write_file_atomically(file_, text, u.error)) {
        u.snapshot = cur;
        return u;
      }
    }
    u.ok = true;
    u.snapshot = std::make_shared<const std::vector<T>>(std::move(*next));
    u.changed = std::move(changed);
    publish(u.snapshot);
    return u;
  }

  // Removes every entry `pred` holds for (changed = them); no change when none does.
  template <class Pred>
  Update remove_where(Pred pred) {
    return change([&pred](const std::vector<T>& cur, std::vector<T>& removed,
                          std::string&) -> std::optional<std::vector<T>> {
      std::vector<T> next;
      for (const auto& e : cur) (pred(e) ? removed : next).push_back(e);
      if (removed.empty()) return std::nullopt;
      return next;
    });
  }

 private:
  void publish(Snapshot s) {
    current_.store(std::move(s));
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

  std::filesystem::path file_;
  Codec codec_;
  std::mutex mu_;  // serialises writers (and their file writes)
  std::atomic<Snapshot> current_;
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace segproxy::authz
