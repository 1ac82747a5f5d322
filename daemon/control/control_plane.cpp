#include "daemon/control/control_plane.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include <openssl/rand.h>

#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/control/admin_mapping.hpp"
#include "daemon/control/fleet_sync.hpp"

#include "daemon/config_check.hpp"

namespace segproxy::proxy {
namespace admin = protocols::admin;
namespace {

constexpr std::chrono::milliseconds kListTimeout{2000};
// How long a revoke waits for the minted users it ends to be dropped on the backend.
constexpr std::chrono::milliseconds kRevokeDropWait{15000};
// How long a fleet revoke waits for its own watch to deliver the write.
constexpr std::chrono::milliseconds kFleetApplyWait{3000};

std::string random_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char bytes[6] = {};
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<unsigned char>(t >> (8 * i));
  }
  std::string id;
  for (const unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xF]);
  }
  return id;
}

std::string peer_text(const AdminPeer& p) {
  return "uid=" + std::to_string(static_cast<long long>(p.uid)) + " pid=" + std::to_string(p.pid);
}

std::string selector_text(const admin::Selector& s) {
  return std::string(admin::selector_key(s.kind)) + "=" + s.value;
}

}  // namespace

ControlPlane::ControlPlane(ControlDeps deps, std::string revocations_file, std::string grants_file)
    : deps_(std::move(deps)), list_(std::filesystem::path(revocations_file)), grants_(std::filesystem::path(grants_file)) {}

bool ControlPlane::load(std::string& error) { return list_.load(error) && grants_.load(error); }

std::optional<std::string> ControlPlane::revoked(const authz::ClientIdentity& id, std::string_view segment) const {
  if (auto r = list_.find_match(id, segment, std::chrono::system_clock::now())) return r->reason;
  return std::nullopt;
}

std::size_t ControlPlane::revocations_active() const {
  return list_.active_count(std::chrono::system_clock::now());
}

void ControlPlane::prune_expired() {
  auto u = list_.prune_expired(std::chrono::system_clock::now());
  if (!u.ok) deps_.log.warn("revocations.prune_failed", {{"error", u.error}});
  for (const auto& r : u.changed) {
    deps_.log.info("revocation.expired", {{"id", r.id}, {"kind", std::string(authz::to_string(r.kind))}});
  }
}

void ControlPlane::refused(const AdminPeer& peer, std::string_view reason) {
  deps_.log.warn("admin.refused", {{"peer", peer_text(peer)}, {"reason", std::string(reason)}});
  audit_admin("admin.refused", peer, "", std::string(reason));
}

bool ControlPlane::audit_admin(const std::string& event, const AdminPeer& peer, std::string detail,
                               std::string reason) {
  if (deps_.audit == nullptr) return true;
  audit::AuditRecord r;
  r.event = event;
  r.detail = peer_text(peer) + (detail.empty() ? "" : " " + detail);
  r.reason = std::move(reason);
  // The sink answers every submission (durable, refused or failed); no timeout needed.
  return deps_.audit->submit(std::move(r)).wait();
}

std::string ControlPlane::handle(const admin::Request& request, const AdminPeer& peer) {
  return std::visit(
      [&](const auto& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, admin::StatusRequest>) return status();
        else if constexpr (std::is_same_v<T, admin::SessionsRequest>) return sessions(r);
        else if constexpr (std::is_same_v<T, admin::KillRequest>) return kill(r, peer);
        else if constexpr (std::is_same_v<T, admin::RevokeRequest>) return revoke(r, peer);
        else if constexpr (std::is_same_v<T, admin::UnrevokeRequest>) return unrevoke(r, peer);
        else if constexpr (std::is_same_v<T, admin::RevocationsRequest>) return revocations();
        else if constexpr (std::is_same_v<T, admin::ReloadRequest>) return reload(peer);
        else if constexpr (std::is_same_v<T, admin::GrantRequest>) return grant(r, peer);
        else if constexpr (std::is_same_v<T, admin::GrantsRequest>) return list_grants();
        else if constexpr (std::is_same_v<T, admin::UngrantRequest>) return ungrant(r, peer);
        else return checkpoint(peer);
      },
      request);
}

std::string ControlPlane::status() {
  const auto rt = deps_.runtime();
  admin::StatusInfo s;
  s.version = kVersion;
  s.uptime_seconds = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - deps_.started).count());
  s.config_version = rt->config_hash;
  s.config_path = rt->config.source_path;
  for (const auto& [segment, n] : deps_.sessions.admitted_by_segment()) {
    s.sessions_by_segment.emplace_back(segment, n);
    s.sessions_active += n;
  }
  s.revocations_active = revocations_active();
  for (const auto& l : rt->config.listeners) {
    s.listeners.push_back(admin::ListenerInfo{l.name, l.protocol == config::Protocol::Postgres ? "postgres" : "mysql",
                                              l.listen.host + ":" + std::to_string(l.listen.port)});
  }
  return admin::encode_response(s);
}

