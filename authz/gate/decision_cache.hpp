#pragma once
// The one decision cache of both gates (pg_gate, mysql_gate): a session's verdicts keyed
// by a statement key the gate builds (PostgreSQL: literal-stripped or exact text in a key
// space naming the lexing context; MySQL: the keyed token fingerprint plus the PREPARE
// flag). Per session, bounded (emptied when full, never grown past `max_entries`), and
// voided as a whole (clear()) whenever something a key does not name changes: the
// engine's learned catalog (views_version: views and attribute-notation functions change
// what a statement reads), a policy reload, the lexing settings, the current database,
// the window grace. The window itself is never cached: the gates check it on every hit.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace segproxy::proxy {

template <class Verdict>
class DecisionCache {
 public:
  explicit DecisionCache(std::size_t max_entries) : max_entries_(max_entries) {}

  // The verdict cached under `key`, or null. Heterogeneous lookup: no key is built.
  const Verdict* find(std::string_view key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  void put(std::string key, Verdict v) {
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.insert_or_assign(std::move(key), std::move(v));
  }
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::size_t max_entries_;
  std::unordered_map<std::string, Verdict, Hash, std::equal_to<>> entries_;
};

}  // namespace segproxy::proxy
