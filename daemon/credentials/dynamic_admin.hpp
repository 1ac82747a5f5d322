#pragma once
// The per-protocol admin side of dynamic credentials (daemon/credentials/dynamic_credentials): one
// blocking admin connection that creates, renews, drops and lists minted users.
// PostgreSQL: daemon/credentials/dynamic_pg_admin (libpq); MySQL/MariaDB: daemon/credentials/dynamic_my_admin
// (Connector/C++). Used only on the service's worker threads (and in stop()).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authz/credential_store.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

// One (segment, listener) with a dynamic credential.
struct DynamicTarget {
  std::string segment;
  config::Listener listener;  // protocol, backend endpoint and TLS of the admin connection
  std::string database;       // database the admin connection opens (postgres: segment's first)
  config::DynamicCredentialConfig settings;
  std::shared_ptr<const authz::Secret> admin_password;
};

// A user with the template prefix and a segproxy marker, as the janitor sees it.
struct LeftoverUser {
  std::string user;
  bool ours = false;                         // marked by this proxy instance
  std::optional<std::int64_t> expires_unix;  // the expiry the server records (role comment / expiry role)
};

class DynamicAdmin {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  enum class Result { Ok, Exists, Gone, Failed };

  virtual ~DynamicAdmin() = default;
  // Creates `user` with `password`, the target's grants and this instance's marker
  // (postgres: also VALID UNTIL `expires`). Exists: the name is taken, nothing changed.
  virtual Result create_user(const std::string& user, const authz::Secret& password, TimePoint expires,
                             std::string& why) = 0;
  // True when the existing `user` carries this instance's marker (a leftover of an
  // earlier run of this instance, safe to replace).
  virtual bool marked_by_this_instance(const std::string& user, std::string& why) = 0;
  // Extends the user's lifetime to `expires` on the server (postgres: VALID UNTIL and
  // comment; mysql: another expiry role) after checking the user still exists. Gone:
  // it does not.
  virtual Result renew_user(const std::string& user, TimePoint expires, std::string& why) = 0;
  // Ends the user's backend sessions and drops it (and what it owns, where possible).
  virtual bool drop_user(const std::string& user, std::string& why) = 0;
  // Users whose name starts with `prefix` and that carry a segproxy marker.
  virtual bool list_leftovers(const std::string& prefix, std::vector<LeftoverUser>& out, std::string& why) = 0;
};

// Connects to the target's backend as its admin user (blocking, bounded by `timeout`).
// nullptr + why (host, port, user; never the password) on failure. `instance` names the
// proxy instance in markers.
std::unique_ptr<DynamicAdmin> connect_dynamic_admin(const DynamicTarget& t, const std::string& instance,
                                                    std::chrono::milliseconds timeout, std::string& why);

// Once per process before worker threads use an admin connection (Connector/C++ driver
// initialisation); per worker thread around its work.
void dynamic_admin_prepare();
void dynamic_admin_thread_begin();
void dynamic_admin_thread_end();

}  // namespace segproxy::proxy