std::string ControlPlane::sessions(const admin::SessionsRequest& r) {
  auto filter = [&](std::uint64_t, const SessionFacts& f) {
    if (r.segment && f.segment != *r.segment) return false;
    if (r.identity && !authz::identity_matches(*r.identity, f.identity())) return false;
    return true;
  };
  admin::SessionsResult out;
  for (auto& l : deps_.sessions.list(filter, kListTimeout)) {
    admin::SessionInfo s;
    s.id = std::to_string(l.id);
    s.identity = l.facts.identity().display();
    s.spiffe_id = l.facts.identity().spiffe_id;
    s.cn = l.facts.identity().cn;
    s.segment = l.facts.segment;
    s.listener = l.facts.listener;
    s.protocol = l.facts.protocol;
    s.client_addr = l.facts.client_addr;
    s.database = l.facts.database;
    s.backend_user = l.facts.backend_user;
    s.started = l.facts.started;
    if (l.state) {
      s.current_statement = l.state->current_statement;
      s.bytes_in = l.state->bytes_in;
      s.bytes_out = l.state->bytes_out;
    }
    out.sessions.push_back(std::move(s));
  }
  return admin::encode_response(out);
}

std::string ControlPlane::kill(const admin::KillRequest& r, const AdminPeer& peer) {
  std::uint64_t id = 0;
  const auto* end = r.session_id.data() + r.session_id.size();
  if (std::from_chars(r.session_id.data(), end, id).ptr != end || id == 0) {
    return admin::encode_error("session id must be a positive number: " + r.session_id);
  }
  if (!audit_admin("admin.kill", peer, "session_id=" + r.session_id)) {
    return admin::encode_error("the audit log is unavailable: command not executed");
  }
  const auto ids = deps_.sessions.post_matching(
      [id](std::uint64_t sid, const SessionFacts&) { return sid == id; },
      [](LiveSession& s) { s.terminate("57P01", "terminating connection due to administrator command", Termination::Close); });
  if (ids.empty()) return admin::encode_error("no such session: " + r.session_id);
  deps_.log.info("admin.kill", {{"session", r.session_id}, {"peer", peer_text(peer)}});
  return admin::encode_response(admin::KillResult{r.session_id});
}

std::string ControlPlane::revoke(const admin::RevokeRequest& r, const AdminPeer& peer) {
  // Whom does it reach? Every identity admitted since start (bounded memory) with the
  // segments it was admitted to; a configured segment counts for --segment.
  authz::Revocation probe;
  probe.kind = from_wire(r.selector.kind);
  std::string why;
  const auto value = authz::normalize_revocation_value(probe.kind, r.selector.value, why);
  if (!value) return admin::encode_error("revocation not saved: " + why);
  probe.value = *value;
  const auto reached = deps_.sessions.seen().matching(
      [&probe](const authz::ClientIdentity& id, const std::string& segment) {
        return authz::matches(probe, id, segment);
      });
  const auto rt = deps_.runtime ? deps_.runtime() : nullptr;
  const bool configured_segment =
      probe.kind == authz::RevocationKind::Segment && rt && rt->config.segments.count(probe.value) != 0;
  if (reached.empty() && !configured_segment && !r.force) {
    // Most likely a typo: nothing recorded, and the operator is told (--force records it).
    refused(peer, "revoke " + selector_text(r.selector) + ": matched no identity");
    return admin::encode_error("revoke " + selector_text(r.selector) +
                               " matched no identity seen since the proxy started: not recorded (check the value "
                               "against `segproxyctl sessions`, or add --force to record it anyway)");
  }
  // Audited first: an emergency brake that cannot be recorded is still applied (the
  // refusal of new sessions is itself fail-closed), but the operator is told.
  const bool audited = audit_admin("admin.revoke", peer,
                                   selector_text(r.selector) +
                                       (r.ttl ? " ttl=" + admin::format_duration(*r.ttl) : std::string()) +
                                       (r.force ? " force" : ""),
                                   r.reason);
  if (fleet_ != nullptr) return revoke_fleet(r, peer, *value, audited);
  auto u = list_.add(from_wire(r.selector.kind), r.selector.value, r.reason, r.ttl,
                     static_cast<std::uint32_t>(peer.uid), std::chrono::system_clock::now());
  if (!u.ok || u.changed.empty()) return admin::encode_error("revocation not saved: " + u.error);
  const authz::Revocation rev = u.changed.front();
  const Enforced e = enforce(rev);
  deps_.log.warn("admin.revoke", {{"id", rev.id},
                                  {"selector", selector_text(r.selector)},
                                  {"sessions_terminated", std::to_string(e.sessions)},
                                  {"minted_users_dropped", std::to_string(e.users)},
                                  {"peer", peer_text(peer)}});
  if (!audited) deps_.log.error("admin.revoke_unaudited", {{"id", rev.id}});
  return admin::encode_response(admin::RevokeResult{to_wire(rev), e.sessions, std::nullopt});
}

