// Error collection, small parsers and typed YAML readers for the config loader.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <set>

#include "config/detail.hpp"

namespace segproxy::config::detail {

void Diagnostics::error(int line, std::string key_path, std::string message) {
  errors_.push_back(ConfigError{file_, line, std::move(key_path), std::move(message)});
}

void Diagnostics::error_at(const std::string& key_path, std::string message) {
  error(line(key_path), key_path, std::move(message));
}

void Diagnostics::note_line(const std::string& key_path, int line) {
  lines_.emplace(key_path, line);  // first occurrence wins (duplicates are errors anyway)
}

bool Diagnostics::has_error(const std::string& key_path) const {
  return std::any_of(errors_.begin(), errors_.end(),
                     [&](const ConfigError& e) { return e.key_path == key_path; });
}

int Diagnostics::line(const std::string& key_path) const {
  std::string p = key_path;
  while (!p.empty()) {
    if (auto it = lines_.find(p); it != lines_.end()) return it->second;
    const auto cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p.resize(cut);
  }
  return 0;
}

std::vector<ConfigError> Diagnostics::take() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     // errors without a line (e.g. "no listeners") go last
                     const int la = a.line > 0 ? a.line : std::numeric_limits<int>::max();
                     const int lb = b.line > 0 ? b.line : std::numeric_limits<int>::max();
                     return la < lb;
                   });
  return std::move(errors_);
}

std::string resolve_path(const std::string& base_dir, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_absolute() || base_dir.empty()) return path.lexically_normal().string();
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::string join_path(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = &c;
    }
  }
  // Close enough: at most 2 edits, and fewer edits than the word has characters.
  const std::size_t limit = std::min<std::size_t>(2, word.size() > 1 ? word.size() - 1 : 0);
  if (best == nullptr || best_d == 0 || best_d > limit) return "";
  return " (did you mean " + quote(*best) + "?)";
}

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

namespace {
// Splits "123unit" into number and unit; nullopt when there is no leading number.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view s) {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  const auto n = parse_uint(s.substr(0, digits));
  if (!n) return std::nullopt;
  return std::pair{*n, s.substr(digits)};
}
}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view s, std::string& why) {
  const auto parts = split_number(s);
  if (!parts) {
    why = "invalid size " + quote(s) + " (expected an integer with optional B, KiB, MiB or GiB)";
    return std::nullopt;
  }
  const auto [n, unit] = *parts;
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB") mult = 1024;
  else if (unit == "MiB") mult = 1024 * 1024;
  else if (unit == "GiB") mult = 1024 * 1024 * 1024;
  if (mult == 0) {
    why = "invalid size unit " + quote(unit) + " in " + quote(s) + " (expected B, KiB, MiB or GiB)";
    return std::nullopt;
  }
  if (n > std::numeric_limits<std::uint64_t>::max() / mult) {
    why = "size " + quote(s) + " is too large";
    return std::nullopt;
  }
  return n * mult;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s, std::string& why) {
  const auto parts = split_number(s);
  if (!parts) {
    why = "invalid duration " + quote(s) + " (expected an integer with ms, s, m or h, e.g. 10s)";
    return std::nullopt;
  }
  const auto [n, unit] = *parts;
  if (unit.empty() && n == 0) return std::chrono::milliseconds{0};
  std::uint64_t mult = 0;
  if (unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m") mult = 60 * 1000;
  else if (unit == "h") mult = 60 * 60 * 1000;
  if (mult == 0) {
    why = unit.empty() ? "duration " + quote(s) + " needs a unit (ms, s, m or h)"
                       : "invalid duration unit " + quote(unit) + " in " + quote(s) +
                             " (expected ms, s, m or h)";
    return std::nullopt;
  }
  constexpr std::uint64_t kMaxMs = 365ull * 24 * 60 * 60 * 1000;  // one year is plenty
  if (n > kMaxMs / mult) {
    why = "duration " + quote(s) + " is too large";
    return std::nullopt;
  }
  return std::chrono::milliseconds{static_cast<std::int64_t>(n * mult)};
}

std::optional<std::chrono::microseconds> parse_micro_duration(std::string_view s, std::string& why) {
  const auto parts = split_number(s);
  if (parts && parts->second == "us") {
    constexpr std::uint64_t kMaxUs = 365ull * 24 * 60 * 60 * 1000 * 1000;
    if (parts->first > kMaxUs) {
      why = "duration " + quote(s) + " is too large";
      return std::nullopt;
    }
    return std::chrono::microseconds{static_cast<std::int64_t>(parts->first)};
  }
  const auto ms = parse_duration(s, why);
  if (!ms) {
    if (parts && !parts->second.empty()) why += " or us";
    return std::nullopt;
  }
  return std::chrono::microseconds{*ms};
}

std::optional<Endpoint> parse_host_port(std::string_view s, std::string& why) {
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      why = "invalid address " + quote(s) + " (expected [ipv6]:port)";
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      why = "invalid address " + quote(s) + " (expected host:port)";
      return std::nullopt;
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      why = "invalid address " + quote(s) + " (IPv6 addresses must be written [addr]:port)";
      return std::nullopt;
    }
  }
  if (host.empty() || host.find_first_of(" \t[]") != std::string_view::npos) {
    why = "invalid address " + quote(s) + " (bad or empty host)";
    return std::nullopt;
  }
  const auto p = parse_uint(port);
  if (!p || *p < 1 || *p > 65535) {
    why = "invalid port " + quote(port) + " in " + quote(s) + " (must be 1..65535)";
    return std::nullopt;
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(*p)};
}

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  return node.Mark().line + 1;  // null_mark has line -1 -> 0
}

