// Dynamic scoped backend credentials: the libpq work of each job (worker threads only).
// SQL: proxy/dynamic_pg_sql.hpp. Passwords reach the server only as SCRAM verifiers
// and are never logged.
#include <set>

#include "config/name_template.hpp"
#include "proxy/dynamic_credentials.hpp"
#include "proxy/dynamic_pg_admin.hpp"
#include "proxy/dynamic_pg_sql.hpp"

namespace segproxy::proxy {
namespace {

std::unique_ptr<PgAdminConnection> admin_connect(const DynamicTarget& t, std::chrono::milliseconds timeout,
                                                 std::string& why) {
  return PgAdminConnection::connect(t.listener, t.database, t.settings.admin_user, *t.admin_password, timeout,
                                    why);
}

// pg_terminate_backend for every session of `user`, then DROP ROLE IF EXISTS.
bool terminate_and_drop(PgAdminConnection& conn, const std::string& user, std::string& why) {
  PgAdminConnection::Rows rows;
  if (!conn.query(kTerminateSql, user, rows, why)) {
    why = "terminating the sessions of \"" + user + "\": " + why;
    return false;
  }
  const auto sql = drop_role_sql(conn.quoter(), user);
  if (!sql) {
    why = "cannot quote \"" + user + "\"";
    return false;
  }
  if (!conn.exec(*sql, why)) {
    why = "dropping \"" + user + "\": " + why;
    return false;
  }
  return true;
}

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
  std::string sqlstate;
  bool ok = false;
  const auto expires = Clock::now() + dynamic_ttl(t);
  auto conn = admin_connect(t, opts_.connect_timeout, why);
  if (!conn) {
    admin_failed(t, why);
  } else if (const auto verifier = conn->scram_verifier(*job.password, job.user, why)) {
    const auto stmts = create_role_sql(conn->quoter(), job.user, *verifier, format_pg_timestamp(expires),
                                       t.settings.grant_roles, format_marker(opts_.instance, expires));
    if (!stmts) {
      why = "cannot quote the CREATE ROLE statement";
    } else {
      ok = conn->transaction(*stmts, why, &sqlstate);
      if (!ok && sqlstate == "42710") {
        // The name exists: a leftover of an earlier run of this instance is replaced,
        // anything else is refused.
        PgAdminConnection::Rows rows;
        std::optional<Marker> marker;
        if (conn->query(kRoleMarkerSql, job.user, rows, why) && !rows.empty() && rows[0][0]) {
          marker = parse_marker(*rows[0][0]);
        }
        if (marker && marker->instance == opts_.instance) {
          if (hooks_.close_sessions) hooks_.close_sessions(job.user);
          if (terminate_and_drop(*conn, job.user, why)) {
            audit("credential.drop", {{"user", job.user}, {"segment", t.segment}, {"listener", t.listener.name},
                                      {"reason", "left by an earlier run"}});
            ok = conn->transaction(*stmts, why, &sqlstate);
          }
        } else {
          why = "role \"" + job.user + "\" already exists and was not made by this proxy instance";
        }
      }
    }
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
  std::string sqlstate;
  bool ok = false;
  const auto expires = Clock::now() + dynamic_ttl(t);
  auto conn = admin_connect(t, opts_.connect_timeout, why);
  if (!conn) {
    admin_failed(t, why);
  } else if (const auto stmts = renew_role_sql(conn->quoter(), job.user, format_pg_timestamp(expires),
                                               format_marker(opts_.instance, expires))) {
    ok = conn->transaction(*stmts, why, &sqlstate);
  } else {
    why = "cannot quote the ALTER ROLE statement";
  }
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
    if (sqlstate == "42704") {  // the role is gone: the next acquisition mints again
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
  auto conn = admin_connect(t, opts_.connect_timeout, why);
  bool ok = false;
  if (!conn) admin_failed(t, why);
  else ok = terminate_and_drop(*conn, job.user, why);
  AuditDetails d{{"user", job.user}, {"segment", t.segment}, {"listener", t.listener.name},
                 {"identity", std::get<0>(job.key)}, {"reason", job.reason}};
  if (!ok) {
    // Its password stops working at VALID UNTIL anyway; the janitor retries the drop.
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
    auto conn = admin_connect(t, opts_.connect_timeout, why);
    PgAdminConnection::Rows rows;
    if (!conn || !conn->query(kLeftoverRolesSql, prefix, rows, why)) {
      if (!conn) admin_failed(t, why);
      warn("credential.janitor_failed", "", why);
      continue;
    }
    for (const auto& row : rows) {
      if (row.size() < 2 || !row[0] || !row[1]) continue;
      const std::string& user = *row[0];
      const auto marker = parse_marker(*row[1]);
      if (!marker) continue;
      const bool expired = marker->expires_unix <= now_unix;
      const bool ours = marker->instance == opts_.instance;
      {
        const std::lock_guard<std::mutex> lock(mu_);
        if (users_.count(user) != 0 || busy_.count(user) != 0) continue;  // live in this process
        if (!expired && !ours) continue;  // another proxy's live user
        busy_.insert(user);
      }
      if (hooks_.close_sessions) hooks_.close_sessions(user);
      const bool ok = terminate_and_drop(*conn, user, why);
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