ControlPlane::Enforced ControlPlane::enforce(const authz::Revocation& rev) {
  Enforced out;
  const std::string message = "terminating connection: access revoked by segproxy administrator" +
                              (rev.reason.empty() ? std::string() : ": " + rev.reason);
  std::set<std::string> keys;  // dynamic-credential identity keys reached
  const auto ids = deps_.sessions.post_matching(
      [&rev, &keys](std::uint64_t, const SessionFacts& f) {
        if (!authz::matches(rev, f.identity(), f.segment)) return false;
        keys.insert(dynamic_identity_key(f.identity()));
        return true;
      },
      [message](LiveSession& s) { s.terminate("57P01", message, Termination::Revoked); });
  out.sessions = ids.size();
  // The minted backend users of every reached identity go now, live session or not,
  // and the command answers after they are dropped (bounded wait).
  if (deps_.dynamic != nullptr) {
    const auto reached = deps_.sessions.seen().matching(
        [&rev](const authz::ClientIdentity& id, const std::string& segment) { return authz::matches(rev, id, segment); });
    for (const auto& s : reached) keys.insert(dynamic_identity_key(s.identity));
    // An identity selector revokes the identity in every segment; --segment every
    // minted user of that segment.
    const bool by_segment = rev.kind == authz::RevocationKind::Segment;
    out.users = deps_.dynamic->revoke_matching(
        [&](const std::string& key, const std::string& segment) {
          return by_segment ? segment == rev.value : keys.count(key) != 0;
        },
        kRevokeDropWait, &out.dropped);
  }
  if (!out.dropped) deps_.log.error("admin.revoke_drop_pending", {{"id", rev.id}});
  {
    std::lock_guard lk(enforced_mu_);
    if (enforced_.size() >= 1024) enforced_.clear();  // answers read theirs at once
    enforced_[rev.id] = out.sessions;
  }
  return out;
}

std::string ControlPlane::unrevoke(const admin::UnrevokeRequest& r, const AdminPeer& peer) {
  if (!audit_admin("admin.unrevoke", peer, selector_text(r.selector))) {
    return admin::encode_error("the audit log is unavailable: command not executed");
  }
  if (fleet_ != nullptr) return unrevoke_fleet(r, peer);
  auto u = list_.remove(from_wire(r.selector.kind), r.selector.value);
  if (!u.ok) return admin::encode_error("revocation list not saved: " + u.error);
  admin::UnrevokeResult out;
  for (const auto& rev : u.changed) out.removed.push_back(to_wire(rev));
  deps_.log.info("admin.unrevoke", {{"selector", selector_text(r.selector)},
                                    {"removed", std::to_string(out.removed.size())},
                                    {"peer", peer_text(peer)}});
  return admin::encode_response(out);
}

std::string ControlPlane::revoke_fleet(const admin::RevokeRequest& r, const AdminPeer& peer, std::string value,
                                       bool audited) {
  authz::Revocation rev;
  rev.id = random_id();
  rev.kind = from_wire(r.selector.kind);
  rev.value = std::move(value);
  rev.reason = r.reason;
  rev.created_at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (r.ttl) rev.expires_at = rev.created_at + *r.ttl;
  rev.created_by_uid = static_cast<std::uint32_t>(peer.uid);
  // etcd first (answers once the quorum has it); every instance, this one included,
  // applies it from its watch. Unreachable: applied here at once and queued.
  const FleetSync::WriteResult w = fleet_->write(FleetOp{FleetOp::Type::Put, rev});
  if (!w.queued && !w.expired) fleet_->wait_applied(w.revision, kFleetApplyWait);
  fleet_->apply_current();  // idempotent: usually the watch applied it already
  std::size_t sessions = 0;
  {
    std::lock_guard lk(enforced_mu_);
    if (auto it = enforced_.find(rev.id); it != enforced_.end()) {
      sessions = it->second;
      enforced_.erase(it);
    }
  }
  deps_.log.warn("admin.revoke", {{"id", rev.id},
                                  {"selector", selector_text(r.selector)},
                                  {"sessions_terminated", std::to_string(sessions)},
                                  {"fleet_revision", std::to_string(w.revision)},
                                  {"queued", w.queued ? "true" : "false"},
                                  {"peer", peer_text(peer)}});
  if (!audited) deps_.log.error("admin.revoke_unaudited", {{"id", rev.id}});
  return admin::encode_response(admin::RevokeResult{
      to_wire(rev), sessions, admin::FleetWrite{static_cast<std::uint64_t>(w.revision), w.queued}});
}

