#pragma once
// The operator's commands (admin socket, docs/admin.md): status, sessions, kill,
// revoke / unrevoke / revocations, reload and audit-checkpoint, each audited as
// admin.<command>. Owns the revocation list and answers the sessions' "revoked?"
// question (RevocationCheck). Runs on the server's control thread; commands may block
// briefly (revocation fsync, audit durability, gathering session states).
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "audit/file_sink.hpp"
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
  // `revocations_file` empty: revocations live in memory only (no admin socket).
  ControlPlane(ControlDeps deps, std::string revocations_file);
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

  std::size_t revocations_active() const;
  // Drops expired revocations from the file (they already stopped matching).
  void prune_expired();

 private:
  std::string status();
  std::string sessions(const protocols::admin::SessionsRequest& r);
  std::string kill(const protocols::admin::KillRequest& r, const AdminPeer& peer);
  std::string revoke(const protocols::admin::RevokeRequest& r, const AdminPeer& peer);
  std::string unrevoke(const protocols::admin::UnrevokeRequest& r, const AdminPeer& peer);
  std::string revocations();
  std::string reload(const AdminPeer& peer);
  std::string checkpoint(const AdminPeer& peer);
  // Writes an admin.* record and waits until it is durable (false: it is not).
  bool audit_admin(const std::string& event, const AdminPeer& peer, std::string detail, std::string reason = {});

  ControlDeps deps_;
  authz::RevocationList list_;
};

}  // namespace segproxy::proxy
