#pragma once
// The operator's commands (admin socket, docs/admin.md): status, sessions, kill,
// revoke / unrevoke / revocations, reload and audit-checkpoint, each audited as
// admin.<command>. Owns the revocation list and answers the sessions' "revoked?"
// question (RevocationCheck). Runs on the server's control thread; commands may block
// briefly (revocation fsync, audit durability, gathering session states).
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>
#include <memory>
#include <string>

#include "audit/file_sink.hpp"
#include "authz/grants/grant_list.hpp"
#include "authz/revocation_list.hpp"
#include "protocols/admin/admin_protocol.hpp"
#include "daemon/control/admin_server.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/runtime.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {

struct ControlDeps {
  Logger& log;
  SessionRegistry& sessions;
  audit::FileSink* audit = nullptr;   // null: no audit log configured
  ProxyMetrics* metrics = nullptr;    // may be null
  std::function<std::shared_ptr<const Runtime>()> runtime;  // the current generation
  // Server::reload; `trigger` ("sighup", "admin uid=.. pid=..") goes into config.reload.
  std::function<protocols::admin::ReloadResult(const std::string& trigger)> reload;
  std::chrono::steady_clock::time_point started;
  class DynamicCredentials* dynamic = nullptr;  // revoke also drops the identity's minted users
};

class ControlPlane final : public AdminHandler, public RevocationCheck {
 public:
  // `revocations_file` / `grants_file` empty: kept in memory only (no admin socket).
  ControlPlane(ControlDeps deps, std::string revocations_file, std::string grants_file = {});
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Loads persisted revocations (a broken file is an error: the proxy must not start
  // and silently forget who was cut off).
  bool load(std::string& error);

  // AdminHandler
  std::string handle(const protocols::admin::Request& request, const AdminPeer& peer) override;
  void refused(const AdminPeer& peer, std::string_view reason) override;
  // RevocationCheck
  std::optional<std::string> revoked(const authz::ClientIdentity& id, std::string_view segment) const override;

  std::optional<std::string> admission_refused() const override;

  std::size_t revocations_active() const;
  // The fleet control plane (docs/fleet.md): revoke / unrevoke go through etcd and the
  // fleet thread hands every applied set to apply_fleet_set. Set before serving.
  void attach_fleet(class FleetSync* fleet) { fleet_ = fleet; }
  // Makes `set` the revocations in force: persists it, then ends the live sessions
  // (and drops the minted users) matched by every entry that is new or changed.
  // Any thread; FleetSync serialises the calls.
  void apply_fleet_set(std::vector<authz::Revocation> set);
  const authz::RevocationList& list() const { return list_; }
  // Drops expired revocations from the file (they already stopped matching).
  void prune_expired();

  // Emergency grants (daemon/control/control_grants.cpp, docs/admin.md "Break-glass
  // grants"). The sessions' gates read the list (Services::grants).
  const authz::GrantList& grants() const { return grants_; }
  std::size_t grants_active() const;
  // The control thread's expiry timer: removes expired grants, each with an
  // admin.grant_expired record (they already stopped applying at their expiry).
  void expire_grants();
  // With a control plane: grants through etcd (daemon/control/grant_fleet).
  void attach_grant_fleet(class GrantFleet* fleet) { grant_fleet_ = fleet; }
  // Makes `set` the grants in force (the fleet's view): persisted, changes logged.
  void apply_fleet_grants(std::vector<authz::Grant> set);

 private:
  std::string status();
  std::string sessions(const protocols::admin::SessionsRequest& r);
  std::string kill(const protocols::admin::KillRequest& r, const AdminPeer& peer);
  std::string revoke(const protocols::admin::RevokeRequest& r, const AdminPeer& peer);
  std::string unrevoke(const protocols::admin::UnrevokeRequest& r, const AdminPeer& peer);
  std::string revocations();
  std::string reload(const AdminPeer& peer);
  std::string checkpoint(const AdminPeer& peer);
  std::string grant(const protocols::admin::GrantRequest& r, const AdminPeer& peer);
  std::string list_grants();
  std::string ungrant(const protocols::admin::UngrantRequest& r, const AdminPeer& peer);
  // An admin.grant* record carrying the grant id; waits until durable (false: it is not).
  bool audit_grant(const std::string& event, const std::string& peer, const authz::Grant& g);
  // With a control plane: written to etcd (or queued), applied from the watch.
  std::string revoke_fleet(const protocols::admin::RevokeRequest& r, const AdminPeer& peer, std::string value,
                           bool audited);
  std::string unrevoke_fleet(const protocols::admin::UnrevokeRequest& r, const AdminPeer& peer);
  struct Enforced {
    std::size_t sessions = 0;  // live sessions told to end
    std::size_t users = 0;     // minted backend users dropped
    bool dropped = true;       // false: a drop did not finish in time
  };
  // Ends the live sessions `rev` matches and drops the minted users of every identity
  // it reaches (the one enforcement path of the admin socket and the fleet).
  Enforced enforce(const authz::Revocation& rev);
  // Writes an admin.* record and waits until it is durable (false: it is not).
  bool audit_admin(const std::string& event, const AdminPeer& peer, std::string detail, std::string reason = {});

  ControlDeps deps_;
  authz::RevocationList list_;
  authz::GrantList grants_;
  class FleetSync* fleet_ = nullptr;
  class GrantFleet* grant_fleet_ = nullptr;
  std::mutex enforced_mu_;
  std::map<std::string, std::size_t> enforced_;  // revocation id -> sessions ended (bounded)
};

}  // namespace segproxy::proxy
