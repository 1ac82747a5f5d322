// Dynamic scoped backend credentials: what each job does (worker threads only), through
// the per-protocol admin connection of daemon/credentials/dynamic_admin.hpp. Passwords are never
// logged.
#include <set>

#include "config/name_template.hpp"
#include "daemon/credentials/dynamic_admin.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/credentials/dynamic_pg_sql.hpp"  // format_pg_timestamp (audit text)

namespace segproxy::proxy {
namespace {

std::string unix_text(std::chrono::system_clock::time_point t) {
  return std::to_string(std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch()).count());
}

}  // namespace

void DynamicCredentials::do_mint(const Job& job) {
  const DynamicTarget& t = *job.target;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    const auto it = entries_.find(job.key);
    if (it == entries_.end() || it->second.gen != job.gen) return;  // revoked before it started
  }
  std::string why;
  bool ok = false;
  const auto expires = Clock::now() + dynamic_ttl(t);
  auto conn = connect_dynamic_admin(t, opts_.instance, opts_.connect_timeout, why);
  if (!conn) {
    admin_failed(t, why);
  } else {
    auto r = conn->create_user(job.user, *job.password, expires, why);
    if (r == DynamicAdmin::Result::Exists) {
      // The name exists: a leftover of an earlier run of this instance is replaced,
      // anything else is refused.
      if (conn->marked_by_this_instance(job.user, why)) {
        if (hooks_.close_sessions) hooks_.close_sessions(job.user);
        if (conn->drop_user(job.user, why)) {
          audit("credential.drop", {{"user", job.user}, {"segment", t.segment}, {"listener", t.listener.name},
                                    {"reason", "left by an earlier run"}});
          r = conn->create_user(job.user, *job.password, expires, why);
          if (r == DynamicAdmin::Result::Exists) why = "user \"" + job.user + "\" exists again after dropping it";
        }
      } else {
        why = "user \"" + job.user + "\" already exists and was not made by this proxy instance";
      }
    }
    ok = r == DynamicAdmin::Result::Ok;
  }
  if (ok) {  // audited before anyone can use it
    audit("credential.create", {{"user", job.user}, {"segment", t.segment}, {"listener", t.listener.name},
                                {"identity", std::get<0>(job.key)}, {"expires_at", format_pg_timestamp(expires)},
                                {"expires_unix", unix_text(expires)}});
  }
  std::unique_lock<std::mutex> lock(mu_);
  const auto it = entries_.find(job.key);
  if (it == entries_.end() || it->second.gen != job.gen) {  // revoked while minting
    lock.unlock();
    if (ok) {
      Job drop = job;
      drop.reason = "revoked";
      drop_user(drop);
    }
    return;
  }
  if (!ok) {
    warn("credential.create_failed", job.user, why);
    finish(job.key, "segproxy: cannot mint a backend user for segment \"" + t.segment + "\": " + why);
    users_.erase(it->second.user);
    entries_.erase(it);
    return;
  }
  it->second.state = Entry::State::Ready;
  it->second.expires_at = expires;
  finish(job.key, {});
}

void DynamicCredentials::do_renew(const Job& job) {
  const DynamicTarget& t = *job.target;
  std::string why;
  auto result = DynamicAdmin::Result::Failed;
  const auto expires = Clock::now() + dynamic_ttl(t);
  auto conn = connect_dynamic_admin(t, opts_.instance, opts_.connect_timeout, why);
  if (!conn) admin_failed(t, why);
  else result = conn->renew_user(job.user, expires, why);
  const bool ok = result == DynamicAdmin::Result::Ok;
  if (result == DynamicAdmin::Result::Gone && why.empty()) why = "user \"" + job.user + "\" no longer exists";
  if (ok) {
    audit("credential.renew", {{"user", job.user}, {"segment", t.segment}, {"listener", t.listener.name},
                               {"identity", std::get<0>(job.key)}, {"expires_at", format_pg_timestamp(expires)},
                               {"expires_unix", unix_text(expires)}});
  }
  std::unique_lock<std::mutex> lock(mu_);
  const auto it = entries_.find(job.key);
  if (it == entries_.end() || it->second.gen != job.gen) return;  // revoked: its drop follows
  Entry& e = it->second;
  e.state = Entry::State::Ready;
  if (!ok) {
    warn("credential.renew_failed", job.user, why);
    e.retry_at = Clock::now() + opts_.retry_interval;
    finish(job.key, "segproxy: cannot renew the backend user for segment \"" + t.segment + "\": " + why);
    if (result == DynamicAdmin::Result::Gone) {  // the next acquisition mints again
      users_.erase(e.user);
      entries_.erase(it);
    }
    return;
  }
  e.expires_at = expires;
  finish(job.key, {});
}

