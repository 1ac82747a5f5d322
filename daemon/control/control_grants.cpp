// Emergency grants on the admin socket (docs/admin.md "Break-glass grants"): grant,
// grants, ungrant, the expiry timer's work and the fleet's applied set. Every change is
// audited (admin.grant, admin.ungrant, admin.grant_expired: the record's grant_id names
// the grant); a grant that cannot be audited is not made (it opens access: fail closed),
// an ungrant is applied even then (it closes access) and the operator is told.
#include <algorithm>

#include "authz/grants/grant.hpp"
#include "daemon/control/control_plane.hpp"
#include "daemon/control/grant_fleet.hpp"
#include "protocols/admin/admin_grants.hpp"

namespace segproxy::proxy {
namespace admin = protocols::admin;
namespace {

std::optional<authz::GrantKind> grant_kind(admin::SelectorKind k) {
  switch (k) {
    case admin::SelectorKind::Identity: return authz::GrantKind::Identity;
    case admin::SelectorKind::SpiffePrefix: return authz::GrantKind::SpiffePrefix;
    case admin::SelectorKind::Segment: return authz::GrantKind::Segment;
    case admin::SelectorKind::CertSerial: break;
  }
  return std::nullopt;
}

admin::SelectorKind wire_kind(authz::GrantKind k) {
  switch (k) {
    case authz::GrantKind::Identity: return admin::SelectorKind::Identity;
    case authz::GrantKind::SpiffePrefix: return admin::SelectorKind::SpiffePrefix;
    case authz::GrantKind::Segment: return admin::SelectorKind::Segment;
  }
  return admin::SelectorKind::Identity;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

admin::GrantInfo to_wire(const authz::Grant& g) {
  return admin::GrantInfo{g.id,
                          wire_kind(g.kind),
                          g.value,
                          join(g.scope.tables),
                          authz::operation_names(g.scope.ops),
                          authz::statement_class_names(g.scope.statements),
                          g.reason,
                          g.created_at,
                          g.expires_at,
                          g.created_by_uid};
}

// "identity=X tables=a,b ops=select statements=ddl expires_at=..." for records and logs.
std::string grant_detail(const authz::Grant& g) {
  std::string d = std::string(authz::to_string(g.kind)) + "=" + g.value + " tables=" + join(g.scope.tables) +
                  " ops=" + authz::operation_names(g.scope.ops);
  if (g.scope.statements != 0) d += " statements=" + authz::statement_class_names(g.scope.statements);
  return d + " expires_at=" + protocols::format_time(g.expires_at);
}

std::string peer_of(const AdminPeer& p) {
  return "uid=" + std::to_string(static_cast<long long>(p.uid)) + " pid=" + std::to_string(p.pid);
}

}  // namespace

std::size_t ControlPlane::grants_active() const { return grants_.active_count(std::chrono::system_clock::now()); }

bool ControlPlane::audit_grant(const std::string& event, const std::string& peer, const authz::Grant& g) {
  if (deps_.audit == nullptr) return true;
  audit::AuditRecord r;
  r.event = event;
  r.detail = (peer.empty() ? std::string() : peer + " ") + grant_detail(g);
  r.reason = g.reason;
  r.grant_id = g.id;
  return deps_.audit->submit(std::move(r)).wait();
}

std::string ControlPlane::grant(const admin::GrantRequest& r, const AdminPeer& peer) {
  const auto rt = deps_.runtime ? deps_.runtime() : nullptr;
  const std::chrono::seconds max_ttl =
      rt && rt->config.admin ? rt->config.admin->max_grant_ttl : std::chrono::seconds(4 * 3600);
  const auto kind = grant_kind(r.selector.kind);
  if (!kind) return admin::encode_error("grant not made: a grant names an identity, a spiffe_prefix or a segment");
  if (r.reason.empty()) return admin::encode_error("grant not made: a grant needs a reason (--reason)");
  if (const std::string why = authz::check_grant_ttl(r.ttl, max_ttl); !why.empty()) {
    return admin::encode_error("grant not made: " + why);
  }
  std::string why;
  auto scope = authz::parse_grant_scope(r.tables, r.ops, r.statements, why);
  if (!scope) return admin::encode_error("grant not made: " + why);
  if (*kind == authz::GrantKind::Segment && rt && rt->config.segments.count(r.selector.value) == 0) {
    return admin::encode_error("grant not made: no segment \"" + r.selector.value + "\" is configured");
  }
  authz::Grant g;
  g.id = authz::new_grant_id(*grants_.snapshot());
  g.kind = *kind;
  g.value = r.selector.value;
  g.scope = std::move(*scope);
  g.reason = r.reason;
  g.created_at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  g.expires_at = g.created_at + *r.ttl;
  g.created_by_uid = static_cast<std::uint32_t>(peer.uid);
  if (!audit_grant("admin.grant", peer_of(peer), g)) {
    return admin::encode_error("the audit log is unavailable: grant not made");
  }
  std::optional<admin::FleetWrite> fleet;
  if (grant_fleet_ != nullptr) {
    const GrantFleet::WriteResult w = grant_fleet_->put(g);
    if (!w.ok) {
      deps_.log.error("admin.grant_failed", {{"id", g.id}, {"error", w.error}});
      return admin::encode_error("grant not made: the fleet control plane (etcd) did not take it: " + w.error);
    }
    fleet = admin::FleetWrite{static_cast<std::uint64_t>(w.revision), false};
    grant_fleet_->wait_applied(w.revision);
  } else {
    auto u = grants_.add(g);
    if (!u.ok) {
      deps_.log.error("admin.grant_failed", {{"id", g.id}, {"error", u.error}});
      return admin::encode_error("grant not saved: " + u.error);
    }
  }
  deps_.log.warn("admin.grant", {{"id", g.id}, {"grant", grant_detail(g)}, {"reason", g.reason}, {"peer", peer_of(peer)}});
  return admin::encode_response(admin::GrantResult{to_wire(g), fleet});
}

std::string ControlPlane::list_grants() {
  admin::GrantsResult out;
  const auto now = std::chrono::system_clock::now();
  for (const auto& g : *grants_.snapshot()) {
    if (g.active_at(now)) out.grants.push_back(to_wire(g));
  }
  return admin::encode_response(out);
}

std::string ControlPlane::ungrant(const admin::UngrantRequest& r, const AdminPeer& peer) {
  const auto cur = grants_.snapshot();
  const auto it = std::find_if(cur->begin(), cur->end(), [&](const authz::Grant& g) { return g.id == r.id; });
  if (it == cur->end()) return admin::encode_error("no such grant: " + r.id);
  const authz::Grant g = *it;
  const bool audited = audit_grant("admin.ungrant", peer_of(peer), g);
  std::optional<admin::FleetWrite> fleet;
  if (grant_fleet_ != nullptr) {
    const GrantFleet::WriteResult w = grant_fleet_->remove(g.id);
    if (w.ok) {
      fleet = admin::FleetWrite{static_cast<std::uint64_t>(w.revision), false};
      grant_fleet_->wait_applied(w.revision);
    } else {
      // Closed here at once; the other instances keep it until etcd takes the delete
      // (retried by the expiry timer) or its TTL ends.
      deps_.log.error("admin.ungrant_fleet_failed", {{"id", g.id}, {"error", w.error}});
    }
  }
  auto u = grants_.remove(g.id);  // idempotent when the watch removed it already
  if (!u.ok) return admin::encode_error("grant list not saved: " + u.error);
  deps_.log.warn("admin.ungrant", {{"id", g.id}, {"peer", peer_of(peer)}});
  if (!audited) deps_.log.error("admin.ungrant_unaudited", {{"id", g.id}});
  return admin::encode_response(admin::UngrantResult{to_wire(g), fleet});
}

void ControlPlane::expire_grants() {
  auto u = grants_.prune_expired(std::chrono::system_clock::now());
  if (!u.ok) deps_.log.warn("grants.prune_failed", {{"error", u.error}});
  for (const auto& g : u.changed) {
    deps_.log.info("grant.expired", {{"id", g.id}, {"grant", grant_detail(g)}});
    if (!audit_grant("admin.grant_expired", "", g)) deps_.log.error("admin.grant_expired_unaudited", {{"id", g.id}});
    if (grant_fleet_ != nullptr) grant_fleet_->remove(g.id);  // etcd's lease ends it too
  }
}

void ControlPlane::apply_fleet_grants(std::vector<authz::Grant> set) {
  const auto now = std::chrono::system_clock::now();
  std::erase_if(set, [now](const authz::Grant& g) { return !g.active_at(now); });
  std::sort(set.begin(), set.end(), [](const authz::Grant& a, const authz::Grant& b) { return a.id < b.id; });
  const auto cur = grants_.snapshot();
  for (const auto& g : set) {
    if (std::find(cur->begin(), cur->end(), g) == cur->end()) {
      deps_.log.warn("grant.applied", {{"id", g.id}, {"grant", grant_detail(g)}, {"reason", g.reason}});
    }
  }
  for (const auto& old : *cur) {
    const bool kept = std::any_of(set.begin(), set.end(), [&](const authz::Grant& g) { return g.id == old.id; });
    if (!kept) deps_.log.info("grant.lifted", {{"id", old.id}});
  }
  auto u = grants_.replace(std::move(set));
  if (!u.ok) deps_.log.error("fleet.grants_save_failed", {{"error", u.error}});
}

}  // namespace segproxy::proxy
