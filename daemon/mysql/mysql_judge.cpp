// MySQL session: the one place where a client command's fate is decided (judge_*):
// statement text through the session's decision cache, the analyzer and the policy
// engine; USE / COM_INIT_DB; KILL QUERY of another session. Called by the command loop
// (daemon/mysql/mysql_relay.cpp).
#include <chrono>
#include <utility>

#include "authz/sql/mysql_classifier.hpp"
#include "daemon/mysql/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
namespace sql = authz::sql;

namespace {
constexpr std::size_t kDecisionCacheMax = 4096;
}  // namespace

MysqlSession::Verdict MysqlSession::judge_sql(std::string_view text, bool prepare) {
  if (!svc_.enforce_policy) {
    Verdict v;
    v.allow = true;
    return v;
  }
  if (sql_options_.current_database != database_) {
    sql_options_.current_database = database_;
    cache_.clear();  // unqualified names now mean another database
  }
  const auto t0 = std::chrono::steady_clock::now();
  // Decision cache: keyed by the literal-free token fingerprint (names kept), per
  // session; emptied when the database, the runtime (reload) or the options change.
  // The window is checked on every hit.
  const std::uint64_t fp = sql::fingerprint_mysql(text, sql_options_);
  // A PREPARE of a text is judged apart from running it (USE cannot be prepared).
  // Learned views change decisions: the engine's views_version is part of the key.
  const std::uint64_t views = rt_->policy->views_version() * 0xc2b2ae3d27d4eb4full;
  const std::uint64_t key = fp == 0 ? 0 : (prepare ? fp ^ 0x9e3779b97f4a7c15ull : fp) ^ views;
  if (key != 0) {
    if (auto it = cache_.find(key); it != cache_.end() && it->second.fingerprint == fp) {
      const auto w = rt_->policy->check_window(segment_, std::chrono::system_clock::now());
      if (!w.allow) return window_closed(w, it->second.command);
      if (svc_.metrics != nullptr) {
        svc_.metrics->policy_evaluation_duration().observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      return check_prepared_names(it->second);
    }
  }
  Verdict v = judge_uncached(text, prepare, t0);
  if (key != 0) {
    if (cache_.size() >= kDecisionCacheMax) cache_.clear();
    cache_.emplace(key, v);
  }
  return check_prepared_names(std::move(v));
}

// A statement checked before (a cached decision, a prepared statement) while the
// segment's window is closed.
MysqlSession::Verdict MysqlSession::window_closed(const authz::Decision& w, std::string command) {
  Verdict v;
  v.code = ER_SPECIFIC_ACCESS_DENIED;
  v.sqlstate = "42000";
  v.message = w.reason;
  v.command = std::move(command);
  return v;
}

MysqlSession::Verdict MysqlSession::judge_uncached(std::string_view text, bool prepare,
                                                  std::chrono::steady_clock::time_point t0) {
  Verdict v;
  const sql::StatementInfo info = sql::classify_mysql(text, sql_options_);
  const authz::Decision d =
      rt_->policy->evaluate(segment_, info, std::chrono::system_clock::now(), database_, authz::PolicyEngine::Windows::Check);
  if (svc_.metrics != nullptr) {
    svc_.metrics->policy_evaluation_duration().observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  v.fingerprint = info.fingerprint;
  v.rule_id = d.rule_id;
  v.prepared_uses = authz::prepared_uses(info);
  if (!info.statements.empty()) v.command = info.statements.front().command;
  if (info.statements.size() == 1 && info.statements.front().klass == sql::StatementClass::Transaction) {
    if (v.command == "ROLLBACK") v.ends = TxnEnd::Rollback;  // not "ROLLBACK TO SAVEPOINT"
    else if (v.command == "COMMIT") v.ends = TxnEnd::Commit;
  }
  bool any_table = false;
  bool lexing_not_last = false;
  std::string use_db;
  for (const auto& part : info.statements) {
    v.changes_lexing = v.changes_lexing || part.changes_lexing;
    lexing_not_last = lexing_not_last || (part.klass == sql::StatementClass::Forbidden &&
                                          part.forbidden_reason == sql::kLexingChangeNotLast);
    for (const auto& t : part.tables) {
      v.tables.push_back(audit::TableAccess{t.schema + "." + t.name, sql::table_op_name(t.op)});
      v.alters = v.alters || t.op == sql::TableOp::Alter;
      any_table = true;
    }
    if (!part.database.empty()) use_db = part.database;
  }
  if (!d.allow) {
    v.allow = false;
    v.sqlstate = "42000";
    v.message = d.reason;
    if (const auto limit = mysql_limit_error(d.sqlstate)) {
      v.code = limit->code;
      v.sqlstate = limit->sqlstate;
    } else if (!info.parse_ok) v.code = ER_PARSE;
    else if (lexing_not_last) v.code = ER_NOT_SUPPORTED;
    else if (any_table && d.sqlstate != "42601") v.code = ER_TABLEACCESS_DENIED;
    else v.code = ER_SPECIFIC_ACCESS_DENIED;
    return v;
  }
  // USE db: the database must be one of the segment's (like the handshake's).
  if (!use_db.empty()) {
    if (prepare) {
      v.code = ER_NOT_SUPPORTED;
      v.sqlstate = "42000";
      v.message = "segproxy: USE cannot be prepared through segproxy";
      return v;
    }
    Verdict db = judge_database(use_db);
    if (!db.allow) return db;
    v.use_database = use_db;
  }
  v.allow = true;
  return v;
}

MysqlSession::Verdict MysqlSession::judge_database(std::string_view db) {
  Verdict v;
  v.command = "USE";
  const auto& dbs = rt_->config.segments.at(segment_).databases;
  if (std::find(dbs.begin(), dbs.end(), db) == dbs.end()) {
    v.code = ER_DBACCESS_DENIED;
    v.sqlstate = "42000";
    v.message = "segproxy: access denied to database '" + std::string(db) + "' for segment \"" + segment_ + "\"";
    return v;
  }
  v.allow = true;
  v.use_database = std::string(db);
  return v;
}

// KILL QUERY n is honoured only for a live session of the same identity (the backend
// user is then the same, so the backend lets this connection kill that query).
MysqlSession::Verdict MysqlSession::judge_kill_query(std::uint32_t target) {
  Verdict v;
  v.command = "KILL QUERY";
  const std::string me = identity_key(identity_);
  bool found = false;
  if (svc_.registry != nullptr) {
    found = svc_.registry->any_matching([&](std::uint64_t, const SessionFacts& f) {
      return f.protocol == "mysql" && f.backend_id == target && identity_key(f.identity) == me &&
             f.listener == listener_->cfg->name;
    });
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
  if (it == prepared_source_.end() || it->second.config_hash == rt_->config_hash) return std::nullopt;
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
