#pragma once
// Everything a session needs that is derived from one configuration generation:
// immutable after construction and shared (by shared_ptr) with every session started
// under it, so a future reload can swap it without touching live sessions.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "audit/sink.hpp"
#include "authz/credential_store.hpp"
#include "authz/grants/grant_list.hpp"
#include "authz/identity_mapper.hpp"
#include "authz/policy_engine.hpp"
#include "authz/sql/statement_hash.hpp"
#include "authz/sql/statement_limits.hpp"
#include "config/config.hpp"
#include "protocols/common/limits.hpp"
#include "daemon/catalog/wal_catalogs.hpp"
#include "daemon/net/address_limits.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/cancel_registry.hpp"
#include "daemon/log.hpp"

namespace segproxy::proxy {

struct ListenerRuntime {
  const config::Listener* cfg = nullptr;  // points into Runtime::config
  std::unique_ptr<ssl::context> server_tls;
  std::unique_ptr<ssl::context> backend_tls;  // null when backend TLS is disabled
  // The earliest nextUpdate (seconds since the epoch) of the CRLs in tls.crl as this
  // generation read them (tls/crl_file); nullopt without a CRL or when none carries one.
  std::optional<std::int64_t> crl_next_update;
};

// Sessions call it after DDL they let through has taken effect, so learned view
// dependencies are refreshed (the PostgreSQL and the MySQL view loaders subscribe; a
// no-op until one does). The loaders' own connections see only committed catalog rows:
// PostgreSQL sessions call it when the backend reports ReadyForQuery with status 'I'
// after a DDL statement (not at CommandComplete inside a transaction block); MySQL
// sessions when the response to a DDL statement arrived (MySQL DDL commits implicitly).
// Thread-safe and non-blocking: every subscriber only flags a coalesced refresh.
class DdlHook {
 public:
  using Token = std::uint64_t;  // 0 is never handed out

  // Calls every subscriber (under the hook's lock, so detach() never returns while its
  // function still runs: subscribers must not block and must not attach or detach).
  void operator()() const {
    const std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [token, fn] : subscribers_) fn();
  }
  // Subscribes `fn` (an empty function is ignored: returns 0).
  Token attach(std::function<void()> fn) const {
    if (!fn) return 0;
    const std::lock_guard<std::mutex> lock(mu_);
    const Token token = next_token_++;
    subscribers_.emplace_back(token, std::move(fn));
    return token;
  }
  // Unsubscribes; unknown tokens (and 0) are ignored. Once it returns, the function is
  // not running and will not be called again.
  void detach(Token token) const {
    const std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(subscribers_, [token](const auto& s) { return s.first == token; });
  }
  std::size_t subscribers() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return subscribers_.size();
  }

 private:
  mutable std::mutex mu_;
  mutable Token next_token_ = 1;
  mutable std::vector<std::pair<Token, std::function<void()>>> subscribers_;
};

struct Runtime {
  config::Config config;
  std::unique_ptr<authz::IdentityMapper> mapper;
  std::unique_ptr<authz::CredentialStore> credentials;
  // How this generation reads environment variables (password_env): the process
  // environment (daemon/process_environment), read by nothing below the daemon itself.
  authz::EnvironmentLookup environment;
  std::unique_ptr<authz::PolicyEngine> policy;  // the one statement decision point
  std::vector<ListenerRuntime> listeners;
  protocols::Limits limits;
  authz::sql::StatementLimits statement_limits;  // config limits: SQL classification bounds
  DdlHook on_ddl;  // call after DDL the session let through: refreshes learned views
  // The write-ahead catalogs (daemon/catalog/wal_catalogs.hpp): what sessions read per
  // statement (current(listener, database)) to build their authz::wal::ClassContext;
  // filled by the WalCatalogLoaders, on the views' schedule and after DDL (on_ddl).
  WalCatalogs wal_catalogs;
  std::string config_hash;  // SHA-256 of the config file (the "config version")
  // The key of both classifiers' statement fingerprints (decision-cache keys, the audit
  // record's `fingerprint`): drawn once per process (daemon/main.cpp) and handed from
  // each Runtime to the next at reload, so fingerprints stay comparable for the
  // process's lifetime (authz/sql/statement_hash.hpp).
  authz::sql::SipKey statement_hash_key{};

  // Builds TLS contexts and loads secrets; on failure returns null and fills errors.
  static std::shared_ptr<const Runtime> build(config::Config cfg, const authz::sql::SipKey& statement_hash_key,
                                              std::vector<std::string>& errors);
};

// segproxy_crl_next_update_seconds: per listener with a CRL, seconds from `now` to its
// nextUpdate (negative once passed).
std::vector<std::pair<std::string, double>> crl_next_update_seconds(const Runtime& rt,
                                                                    std::chrono::system_clock::time_point now);

// "Is this identity revoked for this segment now?" (the admin layer implements it over
// authz::RevocationList). Thread-safe; called once per new session.
class RevocationCheck {
 public:
  virtual ~RevocationCheck() = default;
  // The revocation's reason (possibly empty) when one matches, else nullopt.
  virtual std::optional<std::string> revoked(const authz::ClientIdentity& id, std::string_view segment) const = 0;
  // Why no new session may start now (the fleet control plane's view is stale and
  // `on_stale: refuse_new_sessions`, docs/fleet.md), else nullopt.
  virtual std::optional<std::string> admission_refused() const { return std::nullopt; }
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
  // The audit log; null when the configuration has no `audit:` section.
  audit::AuditSink* audit = nullptr;
  // The write-ahead wait of the session's I/O thread (daemon/session/audit_waiter.hpp):
  // one per worker, null when `audit` is null (and in tests that build no server).
  class AuditWaiter* audit_waiter = nullptr;
  class SessionRegistry* registry = nullptr;  // live sessions (shutdown, kill, revoke, reload)
  const RevocationCheck* revocations = nullptr;  // null: no admin socket configured
  // Emergency grants (authz/grants): handed to each session's gate; null: none.
  const authz::GrantList* grants = nullptr;
  class ProxyMetrics* metrics = nullptr;  // never null in the server; may be in tests
  class DynamicCredentials* dynamic = nullptr;  // null: no dynamic credential configured
  AddressLimits* address_limits = nullptr;  // null in tests: no per-address caps
  // MySQL stall probes: the per-backend cap (one at a time) and their metrics
  // (daemon/mysql/backend_probes.hpp); null in tests: every silent session probes alone.
  class BackendProbes* probes = nullptr;
  // This connection's hold on its source address's counts (null in tests); the session
  // calls logged_in() when its relay starts.
  std::shared_ptr<AddressLimits::Lease> address{};
  // Where client TLS handshakes compute (daemon/net/handshake_threads.hpp); null: on the
  // session's own I/O thread (`handshake_threads: 0`, and tests that build no server).
  class HandshakeThreads* handshakes = nullptr;
};

}  // namespace segproxy::proxy
