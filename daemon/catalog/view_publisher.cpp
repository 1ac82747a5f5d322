#include "daemon/catalog/view_publisher.hpp"

#include <optional>

namespace segproxy::proxy {

void ViewPublisher::put(std::size_t listener, const std::string& database,
                        std::shared_ptr<const authz::ViewCatalog> catalog) {
  const std::lock_guard<std::mutex> lock(mu_);
  learned_[{listener, database}] = std::move(catalog);
  if (!rt_->policy) return;
  std::shared_ptr<const authz::ViewCatalog> only;
  std::optional<authz::ViewCatalog> merged;
  for (const auto& [key, c] : learned_) {
    if (key.second != database) continue;
    if (!only && !merged) {
      only = c;
      continue;
    }
    if (!merged) merged.emplace(*only);
    merged->merge(*c);
  }
  if (merged) only = std::make_shared<const authz::ViewCatalog>(std::move(*merged));
  // Unchanged: keep the engine's views_version, so sessions keep their cached decisions.
  if (const auto current = rt_->policy->views(database); current && only && *current == *only) return;
  rt_->policy->set_views(database, std::move(only));
}

bool ViewPublisher::has(std::size_t listener, const std::string& database) const {
  const std::lock_guard<std::mutex> lock(mu_);
  return learned_.count({listener, database}) != 0;
}

}  // namespace segproxy::proxy
