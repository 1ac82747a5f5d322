// Fuzz target: the YAML configuration loader (config/loader: yaml-cpp, key-by-key
// parsing, validation). The whole input is one configuration file. Checked:
//   load_config_string never throws and never crashes; it returns a Config exactly when
//   it reports no error, and every error says what is wrong.
// Relative paths resolve against a directory that holds nothing, so referenced files
// are "not found" unless the input names an absolute path (which is only checked, never
// read whole: TZif files are read 4 bytes deep, regular files only).
#include <cstdint>
#include <string_view>

#include "config/loader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (64u << 10)) return 0;  // the loader's own input is a file an operator wrote
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  segproxy::config::LoadOptions options;
  options.zoneinfo_dir = "/usr/share/zoneinfo";
  const auto result = segproxy::config::load_config_string(yaml, "fuzz.yaml", "/nonexistent-fuzz-base", options);
  FUZZ_CHECK(result.config.has_value() == result.errors.empty());
  for (const auto& e : result.errors) FUZZ_CHECK(!e.message.empty());
  return 0;
}