void DynamicCredentials::drop_user(const Job& job) {
  const DynamicTarget& t = *job.target;
  if (hooks_.close_sessions) hooks_.close_sessions(job.user);
  std::string why;
  auto conn = connect_dynamic_admin(t, opts_.instance, opts_.connect_timeout, why);
  bool ok = false;
  if (!conn) admin_failed(t, why);
  else ok = conn->drop_user(job.user, why);
  AuditDetails d{{"user", job.user}, {"segment", t.segment}, {"listener", t.listener.name},
                 {"identity", std::get<0>(job.key)}, {"reason", job.reason}};
  if (!ok) {
    // PostgreSQL: its password stops working at VALID UNTIL anyway. Both: the janitor
    // retries the drop (this instance's marker).
    warn("credential.drop_failed", job.user, why);
    d.emplace_back("outcome", "failed");
    d.emplace_back("error", why);
  }
  audit("credential.drop", std::move(d));
}

void DynamicCredentials::do_janitor() {
  std::vector<std::shared_ptr<const DynamicTarget>> targets;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, t] : targets_) targets.push_back(t);
  }
  std::set<std::string> seen;  // one pass per (backend, admin, prefix)
  const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  for (const auto& tp : targets) {
    const DynamicTarget& t = *tp;
    const std::string prefix = config::name_template_prefix(t.settings.name_template);
    const std::string id = t.listener.backend.endpoint.host + "\n" + std::to_string(t.listener.backend.endpoint.port) +
                           "\n" + t.settings.admin_user + "\n" + prefix;
    if (prefix.empty() || !seen.insert(id).second) continue;
    std::string why;
    auto conn = connect_dynamic_admin(t, opts_.instance, opts_.connect_timeout, why);
    std::vector<LeftoverUser> leftovers;
    if (!conn || !conn->list_leftovers(prefix, leftovers, why)) {
      if (!conn) admin_failed(t, why);
      warn("credential.janitor_failed", "", why);
      continue;
    }
    for (const auto& left : leftovers) {
      const std::string& user = left.user;
      const bool expired = left.expires_unix && *left.expires_unix <= now_unix;
      {
        const std::lock_guard<std::mutex> lock(mu_);
        if (users_.count(user) != 0 || busy_.count(user) != 0) continue;  // live in this process
        if (user == t.settings.admin_user) continue;  // never the admin login (config rejects the overlap)
        if (!expired && !left.ours) continue;  // another proxy's live user
        busy_.insert(user);
      }
      if (hooks_.close_sessions) hooks_.close_sessions(user);
      const bool ok = conn->drop_user(user, why);
      {
        const std::lock_guard<std::mutex> lock(mu_);
        busy_.erase(user);
      }
      cv_.notify_all();
      AuditDetails d{{"user", user}, {"segment", t.segment}, {"listener", t.listener.name},
                     {"reason", expired ? "janitor: expired" : "janitor: left by an earlier run"}};
      if (!ok) {
        warn("credential.drop_failed", user, why);
        d.emplace_back("outcome", "failed");
        d.emplace_back("error", why);
      }
      audit("credential.drop", std::move(d));
    }
  }
}

}  // namespace segproxy::proxy
