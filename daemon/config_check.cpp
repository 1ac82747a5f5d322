#include "daemon/config_check.hpp"

#include "config/loader.hpp"

namespace segproxy::proxy {

std::shared_ptr<const Runtime> load_runtime(const std::string& path, std::ostream& err) {
  auto loaded = config::load_config_file(path);
  if (!loaded.errors.empty() || !loaded.config) {
    for (const auto& e : loaded.errors) err << e.to_string() << "\n";
    if (loaded.errors.empty()) err << path << ": configuration could not be loaded\n";
    return nullptr;
  }
  std::vector<std::string> errors;
  auto rt = Runtime::build(std::move(*loaded.config), errors);
  for (const auto& e : errors) err << path << ": " << e << "\n";
  return rt;
}

}  // namespace segproxy::proxy