std::string ControlPlane::unrevoke_fleet(const admin::UnrevokeRequest& r, const AdminPeer& peer) {
  const auto kind = from_wire(r.selector.kind);
  std::string why;
  const auto value = authz::normalize_revocation_value(kind, r.selector.value, why);
  if (!value) return admin::encode_error("revocation list not saved: " + why);
  admin::UnrevokeResult out;
  for (const auto& rev : *list_.snapshot()) {
    if (rev.kind == kind && rev.value == *value) out.removed.push_back(to_wire(rev));
  }
  authz::Revocation gone;
  gone.kind = kind;
  gone.value = *value;
  const FleetSync::WriteResult w = fleet_->write(FleetOp{FleetOp::Type::Delete, gone});
  if (!w.queued) fleet_->wait_applied(w.revision, kFleetApplyWait);
  fleet_->apply_current();
  out.fleet = admin::FleetWrite{static_cast<std::uint64_t>(w.revision), w.queued};
  deps_.log.info("admin.unrevoke", {{"selector", selector_text(r.selector)},
                                    {"removed", std::to_string(out.removed.size())},
                                    {"fleet_revision", std::to_string(w.revision)},
                                    {"queued", w.queued ? "true" : "false"},
                                    {"peer", peer_text(peer)}});
  return admin::encode_response(out);
}

void ControlPlane::apply_fleet_set(std::vector<authz::Revocation> set) {
  const auto now = std::chrono::system_clock::now();
  std::erase_if(set, [now](const authz::Revocation& r) { return !r.active_at(now); });
  const auto cur = list_.snapshot();
  std::vector<authz::Revocation> added;
  for (const auto& r : set) {
    if (std::find(cur->begin(), cur->end(), r) == cur->end()) added.push_back(r);
  }
  std::size_t lifted = 0;
  for (const auto& old : *cur) {
    const bool kept = std::any_of(set.begin(), set.end(), [&](const authz::Revocation& r) {
      return r.kind == old.kind && r.value == old.value;
    });
    if (kept) continue;
    ++lifted;
    deps_.log.info("revocation.lifted", {{"id", old.id}, {"kind", std::string(authz::to_string(old.kind))}});
  }
  if (added.empty() && lifted == 0) return;
  // New handshakes are refused once the list is published (after it is on disk).
  auto u = list_.replace(std::move(set));
  if (!u.ok) deps_.log.error("fleet.revocations_save_failed", {{"error", u.error}});
  for (const auto& r : added) {
    const Enforced e = enforce(r);
    deps_.log.warn("revocation.applied", {{"id", r.id},
                                          {"kind", std::string(authz::to_string(r.kind))},
                                          {"sessions_terminated", std::to_string(e.sessions)},
                                          {"minted_users_dropped", std::to_string(e.users)}});
  }
}

std::optional<std::string> ControlPlane::admission_refused() const {
  if (fleet_ == nullptr || fleet_->settings().on_stale != config::OnStale::RefuseNewSessions || !fleet_->stale()) {
    return std::nullopt;
  }
  const auto age = static_cast<long long>(fleet_->staleness_seconds());
  return "segproxy: the fleet control plane (etcd) has not confirmed this instance's revocations for " +
         std::to_string(age) + "s (max_staleness " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(fleet_->settings().max_staleness).count()) +
         "s, on_stale: refuse_new_sessions): new sessions are refused";
}

std::string ControlPlane::revocations() {
  prune_expired();
  admin::RevocationsResult out;
  const auto now = std::chrono::system_clock::now();
  for (const auto& rev : *list_.snapshot()) {
    if (rev.active_at(now)) out.revocations.push_back(to_wire(rev));
  }
  return admin::encode_response(out);
}

std::string ControlPlane::reload(const AdminPeer& peer) {
  return admin::encode_response(deps_.reload("admin " + peer_text(peer)));
}

std::string ControlPlane::checkpoint(const AdminPeer& peer) {
  if (deps_.audit == nullptr) return admin::encode_error("no audit log is configured");
  audit_admin("admin.audit-checkpoint", peer, "");
  auto cp = deps_.audit->force_checkpoint(std::chrono::seconds(10));
  if (!cp) return admin::encode_error("the audit log is unavailable: no checkpoint written");
  return admin::encode_response(admin::CheckpointResult{cp->seq, cp->head_hash});
}

}  // namespace segproxy::proxy
