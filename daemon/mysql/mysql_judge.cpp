// MySQL session: its side of each decision. Statement text, COM_FIELD_LIST and USE /
// COM_INIT_DB are decided by the session's MysqlGate (authz/gate/mysql_gate.hpp: decision
// cache, analyzer, policy engine); here the policy-evaluation metric, KILL QUERY of
// another session (it needs the registry) and COM_STMT_EXECUTE of a statement prepared
// under an earlier configuration. Called by the Idle handler (mysql_relay.cpp).
#include <chrono>
#include <utility>

#include "authz/gate/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
namespace sql = authz::sql;

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

MysqlSession::Verdict MysqlSession::judge_sql(std::string_view text, bool prepare) {
  const auto t0 = Clock::now();
  // The write-ahead class comes from the same analysis (mysql_wal.cpp: wal_context).
  const authz::wal::ClassContext ctx = wal_context();
  Verdict v = gate_->check(text, prepare, database_, std::chrono::system_clock::now(), &ctx);
  if (svc_.enforce_policy && svc_.metrics != nullptr) {
    svc_.metrics->policy_evaluation_duration().observe(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return v;
}

MysqlSession::Verdict MysqlSession::judge_field_list(std::string_view table) {
  const auto t0 = Clock::now();
  Verdict v = gate_->check_field_list(table, database_, std::chrono::system_clock::now());
  if (svc_.enforce_policy && svc_.metrics != nullptr) {
    svc_.metrics->policy_evaluation_duration().observe(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return v;
}

// KILL QUERY n is honoured only for a live session of the same identity (the backend
// user is then the same, so the backend lets this connection kill that query).
MysqlSession::Verdict MysqlSession::judge_kill_query(std::uint32_t target) {
  Verdict v;
  v.command = "KILL QUERY";
  const std::string me = identity_key(identity());
  bool found = false;
  if (svc_.registry != nullptr) {
    const auto same = [&](std::uint64_t, const SessionFacts& f) {
      return f.protocol == "mysql" && f.backend_id == target && identity_key(f.identity()) == me &&
             f.listener == listener_->cfg->name;
    };
    found = svc_.registry->any_matching(same);
    // A command of that session held for its audit record is cancelled in the proxy
    // (never forwarded); one the backend runs is what the KILL itself interrupts.
    if (found) {
      svc_.registry->post_matching(same, [](LiveSession& s) {
        if (auto* m = dynamic_cast<MysqlSession*>(&s)) m->cancel_held();
      });
    }
  }
  if (!found) {
    v.code = ER_NO_SUCH_THREAD_OWNER;
    v.sqlstate = "HY000";
    v.message = "You are not owner of thread " + std::to_string(target);
    return v;
  }
  v.allow = true;
  return v;
}

std::optional<MysqlSession::Verdict> MysqlSession::rejudge_prepared(std::uint32_t id, std::string_view& text) {
  const auto it = prepared_source_.find(id);
  // Prepared only because of an emergency grant: judged at every execution (the grant
  // may have ended, docs/admin.md "Break-glass grants").
  const auto was = prepared_.find(id);
  const bool granted = was != prepared_.end() && !was->second.grant_id.empty();
  if (it == prepared_source_.end() || (it->second.config_hash == rt_->config_hash && !granted)) return std::nullopt;
  PreparedSource& src = it->second;
  text = src.text;
  // Judged as at its PREPARE: names resolve in the database current then.
  std::string current = std::exchange(database_, src.database);
  Verdict again = judge_sql(src.text, true);
  database_ = std::move(current);
  if (!again.allow) return again;
  src.config_hash = rt_->config_hash;  // allowed under this configuration: not judged again
  if (auto p = prepared_.find(id); p != prepared_.end()) p->second = again;
  return std::nullopt;
}

}  // namespace segproxy::proxy