const char* node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

bool Reader::expect_map(const YAML::Node& node, const std::string& path,
                        std::initializer_list<std::string_view> allowed) {
  if (!node.IsMap()) {
    d_.error(d_.line(path) ? d_.line(path) : line_of(node), path,
             std::string("expected a mapping, got ") + node_kind(node));
    return false;
  }
  std::vector<std::string> names(allowed.begin(), allowed.end());
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: it-> yields a temporary proxy
    if (!k.IsScalar()) {
      d_.error(line_of(k), path, "keys must be plain strings");
      continue;
    }
    const std::string& key = k.Scalar();
    const std::string kp = join_path(path, key);
    if (!seen.insert(key).second) {
      d_.error(line_of(k), kp, "duplicate key " + quote(key) + " (first on line " +
                                   std::to_string(d_.line(kp)) + ")");
      continue;
    }
    d_.note_line(kp, line_of(k));
    if (!names.empty() && std::find(names.begin(), names.end(), key) == names.end()) {
      d_.error(line_of(k), kp, "unknown key " + quote(key) + suggestion(key, names));
    }
  }
  return true;
}

bool Reader::has(const YAML::Node& map, std::string_view key) const {
  return map.IsMap() && map[std::string(key)].IsDefined();
}

YAML::Node Reader::get(const YAML::Node& map, std::string_view key) const {
  return map[std::string(key)];
}

std::optional<std::string> Reader::scalar(const YAML::Node& map, const std::string& path,
                                          std::string_view key, bool required,
                                          std::string_view expected) {
  const std::string kp = join_path(path, key);
  if (!has(map, key)) {
    if (required) d_.error(d_.line(path), kp, "missing required key " + quote(key));
    return std::nullopt;
  }
  const YAML::Node v = get(map, key);
  if (!v.IsScalar()) {
    d_.error_at(kp, "expected " + std::string(expected) + ", got " + node_kind(v));
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<std::string> Reader::string(const YAML::Node& map, const std::string& path,
                                          std::string_view key, bool required) {
  auto s = scalar(map, path, key, required, "a string");
  if (s && s->empty()) {
    d_.error_at(join_path(path, key), "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::uint64_t> Reader::uint(const YAML::Node& map, const std::string& path,
                                          std::string_view key, std::uint64_t min,
                                          std::uint64_t max, bool required) {
  const auto s = scalar(map, path, key, required, "an integer");
  if (!s) return std::nullopt;
  const auto v = parse_uint(*s);
  const std::string kp = join_path(path, key);
  if (!v) {
    d_.error_at(kp, "expected an integer, got " + quote(*s));
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    d_.error_at(kp, "value " + *s + " out of range (must be " + std::to_string(min) + ".." +
                        std::to_string(max) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> Reader::size(const YAML::Node& map, const std::string& path,
                                          std::string_view key, std::uint64_t min,
                                          std::uint64_t max) {
  const auto s = scalar(map, path, key, false, "a size");
  if (!s) return std::nullopt;
  std::string why;
  const auto v = parse_size(*s, why);
  const std::string kp = join_path(path, key);
  if (!v) {
    d_.error_at(kp, why);
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    d_.error_at(kp, "size " + quote(*s) + " out of range (must be " + std::to_string(min) +
                        ".." + std::to_string(max) + " bytes)");
    return std::nullopt;
  }
  return v;
}

std::optional<std::chrono::milliseconds> Reader::duration(const YAML::Node& map,
                                                          const std::string& path,
                                                          std::string_view key,
                                                          bool allow_zero) {
  const auto s = scalar(map, path, key, false, "a duration");
  if (!s) return std::nullopt;
  std::string why;
  const auto v = parse_duration(*s, why);
  const std::string kp = join_path(path, key);
  if (!v) {
    d_.error_at(kp, why);
    return std::nullopt;
  }
  if (!allow_zero && v->count() == 0) {
    d_.error_at(kp, "duration must be greater than 0");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> Reader::one_of(const YAML::Node& map, const std::string& path,
                                          std::string_view key,
                                          const std::vector<std::string>& values, bool required) {
  auto s = scalar(map, path, key, required, "a string");
  if (!s) return std::nullopt;
  if (std::find(values.begin(), values.end(), *s) != values.end()) return s;
  std::string list;
  for (const auto& v : values) list += (list.empty() ? "" : ", ") + v;
  d_.error_at(join_path(path, key), "invalid " + std::string(key) + " " + quote(*s) +
                                        " (expected one of: " + list + ")" +
                                        suggestion(*s, values));
  return std::nullopt;
}

std::optional<std::vector<std::string>> Reader::string_list(const YAML::Node& map,
                                                            const std::string& path,
                                                            std::string_view key,
                                                            bool required) {
  const std::string kp = join_path(path, key);
  if (!has(map, key)) {
    if (required) d_.error(d_.line(path), kp, "missing required key " + quote(key));
    return std::nullopt;
  }
  const YAML::Node v = get(map, key);
  if (!v.IsSequence()) {
    d_.error_at(kp, std::string("expected a list of strings, got ") + node_kind(v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const YAML::Node item = v[i];
    if (!item.IsScalar() || item.Scalar().empty()) {
      d_.error(line_of(item), index_path(kp, i), "expected a non-empty string");
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace segproxy::config::detail
