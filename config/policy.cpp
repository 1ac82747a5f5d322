// Per-segment access policy: default_schema, windows, on_window_close, catalog, rules,
// statements, functions. Parsed in pass 1 (shape, vocabulary, local rules such as
// duplicate rule ids); time zone files are checked in pass 2 (validate_policies).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "config/detail.hpp"
#include "config/policy_words.hpp"
#include "protocols/common/time_text.hpp"

namespace segproxy::config::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> names_of(const char* const* names, std::size_t n) {
  return std::vector<std::string>(names, names + n);
}

// Two decimal digits at s[pos], or -1.
int two_digits(std::string_view s, std::size_t pos) {
  if (pos + 2 > s.size() || !std::isdigit(static_cast<unsigned char>(s[pos])) ||
      !std::isdigit(static_cast<unsigned char>(s[pos + 1]))) {
    return -1;
  }
  return (s[pos] - '0') * 10 + (s[pos + 1] - '0');
}

// "HH:MM" (hour may be one digit) -> minutes; max_hour 24 allows only "24:00".
std::optional<int> parse_clock(std::string_view s, int max_hour) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
    return std::nullopt;
  }
  int h = 0;
  for (std::size_t i = 0; i < colon; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    h = h * 10 + (s[i] - '0');
  }
  const int m = two_digits(s, colon + 1);
  if (m < 0 || m > 59 || h > max_hour || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

// A "schema.name" / "name" pattern; empty string when invalid (sets why).
std::string qualify_pattern(std::string_view p, const std::string& default_schema,
                            std::string& why) {
  return qualify_table_pattern(p, default_schema, why);
}

std::optional<OperationSet> parse_ops(Reader& r, const YAML::Node& n, const std::string& path,
                                      std::string_view key) {
  auto list = r.string_list(n, path, key, false);
  if (!list) return std::nullopt;
  static const std::vector<std::string> names = [] {
    auto v = names_of(kTableOperationNames, kTableOperationCount);
    v.push_back("all");
    return v;
  }();
  OperationSet set = 0;
  const std::string kp = join_path(path, key);
  const YAML::Node items = r.get(n, key);
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto bits = operation_set_from_name((*list)[i]);
    if (!bits) {
      r.diag().error(line_of(items[i]), index_path(kp, i),
                     "unknown operation " + quote((*list)[i]) + suggestion(lower((*list)[i]), names));
      continue;
    }
    set |= *bits;
  }
  return set;
}

TimeWindow parse_window(Reader& r, const YAML::Node& n, const std::string& path) {
  TimeWindow w;
  w.line = line_of(n);
  r.diag().note_line(path, w.line);
  if (!r.expect_map(n, path, {"days", "hours", "timezone", "from", "until"})) return w;
  Diagnostics& d = r.diag();
  const bool one_off = r.has(n, "from") || r.has(n, "until");
  if (one_off) {
    w.kind = TimeWindow::Kind::OneOff;
    for (const char* k : {"days", "hours", "timezone"}) {
      if (r.has(n, k)) {
        d.error_at(join_path(path, k), std::string("a one-off window (from/until) takes no \"") +
                                           k + "\"; use a separate weekly window");
      }
    }
    const auto from = r.string(n, path, "from", true);
    const auto until = r.string(n, path, "until", true);
    std::string why;
    std::optional<std::chrono::system_clock::time_point> f, u;
    if (from && !(f = parse_rfc3339(*from, why))) d.error_at(join_path(path, "from"), why);
    if (until && !(u = parse_rfc3339(*until, why))) d.error_at(join_path(path, "until"), why);
    if (f) w.from = *f;
    if (u) w.until = *u;
    if (f && u && *f >= *u) d.error_at(join_path(path, "until"), "until must be after from");
    return w;
  }
  if (!r.has(n, "days") && !r.has(n, "hours")) {
    d.error_at(path, "a window needs days and/or hours (or from/until for a one-off window)");
  }
  if (auto days = r.string_list(n, path, "days", false)) {
    static const std::vector<std::string> names = {"mon", "tue", "wed", "thu",
                                                   "fri", "sat", "sun"};
    const YAML::Node items = r.get(n, "days");
    w.days = 0;
    for (std::size_t i = 0; i < days->size(); ++i) {
      const std::string day = lower((*days)[i]);
      const auto it = std::find(names.begin(), names.end(), day);
      if (it == names.end()) {
        d.error(line_of(items[i]), index_path(join_path(path, "days"), i),
                "unknown day " + quote((*days)[i]) + " (expected mon, tue, wed, thu, fri, sat, sun)" +
                    suggestion(day, names));
        continue;
      }
      w.days |= static_cast<std::uint8_t>(1u << (it - names.begin()));
    }
    if (days->empty()) d.error_at(join_path(path, "days"), "must list at least one day");
  }
  if (auto hours = r.string(n, path, "hours", false)) {
    std::string why;
    if (auto span = parse_hours(*hours, why)) {
      w.start_minute = span->first;
      w.end_minute = span->second;
    } else {
      d.error_at(join_path(path, "hours"), why);
    }
  }
  if (auto tz = r.string(n, path, "timezone", false)) {
    w.timezone = *tz;
    if (!is_safe_zone_name(*tz)) {
      d.error_at(join_path(path, "timezone"), "invalid time zone name " + quote(*tz) +
                                                  " (expected an IANA name such as Europe/Berlin)");
    }
  }
  return w;
}

