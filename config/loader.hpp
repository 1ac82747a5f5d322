#pragma once
// YAML -> Config with full validation. Every problem is reported with file:line and
// the key path (e.g. "segproxy.yaml:12: listeners[0].tls.cert: file not found");
// unknown keys are errors (a typo in a security config must not be silently ignored).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace segproxy::config {

struct ConfigError {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  std::string key_path;
  std::string message;
  std::string to_string() const;  // "file:line: key.path: message"
};

struct LoadResult {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
};

struct LoadOptions {
  // Root of the IANA time zone database (TZif files) that window time zones name.
  std::string zoneinfo_dir = "/usr/share/zoneinfo";
};

// Relative paths (certificates, keys, password files) are resolved against the
// directory of `path`. Checks that referenced files exist and are readable, that
// identities name existing segments, that credentials name existing listeners, and
// that every segment has a credential for every postgres listener it can be reached on.
LoadResult load_config_file(const std::string& path, const LoadOptions& options = {});
// Same, from text; `filename` is used in messages and `base_dir` for relative paths.
LoadResult load_config_string(std::string_view yaml, const std::string& filename,
                              const std::string& base_dir, const LoadOptions& options = {});

}  // namespace segproxy::config
