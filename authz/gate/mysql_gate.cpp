#include "authz/gate/mysql_gate.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "authz/gate/mysql_errors.hpp"
#include "authz/sql/mysql_lexing_settings.hpp"
#include "authz/wal/mysql_write_class.hpp"

namespace segproxy::proxy {
namespace sql = authz::sql;

MysqlGate::MysqlGate(const authz::PolicyEngine& engine, std::string segment, const std::vector<std::string>& databases,
                     sql::MysqlClassifierOptions options, bool enforce)
    : engine_(&engine),
      segment_(std::move(segment)),
      databases_(&databases),
      options_(std::move(options)),
      enforce_(enforce),
      views_version_(engine.views_version()) {}

void MysqlGate::rebind(const authz::PolicyEngine& engine, const std::vector<std::string>& databases,
                       sql::StatementLimits limits) {
  engine_ = &engine;
  databases_ = &databases;
  options_.limits = limits;
  views_version_ = engine.views_version();
  cache_.clear();  // decisions of the old policy
  prepared_names_.clear();
}

void MysqlGate::use_database(std::string_view database) {
  if (options_.current_database == database) return;
  options_.current_database = std::string(database);
  cache_.clear();  // unqualified names now mean another database
}

bool MysqlGate::apply_lexing_settings(std::string_view sql_mode, std::string_view charset) {
  const sql::MysqlSqlMode mode = sql::parse_mysql_sql_mode(sql_mode);
  std::string cs(charset.substr(0, 64));
  std::transform(cs.begin(), cs.end(), cs.begin(), [](unsigned char c) { return std::tolower(c); });
  if (cs.empty()) cs = "unknown";
  if (mode.ansi_quotes != options_.ansi_quotes || mode.no_backslash_escapes != options_.no_backslash_escapes ||
      mode.unfollowable != options_.unfollowable_sql_mode || cs != options_.charset) {
    cache_.clear();  // keys already differ (the options are part of the fingerprint): free the old ones
  }
  options_.ansi_quotes = mode.ansi_quotes;
  options_.no_backslash_escapes = mode.no_backslash_escapes;
  options_.unfollowable_sql_mode = mode.unfollowable;
  options_.charset = std::move(cs);
  return mode.unfollowable.empty();
}

MysqlVerdict MysqlGate::check(std::string_view text, bool prepare, std::string_view database, time_point now,
                              const authz::wal::ClassContext* wal) {
  if (!enforce_) {
    MysqlVerdict v;
    v.allow = true;
    return v;
  }
  use_database(database);
  // Learned views change decisions.
  if (const std::uint64_t views = engine_->views_version(); views != views_version_) {
    views_version_ = views;
    cache_.clear();
  }
  // Cached write-ahead classes depend on the catalog they were proven against.
  if (wal != nullptr && wal->usable_catalog() != wal_catalog_) {
    wal_catalog_ = wal->usable_catalog();
    cache_.clear();
  }
  if (grants_.changed()) cache_.clear();  // a new grant may allow what was refused
  // One lexing pass serves everything below (issue 12 review).
  const sql::MysqlText lexed(text, options_);
  if (lexed.invalid_bytes()) return invalid_text(prepare);
  // Keyed by the literal-free token fingerprint (names kept; 0: not cacheable) and
  // whether the text is PREPAREd (judged apart from running it).
  const std::uint64_t fp = lexed.fingerprint();
  char key[sizeof fp + 1];
  std::memcpy(key, &fp, sizeof fp);
  key[sizeof fp] = prepare ? 'P' : 'Q';
  const std::string_view key_view(key, sizeof key);
  if (fp != 0) {
    if (const MysqlVerdict* hit = cache_.find(key_view)) {
      const auto w = engine_->check_window(segment_, now);
      if (!w.allow) return window_closed(w, hit->command);
      return check_prepared_names(*hit);
    }
  }
  MysqlVerdict v = check_uncached(lexed, prepare, now, wal);
  if (fp != 0 && v.grant_id.empty()) cache_.put(std::string(key_view), v);  // a grant's allowance ends with it
  return check_prepared_names(std::move(v));
}

MysqlVerdict MysqlGate::check_field_list(std::string_view table, std::string_view database, time_point now) {
  std::string probe = "SELECT * FROM `";
  for (char c : table) probe += c == '`' ? std::string("``") : std::string(1, c);
  probe += "` WHERE 1 = 0";
  MysqlVerdict v = check(probe, false, database, now);
  v.command = "COM_FIELD_LIST";
  return v;
}

MysqlVerdict MysqlGate::window_closed(const authz::Decision& w, std::string command) {
  MysqlVerdict v;
  v.code = ER_SPECIFIC_ACCESS_DENIED;
  v.sqlstate = "42000";
  v.message = w.reason;
  v.command = std::move(command);
  return v;
}

MysqlVerdict MysqlGate::invalid_text(bool prepare) const {
  MysqlVerdict v;
  v.invalid_text = true;
  v.code = ER_INVALID_CHARACTER_STRING;
  v.sqlstate = "HY000";
  v.command = prepare ? "COM_STMT_PREPARE" : "COM_QUERY";
  v.message = "segproxy: Invalid " + options_.charset + " character string in the statement text (outside string literals)";
  return v;
}

MysqlVerdict MysqlGate::check_uncached(const sql::MysqlText& text, bool prepare, time_point now,
                                       const authz::wal::ClassContext* wal) {
  MysqlVerdict v;
  const sql::StatementInfo info = text.classify();
  const authz::Decision d =
      grants_.decide(*engine_, segment_, info, now, options_.current_database, authz::PolicyEngine::Windows::Check);
  v.fingerprint = info.fingerprint;
  if (wal != nullptr && d.allow) v.wal = authz::wal::mysql_write_classes(info, text, *wal).message;
  v.rule_id = d.rule_id;
  v.shadow_deny = d.shadow_deny;
  v.shadow_rule = d.shadow_rule;
  v.grant_id = d.grant_id;
  v.prepared_uses = authz::prepared_uses(info);
  if (!info.statements.empty()) v.command = info.statements.front().command;
  if (info.statements.size() == 1 && info.statements.front().klass == sql::StatementClass::Transaction) {
    const sql::TransactionEnd ends = info.statements.front().ends;
    if (ends == sql::TransactionEnd::Rollback) v.ends = MysqlTxnEnd::Rollback;
    else if (ends == sql::TransactionEnd::Commit) v.ends = MysqlTxnEnd::Commit;
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
    MysqlVerdict db = check_database(use_db);
    if (!db.allow) return db;
    v.use_database = use_db;
  }
  v.allow = true;
  return v;
}

MysqlVerdict MysqlGate::check_database(std::string_view db) const {
  MysqlVerdict v;
  v.command = "USE";
  if (std::find(databases_->begin(), databases_->end(), db) == databases_->end()) {
    v.code = ER_DBACCESS_DENIED;
    v.sqlstate = "42000";
    v.message = "segproxy: access denied to database '" + std::string(db) + "' for segment \"" + segment_ + "\"";
    return v;
  }
  v.allow = true;
  v.use_database = std::string(db);
  return v;
}

MysqlVerdict MysqlGate::check_prepared_names(MysqlVerdict v) const {
  if (!v.allow || v.prepared_uses.empty()) return v;
  if (auto d = prepared_names_.refuse_unknown(v.prepared_uses)) {
    v.allow = false;
    v.code = ER_SPECIFIC_ACCESS_DENIED;
    v.sqlstate = "42000";
    v.message = d->reason;
    v.rule_id.clear();
    v.shadow_deny = false;
    v.shadow_rule.clear();
  }
  return v;
}

}  // namespace segproxy::proxy
