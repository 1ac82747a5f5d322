#include "daemon/runtime.hpp"

#include "daemon/reload.hpp"
#include "daemon/net/tls_context.hpp"
#include "daemon/process_environment.hpp"
#include "authz/gate/pg_gate.hpp"
#include "tls/crl_file.hpp"

namespace segproxy::proxy {

std::shared_ptr<const Runtime> Runtime::build(config::Config cfg, const authz::sql::SipKey& statement_hash_key,
                                              std::vector<std::string>& errors) {
  auto rt = std::make_shared<Runtime>();
  rt->config = std::move(cfg);
  rt->statement_hash_key = statement_hash_key;
  if (!rt->config.source_path.empty()) rt->config_hash = file_sha256_hex(rt->config.source_path);
  rt->mapper = std::make_unique<authz::IdentityMapper>(rt->config.identities);
  rt->environment = process_environment();
  rt->credentials = authz::CredentialStore::load(rt->config, errors, rt->environment);
  try {
    rt->policy = std::make_unique<authz::PolicyEngine>(rt->config);
  } catch (const std::exception& e) {
    errors.push_back(std::string("policy: ") + e.what());
  }
  rt->wal_catalogs.configure(rt->config);
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
    if (!l.tls.crl.empty()) lr.crl_next_update = tls::read_crl_file(l.tls.crl).next_update;
    auto backend = make_backend_tls_context(l.backend.tls);
    if (!backend.error.empty()) errors.push_back("listener " + l.name + ": " + backend.error);
    lr.backend_tls = std::move(backend.context);
    rt->listeners.push_back(std::move(lr));
  }
  if (!errors.empty() || !rt->credentials || !rt->policy) return nullptr;
  return rt;
}

std::vector<std::pair<std::string, double>> crl_next_update_seconds(const Runtime& rt,
                                                                    std::chrono::system_clock::time_point now) {
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::vector<std::pair<std::string, double>> out;
  for (const auto& l : rt.listeners) {
    if (l.crl_next_update) out.emplace_back(l.cfg->name, static_cast<double>(*l.crl_next_update - now_s));
  }
  return out;
}

}  // namespace segproxy::proxy