PolicyRule parse_rule(Reader& r, const YAML::Node& n, const std::string& path,
                      const std::string& default_id, const std::string& default_schema) {
  PolicyRule rule;
  rule.id = default_id;
  rule.line = line_of(n);
  r.diag().note_line(path, rule.line);
  if (!r.expect_map(n, path, {"id", "tables", "allow", "deny", "shadow"})) return rule;
  if (auto id = r.string(n, path, "id", false)) rule.id = *id;
  if (auto v = r.one_of(n, path, "shadow", {"true", "false"}, false)) rule.shadow = *v == "true";
  if (auto tables = r.string_list(n, path, "tables", true)) {
    if (tables->empty()) r.diag().error_at(join_path(path, "tables"), "must list at least one table");
    const YAML::Node items = r.get(n, "tables");
    for (std::size_t i = 0; i < tables->size(); ++i) {
      std::string why;
      std::string p = qualify_pattern((*tables)[i], default_schema, why);
      if (p.empty()) {
        r.diag().error(line_of(items[i]), index_path(join_path(path, "tables"), i), why);
        continue;
      }
      rule.tables.push_back(std::move(p));
    }
  }
  const auto allow = parse_ops(r, n, path, "allow");
  const auto deny = parse_ops(r, n, path, "deny");
  rule.allow = allow.value_or(0);
  rule.deny = deny.value_or(0);
  const bool has_allow = r.has(n, "allow") && r.get(n, "allow").IsSequence() &&
                         r.get(n, "allow").size() > 0;
  const bool has_deny = r.has(n, "deny") && r.get(n, "deny").IsSequence() &&
                        r.get(n, "deny").size() > 0;
  if (!has_allow && !has_deny) {
    r.diag().error_at(path, "rule " + quote(rule.id) + " has neither allow nor deny operations");
  }
  return rule;
}

