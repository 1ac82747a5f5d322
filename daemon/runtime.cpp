#include "daemon/runtime.hpp"

#include "daemon/reload.hpp"
#include "daemon/net/tls_context.hpp"
#include "daemon/process_environment.hpp"
#include "authz/gate/pg_gate.hpp"

namespace segproxy::proxy {

std::shared_ptr<const Runtime> Runtime::build(config::Config cfg, std::vector<std::string>& errors) {
  auto rt = std::make_shared<Runtime>();
  rt->config = std::move(cfg);
  if (!rt->config.source_path.empty()) rt->config_hash = file_sha256_hex(rt->config.source_path);
  rt->mapper = std::make_unique<authz::IdentityMapper>(rt->config.identities);
  rt->environment = process_environment();
  rt->credentials = authz::CredentialStore::load(rt->config, errors, rt->environment);
  try {
    rt->policy = std::make_unique<authz::PolicyEngine>(rt->config);
  } catch (const std::exception& e) {
    errors.push_back(std::string("policy: ") + e.what());
  }
  const auto& lim = rt->config.limits;
  rt->limits.max_startup_packet = lim.max_startup_packet;
  rt->limits.max_frontend_message = lim.max_message_size;
  rt->statement_limits = proxy::statement_limits(lim);
  for (const auto& l : rt->config.listeners) {
    ListenerRuntime lr;
    lr.cfg = &l;
    auto server = make_server_tls_context(l.tls);
    if (!server.context) errors.push_back("listener " + l.name + ": " + server.error);
    lr.server_tls = std::move(server.context);
    auto backend = make_backend_tls_context(l.backend.tls);
    if (!backend.error.empty()) errors.push_back("listener " + l.name + ": " + backend.error);
    lr.backend_tls = std::move(backend.context);
    rt->listeners.push_back(std::move(lr));
  }
  if (!errors.empty() || !rt->credentials || !rt->policy) return nullptr;
  return rt;
}

}  // namespace segproxy::proxy
