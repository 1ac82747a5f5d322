#pragma once
// Dynamic scoped backend credentials (issue 7, PostgreSQL and MySQL): the proxy mints one
// short-lived backend user per (identity, segment, listener), shares it between that
// identity's sessions, renews it before expiry while sessions hold a lease on it, and
// drops it at expiry (no lease left), on revoke_identity() and at stop(). A janitor
// (at start and every janitor_interval) drops users with the template prefix and the
// proxy's marker that expired or that an earlier run of this instance left.
// The backend work is per protocol behind daemon/credentials/dynamic_admin.hpp (PostgreSQL: libpq,
// role comment marker + VALID UNTIL; MySQL: Connector/C++, marker role, expiry kept by
// the proxy).
//
// Threading: acquire()/revoke_identity()/request_janitor()/set_targets() are
// thread-safe and never block on the network; all admin work runs on the service's
// own worker threads (1-2). Results are posted to the executor given to acquire().
// Hooks are called on worker threads (close_sessions before a user's backends are
// terminated and the role dropped; audit for credential.create|renew|drop;
// admin_failure for the metric) and must be thread-safe and quick.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "authz/credential_store.hpp"
#include "authz/identity.hpp"
#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/credentials/dynamic_admin.hpp"
#include "daemon/log.hpp"

namespace segproxy::proxy {

// Smallest ttl the C++ API accepts (the config requires >= 1m; tests use seconds).
inline constexpr std::chrono::seconds kMinDynamicTtl{1};

// Effective lifetime (>= kMinDynamicTtl) and renewal margin (< ttl; else ttl / 2).
std::chrono::milliseconds dynamic_ttl(const DynamicTarget& t);
std::chrono::milliseconds dynamic_renew_before(const DynamicTarget& t);

// Every dynamic credential of postgres and mysql listeners in `cfg` (admin secrets from `store`).
std::vector<DynamicTarget> dynamic_targets(const config::Config& cfg, const authz::CredentialStore& store);

// The identity key users are minted for: the SPIFFE id, else the certificate SHA-256.
std::string dynamic_identity_key(const authz::ClientIdentity& id);

struct MintedCredential {
  std::string user;
  std::shared_ptr<const authz::Secret> password;  // 32 random bytes, hex
  std::chrono::system_clock::time_point expires_at;
  // Hold it for the session's lifetime: while any lease of a user is alive it is renewed.
  std::shared_ptr<const void> lease;
};

struct AcquireResult {
  std::optional<MintedCredential> credential;
  std::string error;  // set when !credential; safe to show (no secrets)
  bool ok() const { return credential.has_value(); }
};

using AuditDetails = std::vector<std::pair<std::string, std::string>>;

struct DynamicCredentialHooks {
  // Close every client session logged in to the backend as `backend_user`.
  std::function<void(const std::string& backend_user)> close_sessions;
  // event: "credential.create" | "credential.renew" | "credential.drop"
  // (details: user, segment, listener, identity, expires_at, reason, error ...).
  std::function<void(std::string_view event, const AuditDetails& details)> audit;
  // The admin connection of (segment, listener) failed (metric).
  std::function<void(const std::string& segment, const std::string& listener)> admin_failure;
};

struct DynamicCredentialOptions {
  std::string instance = "segproxy";  // marker instance: tells this proxy's leftovers apart
  std::size_t workers = 1;            // clamped to 1..2
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds janitor_interval{60000};
  std::chrono::milliseconds retry_interval{5000};  // after a failed renewal
  Logger* log = nullptr;                           // optional
};

class DynamicCredentials {
 public:
  DynamicCredentials(std::vector<DynamicTarget> targets, DynamicCredentialOptions options,
                     DynamicCredentialHooks hooks);
  ~DynamicCredentials();  // stop(true)
  DynamicCredentials(const DynamicCredentials&) = delete;
  DynamicCredentials& operator=(const DynamicCredentials&) = delete;

  // Starts the workers; the first janitor pass runs at once.
  void start();
  // Reload: new acquisitions use `targets`; minted users keep the target they were made with.
  void set_targets(std::vector<DynamicTarget> targets);

