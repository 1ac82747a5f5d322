#pragma once
// Everything a session needs that is derived from one configuration generation:
// immutable after construction and shared (by shared_ptr) with every session started
// under it, so a future reload can swap it without touching live sessions.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "authz/credential_store.hpp"
#include "authz/identity_mapper.hpp"
#include "authz/policy_engine.hpp"
#include "config/config.hpp"
#include "protocols/common/limits.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/log.hpp"

namespace segproxy::proxy {

struct ListenerRuntime {
  const config::Listener* cfg = nullptr;  // points into Runtime::config
  std::unique_ptr<ssl::context> server_tls;
  std::unique_ptr<ssl::context> backend_tls;  // null when backend TLS is disabled
};

struct Runtime {
  config::Config config;
  std::unique_ptr<authz::IdentityMapper> mapper;
  std::unique_ptr<authz::CredentialStore> credentials;
  std::unique_ptr<authz::PolicyEngine> policy;  // the one statement decision point
  std::vector<ListenerRuntime> listeners;
  protocols::Limits limits;

  // Builds TLS contexts and loads secrets; on failure returns null and fills errors.
  static std::shared_ptr<const Runtime> build(config::Config cfg, std::vector<std::string>& errors);
};

// Process-wide services shared by all sessions (owned by the Server, passed down).
struct Services {
  Logger& log;
  CancelRegistry& cancels;
  std::atomic<std::size_t>& active_sessions;
  std::atomic<std::uint64_t>& next_session_id;
  // false only with `segproxy --bench-policy-off` (measurement of the policy's cost):
  // statements are then forwarded unclassified. Never set by configuration.
  bool enforce_policy = true;
};

}  // namespace segproxy::proxy