std::vector<std::string> parse_function_patterns(Reader& r, const YAML::Node& n,
                                                 const std::string& path, std::string_view key) {
  std::vector<std::string> out;
  auto list = r.string_list(n, path, key, false);
  if (!list) return out;
  const YAML::Node items = r.get(n, key);
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string why;
    std::string p = qualify_pattern((*list)[i], "", why);
    if (p.empty()) {
      r.diag().error(line_of(items[i]), index_path(join_path(path, key), i), why);
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

// A YAML list under `key` (absent or null = empty); reports a non-list.
YAML::Node list_at(Reader& r, const YAML::Node& n, const std::string& path, std::string_view key) {
  if (!r.has(n, key) || r.get(n, key).IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  const YAML::Node v = r.get(n, key);
  if (!v.IsSequence()) {
    r.diag().error_at(join_path(path, key), std::string("expected a list, got ") + node_kind(v));
    return YAML::Node(YAML::NodeType::Sequence);
  }
  return v;
}

// `views:` pins: {view: [relation, ...]}; exact names (no globs), bare = default_schema.
void parse_view_pins(Reader& r, const YAML::Node& n, const std::string& path,
                     SegmentPolicy& out) {
  Diagnostics& d = r.diag();
  if (n.IsNull()) return;
  if (!r.expect_map(n, path, {})) return;  // keys are view names
  const auto name_of = [&](std::string_view raw, const std::string& key_path, int line,
                           std::string& qualified) {
    std::string why;
    qualified = qualify_pattern(raw, out.default_schema, why);
    if (qualified.empty()) {
      d.error(line, key_path, why);
      return false;
    }
    if (qualified.find_first_of("*? ") != std::string::npos) {
      d.error(line, key_path, "invalid relation name " + quote(raw) +
                                  " (an exact \"schema.name\" or \"name\", no globs)");
      return false;
    }
    return true;
  };
  std::map<std::string, std::string> raw_keys;  // qualified -> as written
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string raw = it->first.Scalar();
    const std::string vp = join_path(path, raw);
    std::string view;
    if (!name_of(raw, vp, line_of(it->first), view)) continue;
    if (auto [prev, fresh] = raw_keys.emplace(view, raw); !fresh) {
      d.error_at(vp, "view " + quote(view) + " is pinned twice (also as " + quote(prev->second) + ")");
      continue;
    }
    auto list = r.string_list(n, path, raw, true);
    if (!list) continue;
    const YAML::Node items = r.get(n, raw);
    std::vector<std::string> refs;
    for (std::size_t i = 0; i < list->size(); ++i) {
      std::string ref;
      const std::string ip = index_path(vp, i);
      if (!name_of((*list)[i], ip, line_of(items[i]), ref)) continue;
      if (ref == view) {
        d.error(line_of(items[i]), ip, "view " + quote(view) + " cannot read itself");
        continue;
      }
      if (std::find(refs.begin(), refs.end(), ref) == refs.end()) refs.push_back(std::move(ref));
    }
    out.views[view] = std::move(refs);
  }
}

}  // namespace

std::optional<std::pair<int, int>> parse_hours(std::string_view s, std::string& why) {
  const auto dash = s.find('-');
  std::optional<int> start, end;
  if (dash != std::string_view::npos) {
    start = parse_clock(s.substr(0, dash), 23);
    end = parse_clock(s.substr(dash + 1), 24);
  }
  if (!start || !end) {
    why = "invalid hours " + quote(s) +
          " (expected \"HH:MM-HH:MM\", 00:00..23:59, end up to 24:00, e.g. \"08:00-18:30\")";
    return std::nullopt;
  }
  if (*start == *end % (24 * 60) && !(*start == 0 && *end == 24 * 60)) {
    why = "hours " + quote(s) + " is an empty window (use \"00:00-24:00\" for the whole day)";
    return std::nullopt;
  }
  return std::pair{*start, *end};
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s,
                                                                   std::string& why) {
  // The one RFC 3339 reader (protocols/common/time_text); windows keep whole seconds.
  protocols::TimeProblem problem = protocols::TimeProblem::None;
  const auto t = protocols::parse_rfc3339(s, protocols::TimeSyntax::Rfc3339, &problem);
  if (t) {
    why.clear();
    return std::chrono::floor<std::chrono::seconds>(*t);
  }
  if (problem == protocols::TimeProblem::OutOfRange) {
    why = "timestamp " + quote(s) + " " + protocols::time_problem_text(problem);
  } else {
    why = "invalid timestamp " + quote(s) +
          " (expected RFC 3339, e.g. 2026-12-01T00:00:00Z or 2026-12-01T08:00:00+01:00)";
  }
  return std::nullopt;
}

bool is_safe_zone_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto slash = name.find('/', start);
    const auto part = name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                      c == '+' || c == '.';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

void parse_segment_policy(Reader& r, const YAML::Node& n, const std::string& path,
                          const std::string& segment, SegmentPolicy& out) {
  Diagnostics& d = r.diag();
  if (auto v = r.string(n, path, "default_schema", false)) {
    if (v->find_first_of(".*? ") != std::string::npos) {
      d.error_at(join_path(path, "default_schema"),
                 "invalid schema name " + quote(*v) + " (a plain name, no '.' or globs)");
    } else {
      out.default_schema = *v;
    }
  }
  if (auto v = r.one_of(n, path, "mode", {"enforce", "shadow"}, false)) {
    out.mode = *v == "shadow" ? PolicyMode::Shadow : PolicyMode::Enforce;
  }
  const std::string wp = join_path(path, "windows");
  const YAML::Node windows = list_at(r, n, path, "windows");
  for (std::size_t i = 0; i < windows.size(); ++i) {
    out.windows.push_back(parse_window(r, windows[i], index_path(wp, i)));
  }
  if (auto v = r.one_of(n, path, "on_window_close", {"terminate", "finish_transaction"}, false)) {
    out.on_window_close = *v == "terminate" ? WindowClose::Terminate : WindowClose::FinishTransaction;
  }
  if (auto v = r.duration(n, path, "window_close_grace", false)) {
    if (*v > std::chrono::hours(24)) {
      d.error_at(join_path(path, "window_close_grace"), "must be at most 24h");
    } else {
      out.window_close_grace = *v;
    }
  }
  if (auto v = r.one_of(n, path, "catalog", {"none", "metadata"}, false)) {
    out.catalog = *v == "metadata" ? CatalogAccess::Metadata : CatalogAccess::None;
  }
  const std::string rp = join_path(path, "rules");
  const YAML::Node rules = list_at(r, n, path, "rules");
  std::map<std::string, int> ids;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string p = index_path(rp, i);
    PolicyRule rule = parse_rule(r, rules[i], p, segment + "." + index_path("rules", i),
                                 out.default_schema);
    if (auto [it, fresh] = ids.emplace(rule.id, rule.line); !fresh) {
      d.error_at(join_path(p, "id"), "duplicate rule id " + quote(rule.id) +
                                         " (first used on line " + std::to_string(it->second) + ")");
    }
    out.rules.push_back(std::move(rule));
  }
  if (auto classes = r.string_list(n, path, "statements", false)) {
    const auto names = names_of(kStatementClassNames, kStatementClassCount);
    const YAML::Node items = r.get(n, "statements");
    for (std::size_t i = 0; i < classes->size(); ++i) {
      const std::string c = lower((*classes)[i]);
      const auto klass = statement_class_from_name(c);
      if (!klass) {
        d.error(line_of(items[i]), index_path(join_path(path, "statements"), i),
                "unknown statement class " + quote((*classes)[i]) + suggestion(c, names));
        continue;
      }
      out.statements |= class_bit(*klass);
    }
  }
  if (r.has(n, "functions")) {
    const std::string fp = join_path(path, "functions");
    const YAML::Node f = r.get(n, "functions");
    if (r.expect_map(f, fp, {"allow", "deny"})) {
      out.functions.allow = parse_function_patterns(r, f, fp, "allow");
      out.functions.deny = parse_function_patterns(r, f, fp, "deny");
    }
  }
  if (r.has(n, "views")) parse_view_pins(r, r.get(n, "views"), join_path(path, "views"), out);
}

void validate_policies(Diagnostics& d, const Config& cfg) {
  namespace fs = std::filesystem;
  for (const auto& [name, seg] : cfg.segments) {
    const std::string wp = join_path(join_path("segments", name), "windows");
    for (std::size_t i = 0; i < seg.policy.windows.size(); ++i) {
      const TimeWindow& w = seg.policy.windows[i];
      const std::string kp = join_path(index_path(wp, i), "timezone");
      if (w.kind != TimeWindow::Kind::Weekly || w.timezone == "UTC" || d.has_error(kp)) continue;
      const fs::path file = fs::path(cfg.zoneinfo_dir) / w.timezone;
      std::error_code ec;
      char magic[4] = {};
      std::ifstream in;
      if (fs::is_regular_file(file, ec)) in.open(file, std::ios::binary);
      if (!in || !in.read(magic, 4) || std::string_view(magic, 4) != "TZif") {
        d.error_at(kp, "unknown time zone " + quote(w.timezone) + " (no TZif file " +
                           file.string() + ")");
      }
    }
  }
}

}  // namespace segproxy::config::detail