  using Callback = std::function<void(AcquireResult)>;
  // Non-blocking. The callback runs on `ex` with the identity's user (minted once for
  // concurrent first calls, renewed first when close to expiry) or an error.
  void acquire(const std::string& listener, const std::string& segment, const std::string& identity_key,
               asio::any_io_executor ex, Callback done);
  // Closes the sessions of, terminates and drops every user of the identity (async).
  void revoke_identity(const std::string& identity_key);
  // Revocation: the same for every user whose (identity key, segment) passes `match`,
  // whether or not a session holds it; then waits (at most `wait`) until those users
  // are dropped (or their drop failed). Returns how many users it revoked; `finished`
  // (optional) says whether every drop was done within `wait`.
  using RevokeMatch = std::function<bool(const std::string& identity_key, const std::string& segment)>;
  std::size_t revoke_matching(const RevokeMatch& match, std::chrono::milliseconds wait, bool* finished = nullptr);
  // One more janitor pass soon (async).
  void request_janitor();
  // Stops the workers; then (drop_minted) closes sessions of, terminates and drops every
  // user still minted (blocking, bounded by connect timeouts). Idempotent.
  void stop(bool drop_minted = true);
  // Test hook: stop as a crash would (nothing dropped; the next janitor cleans up).
  void abandon() { stop(false); }

  std::size_t minted_count() const;

 private:
  using Clock = std::chrono::system_clock;
  using Key = std::tuple<std::string, std::string, std::string>;  // identity, segment, listener
  struct Waiter {
    asio::any_io_executor ex;
    Callback done;
  };
  struct Entry {
    std::string identity;
    std::string user;
    std::shared_ptr<const DynamicTarget> target;
    std::shared_ptr<const authz::Secret> password;
    Clock::time_point expires_at{};
    Clock::time_point retry_at{};
    enum class State { Minting, Ready, Renewing } state = State::Minting;
    std::weak_ptr<const void> lease;
    std::vector<Waiter> waiters;
    std::uint64_t gen = 0;  // tells a re-minted entry of the same key from this one
  };
  enum class JobKind { Mint, Renew, Drop, Janitor };
  struct Job {
    JobKind kind = JobKind::Janitor;
    Key key;
    std::string user;  // "" for the janitor
    std::shared_ptr<const DynamicTarget> target;
    std::shared_ptr<const authz::Secret> password;
    std::string reason;  // drop: expired | revoked | shutdown
    std::uint64_t gen = 0;
  };

  void run();
  void schedule_due(Clock::time_point now);
  std::optional<Clock::time_point> next_wake() const;
  std::optional<Job> take_job();
  void run_job(const Job& job);
  void do_mint(const Job& job);
  void do_renew(const Job& job);
  void drop_user(const Job& job);
  void do_janitor();
  void finish(const Key& key, const std::string& error);  // deliver to waiters (locked)
  MintedCredential credential_of(Entry& e);               // locked
  void admin_failed(const DynamicTarget& t, const std::string& why);
  void audit(std::string_view event, AuditDetails details);
  void warn(std::string_view event, const std::string& user, const std::string& error);

  DynamicCredentialOptions opts_;
  DynamicCredentialHooks hooks_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const DynamicTarget>> targets_;
  std::map<Key, Entry> entries_;
  std::map<std::string, Key> users_;  // minted name -> owner (live entries)
  std::deque<Job> jobs_;
  std::set<std::string> busy_;  // user names (and "#janitor") being worked on
  std::uint64_t generation_ = 0;
  Clock::time_point next_janitor_{};
  bool janitor_queued_ = false;
  bool stop_ = false;
  bool started_ = false;
  std::vector<std::thread> workers_;
};

// co_await-able acquire: `auto r = co_await async_acquire(svc, l, s, key, use_awaitable);`
template <class Token>
auto async_acquire(DynamicCredentials& svc, const std::string& listener, const std::string& segment,
                   const std::string& identity_key, asio::any_io_executor ex, Token&& token) {
  return asio::async_initiate<Token, void(AcquireResult)>(
      [&svc, listener, segment, identity_key, ex](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        svc.acquire(listener, segment, identity_key, ex, [h](AcquireResult r) { (*h)(std::move(r)); });
      },
      token);
}

}  // namespace segproxy::proxy
