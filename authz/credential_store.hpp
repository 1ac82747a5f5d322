#pragma once
// Scoped backend credentials. Secrets are loaded once (config load / reload), kept only
// in memory, wiped on destruction, and never printed.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authz/environment.hpp"
#include "config/config.hpp"

namespace segproxy::authz {

// Move-only string holder that cleanses its bytes when destroyed.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  const std::string& reveal() const { return value_; }  // use only to authenticate
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

// A static credential (user + password), or a dynamic one: then `user` and `password`
// are EMPTY (a session must never log in with them), `dynamic` holds the settings and
// admin_user / admin_password the login that mints users (daemon/credentials/dynamic_credentials).
struct BackendCredential {
  std::string user;
  Secret password;
  std::optional<config::DynamicCredentialConfig> dynamic;
  std::string admin_user;
  Secret admin_password;
  bool is_dynamic() const { return dynamic.has_value(); }
};

class CredentialStore {
 public:
  // Loads every segment's credentials (for dynamic ones: the admin secret, same rules). password_file: whole file, one trailing
  // "\n" or "\r\n" stripped; password_env: the variable's value as `environment` reports
  // it (the daemon passes proxy::process_environment(); authz never reads the process
  // environment itself; an empty lookup sees no variable). Missing or empty
  // secrets are errors; messages name the segment, listener and source, never the value.
  // Errors are appended to `errors`; when any occurred the result is nullptr (all or
  // nothing: a partially loaded store is never handed out). Password files over 4 KiB
  // are refused.
  static std::unique_ptr<CredentialStore> load(const config::Config& cfg,
                                               std::vector<std::string>& errors,
                                               const EnvironmentLookup& environment);

  // nullptr when the segment has no credential for that listener.
  const BackendCredential* find(const std::string& segment, const std::string& listener) const;

 private:
  std::map<std::pair<std::string, std::string>, BackendCredential> creds_;
};

}  // namespace segproxy::authz
