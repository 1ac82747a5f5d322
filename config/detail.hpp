#pragma once
// Internal to config/: the error collector and the typed YAML readers shared by the
// parse (shape and types) and validate (cross references, files) passes.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace segproxy::config::detail {

// Collects every error of one load, and remembers the line of every key path it read so
// that later passes can point at the right line without holding YAML nodes.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(int line, std::string key_path, std::string message);
  // Error at the line recorded for `key_path` (or its nearest recorded parent).
  void error_at(const std::string& key_path, std::string message);
  void note_line(const std::string& key_path, int line);
  int line(const std::string& key_path) const;
  bool empty() const { return errors_.empty(); }
  // Whether an error was already reported for exactly this key path (so later passes
  // can skip values that only hold defaults because they failed to parse).
  bool has_error(const std::string& key_path) const;
  std::vector<ConfigError> take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  std::unordered_map<std::string, int> lines_;
};

// Small string helpers.
std::string join_path(const std::string& path, std::string_view key);
std::string index_path(const std::string& path, std::size_t i);
std::size_t edit_distance(std::string_view a, std::string_view b);
// " (did you mean \"x\"?)" when a candidate is close enough, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates);
std::string quote(std::string_view s);

// `p` made absolute against `base_dir` (unless already absolute), lexically normal.
std::string resolve_path(const std::string& base_dir, const std::string& p);

// Pure parsers; on failure return nullopt and set `why`.
std::optional<std::uint64_t> parse_uint(std::string_view s);
std::optional<std::uint64_t> parse_size(std::string_view s, std::string& why);
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s, std::string& why);
// parse_duration's forms plus "us" (microseconds): "50us", "1ms", "0".
std::optional<std::chrono::microseconds> parse_micro_duration(std::string_view s, std::string& why);
std::optional<Endpoint> parse_host_port(std::string_view s, std::string& why);

// Policy scalars (policy.cpp). "HH:MM-HH:MM" -> minutes since midnight (end may be
// 24:00; end <= start wraps past midnight); RFC 3339 timestamp with Z or +-hh:mm, read
// by protocols::parse_rfc3339 (years 1970..2200: what a system_clock time_point holds,
// with margin), fractions dropped.
std::optional<std::pair<int, int>> parse_hours(std::string_view s, std::string& why);
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s,
                                                                   std::string& why);
// A zone name that is a plain relative path below the zoneinfo root.
bool is_safe_zone_name(std::string_view name);

// 1-based line of a node (0 when unknown).
int line_of(const YAML::Node& node);
// "a mapping", "a list", "a scalar", ... for type errors.
const char* node_kind(const YAML::Node& node);

// Typed readers. `map` must already be checked to be a mapping; `path` is its key path.
// Each reports its own errors and returns nullopt when the key is absent or invalid.
class Reader {
 public:
  explicit Reader(Diagnostics& d) : d_(d) {}

  // Mapping with only `allowed` keys; reports unknown (with suggestion) and duplicate
  // keys and records the line of every key. False when `node` is not a mapping.
  // An empty `allowed` accepts any key (maps keyed by user-chosen names).
  bool expect_map(const YAML::Node& node, const std::string& path,
                  std::initializer_list<std::string_view> allowed);
  bool has(const YAML::Node& map, std::string_view key) const;
  YAML::Node get(const YAML::Node& map, std::string_view key) const;

  std::optional<std::string> string(const YAML::Node& map, const std::string& path,
                                    std::string_view key, bool required);
  std::optional<std::uint64_t> uint(const YAML::Node& map, const std::string& path,
                                    std::string_view key, std::uint64_t min,
                                    std::uint64_t max, bool required);
  std::optional<std::uint64_t> size(const YAML::Node& map, const std::string& path,
                                    std::string_view key, std::uint64_t min, std::uint64_t max);
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& map,
                                                    const std::string& path,
                                                    std::string_view key, bool allow_zero);
  std::optional<std::string> one_of(const YAML::Node& map, const std::string& path,
                                    std::string_view key, const std::vector<std::string>& values,
                                    bool required);
  std::optional<std::vector<std::string>> string_list(const YAML::Node& map,
                                                      const std::string& path,
                                                      std::string_view key, bool required);

  Diagnostics& diag() { return d_; }

 private:
  // The scalar text of map[key], or nullopt (reporting missing/type errors).
  std::optional<std::string> scalar(const YAML::Node& map, const std::string& path,
                                    std::string_view key, bool required,
                                    std::string_view expected);
  Diagnostics& d_;
};

// Pass 1: YAML tree -> Config (types, ranges, unknown keys, per-entry rules).
// Relative paths are resolved against base_dir.
void parse_config(Reader& r, const YAML::Node& root, const std::string& base_dir, Config& out);
// The policy keys of one segment mapping (policy.cpp); `n` is already checked to be a map.
void parse_segment_policy(Reader& r, const YAML::Node& n, const std::string& path,
                          const std::string& segment, SegmentPolicy& out);
// Pass 2 part for policies: window time zones exist under cfg.zoneinfo_dir.
void validate_policies(Diagnostics& d, const Config& cfg);

// Operations keys (operations.cpp): `admin:`, `metrics:`, `segments.<s>.limits`.
AdminSettings parse_admin(Reader& r, const YAML::Node& n, const std::string& base_dir);
MetricsSettings parse_metrics(Reader& r, const YAML::Node& n);
void parse_segment_limits(Reader& r, const YAML::Node& n, const std::string& path, SegmentLimits& out);
// Pass 2 part: admin socket / revocation file directories, metrics address clashes, CRLs.
void validate_operations(Diagnostics& d, const Config& cfg);

// `audit.ship:` (audit_ship.cpp): the central store's connection and the shipper's pace;
// in pass 2 its files.
AuditShipSettings parse_audit_ship(Reader& r, const YAML::Node& n, const std::string& base_dir);
void validate_audit_ship(Diagnostics& d, const Config& cfg);

// `control_plane:` (control_plane.cpp): the etcd fleet settings and, in pass 2, their files.
ControlPlaneSettings parse_control_plane(Reader& r, const YAML::Node& n, const std::string& base_dir);
void validate_control_plane(Diagnostics& d, const Config& cfg);
// Existence and readability of a certificate / key / CA file (validate.cpp).
void check_readable_file(Diagnostics& d, const std::string& key_path, const std::string& file);

// Pass 2: cross references, duplicates, referenced files.
void validate_config(Diagnostics& d, const Config& cfg);

}  // namespace segproxy::config::detail
