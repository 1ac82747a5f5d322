#include "daemon/config_check.hpp"

#include "authz/rule_lint.hpp"
#include "config/loader.hpp"

namespace segproxy::proxy {

std::shared_ptr<const Runtime> load_runtime(const std::string& path, const authz::sql::SipKey& statement_hash_key,
                                            std::ostream& err) {
  auto loaded = config::load_config_file(path);
  if (!loaded.errors.empty() || !loaded.config) {
    for (const auto& e : loaded.errors) err << e.to_string() << "\n";
    if (loaded.errors.empty()) err << path << ": configuration could not be loaded\n";
    return nullptr;
  }
  authz::print_rules_granting_nothing(*loaded.config, path, err);
  std::vector<std::string> errors;
  auto rt = Runtime::build(std::move(*loaded.config), statement_hash_key, errors);
  for (const auto& e : errors) err << path << ": " << e << "\n";
  return rt;
}

void log_rule_warnings(const config::Config& cfg, Logger& log) {
  for (const auto& w : authz::rules_granting_nothing(cfg)) {
    const std::string where = cfg.source_path + ":" + std::to_string(w.line);
    log.warn("config.rule_grants_nothing", {{"file", where},
                                            {"segment", w.segment},
                                            {"rule", w.rule_id},
                                            {"pattern", w.pattern},
                                            {"reason", w.reason}});
  }
}

}  // namespace segproxy::proxy
