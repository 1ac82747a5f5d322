#include "daemon/session/runtime_fit.hpp"

#include <algorithm>

#include "daemon/runtime.hpp"

namespace segproxy::proxy {

std::string runtime_misfit(const Runtime& rt, const SessionFit& s) {
  auto match = rt.mapper->map(s.identity);
  if (!match) return "identity \"" + s.identity.display() + "\" is no longer mapped to any segment";
  if (match->segment != s.segment) {
    return "identity \"" + s.identity.display() + "\" now maps to segment \"" + match->segment + "\"; reconnect";
  }
  auto seg = rt.config.segments.find(s.segment);
  if (seg == rt.config.segments.end()) return "segment \"" + s.segment + "\" no longer exists";
  const auto& dbs = seg->second.databases;
  if (!s.database.empty() && std::find(dbs.begin(), dbs.end(), s.database) == dbs.end()) {
    return "database \"" + s.database + "\" is no longer permitted for segment \"" + s.segment + "\"";
  }
  const bool has_listener = std::any_of(rt.listeners.begin(), rt.listeners.end(),
                                        [&](const ListenerRuntime& l) { return l.cfg->name == s.listener; });
  if (!has_listener) return "listener \"" + s.listener + "\" no longer exists";
  const auto* cred = rt.credentials->find(s.segment, s.listener);
  if (cred == nullptr || cred->is_dynamic() != s.dynamic_credential ||
      (!s.dynamic_credential && cred->user != s.backend_user)) {
    return "the backend credential of segment \"" + s.segment + "\" changed";
  }
  return {};
}

bool adopt_runtime(std::shared_ptr<const Runtime>& current, const ListenerRuntime*& listener,
                   std::shared_ptr<const Runtime> next) {
  const ListenerRuntime* found = nullptr;
  for (const auto& l : next->listeners) {
    if (l.cfg->name == listener->cfg->name) found = &l;
  }
  if (found == nullptr) return false;
  current = std::move(next);  // may free the old Runtime: nothing of it is used below
  listener = found;
  return true;
}

}  // namespace segproxy::proxy
