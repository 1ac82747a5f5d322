#pragma once
// Where the view loaders of one Runtime (PostgreSQL: daemon/catalog/view_loader, MySQL:
// daemon/catalog/mysql_view_loader) put what they learned: the last good catalog per
// (listener, database), merged per database (union) and handed to the PolicyEngine
// (set_views) only when the merged catalog changed, so sessions keep their cached
// decisions across unchanged refreshes. One publisher for both loaders, so a database
// name learned on a postgres and on a mysql listener is never overwritten by the other.
// Thread-safe (each loader calls it from its own thread).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "authz/view_catalog.hpp"
#include "daemon/runtime.hpp"

namespace segproxy::proxy {

class ViewPublisher {
 public:
  explicit ViewPublisher(std::shared_ptr<const Runtime> rt) : rt_(std::move(rt)) {}

  // The catalog of `database` as seen through listener `listener` (an index into
  // Runtime::listeners): stored, merged with the other listeners' and published.
  void put(std::size_t listener, const std::string& database, std::shared_ptr<const authz::ViewCatalog> catalog);
  // Whether a catalog was ever stored for (listener, database) (for log messages).
  bool has(std::size_t listener, const std::string& database) const;

 private:
  std::shared_ptr<const Runtime> rt_;
  mutable std::mutex mu_;
  std::map<std::pair<std::size_t, std::string>, std::shared_ptr<const authz::ViewCatalog>> learned_;
};

}  // namespace segproxy::proxy
