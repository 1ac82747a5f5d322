// SET, DDL and administrative statements of the MySQL analyzer (mysql_analyzer.hpp).
#include <algorithm>

#include "authz/sql/mysql_analyzer.hpp"
#include "authz/sql/mysql_lexing_settings.hpp"

namespace segproxy::authz::sql::mysql {
namespace {

bool in(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view k) { return iequals(w, k); });
}

// Session variables a client may change: formatting, timeouts, isolation, result
// metadata. Lexing-relevant ones are checked separately (charsets, sql_mode).
bool is_session_safe_var(std::string_view v) {
  return in(v, {"autocommit", "time_zone", "transaction_isolation", "tx_isolation", "transaction_read_only",
                "tx_read_only", "character_set_results", "collation_connection", "wait_timeout",
                "interactive_timeout", "net_read_timeout", "net_write_timeout", "net_retry_count",
                "max_execution_time", "max_statement_time", "lock_wait_timeout", "innodb_lock_wait_timeout",
                "session_track_schema", "session_track_state_change", "session_track_system_variables",
                "session_track_transaction_info", "session_track_gtids", "sql_select_limit",
                "sql_safe_updates", "sql_auto_is_null", "sql_big_selects", "sql_buffer_result", "sql_notes",
                "sql_warnings", "sql_quote_show_create", "group_concat_max_len", "div_precision_increment",
                "lc_time_names", "lc_messages", "default_week_format", "profiling", "profiling_history_size",
                "max_sort_length", "max_join_size", "big_tables", "timestamp", "completion_type",
                "resultset_metadata", "query_cache_type", "max_error_count"});
}

bool is_local_engine(std::string_view e) {
  return in(e, {"InnoDB", "MyISAM", "MEMORY", "HEAP", "Aria", "ARCHIVE", "CSV", "BLACKHOLE"});
}

}  // namespace

std::size_t Analyzer::set_stmt(std::size_t i) {
  uses_values_ = true;  // SET classifications depend on the values
  ++i;
  if (is_kw(i, "PASSWORD")) forbid("SET PASSWORD changes account credentials");
  if (is_kw(i, "ROLE") || (is_kw(i, "DEFAULT") && is_kw(i + 1, "ROLE"))) forbid("SET ROLE switches the database identity");
  if (is_kw(i, "STATEMENT")) return set_statement_for(i + 1);
  if (is_kw(i, "RESOURCE")) forbid("SET RESOURCE GROUP is administrative");
  std::size_t j = i;
  if (is_kw(j, "GLOBAL") || is_kw(j, "PERSIST") || is_kw(j, "PERSIST_ONLY")) {
    if (is_kw(j + 1, "TRANSACTION")) forbid("SET GLOBAL TRANSACTION changes the server for every session");
  }
  if (is_kw(j, "SESSION") || is_kw(j, "LOCAL")) ++j;
  if (is_kw(j, "TRANSACTION")) {
    set_class(StatementClass::SessionSafe, "SET TRANSACTION");
    ++j;
    for (;;) {
      if (is_kw(j, "ISOLATION") && is_kw(j + 1, "LEVEL")) {
        j += 2;
        if (is_kw(j, "READ") && (is_kw(j + 1, "UNCOMMITTED") || is_kw(j + 1, "COMMITTED"))) j += 2;
        else if (is_kw(j, "REPEATABLE") && is_kw(j + 1, "READ")) j += 2;
        else if (is_kw(j, "SERIALIZABLE")) j += 1;
        else refuse("unknown isolation level");
      } else if (is_kw(j, "READ") && (is_kw(j + 1, "ONLY") || is_kw(j + 1, "WRITE"))) {
        j += 2;
      } else {
        refuse("SET TRANSACTION: unknown characteristic");
      }
      if (!is_kind(j, TokKind::Comma)) return j;
      ++j;
    }
  }
  bool any_system = false;
  for (;;) {
    bool system = false;
    i = set_assignment(i, system);
    any_system = any_system || system;
    if (!is_kind(i, TokKind::Comma)) break;
    ++i;
  }
  if (any_system) set_class(StatementClass::SessionSafe, "SET");
  else set_class(StatementClass::Dml, "SET");  // user variables only: judged by what the values read
  return i;
}

// MariaDB SET STATEMENT a = v [, ...] FOR stmt: the values hold for that one statement,
// which the server lexes and parses under the session's settings (checked on MariaDB
// 10.11: SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT "a" returns the string 'a').
// The assignments follow the SET allow-list; lexing settings are refused there, since a
// PREPARE / EXECUTE IMMEDIATE inside would parse its text under them. The statement is
// judged as itself.
std::size_t Analyzer::set_statement_for(std::size_t i) {
  for (;;) {
    bool system = false;
    i = set_assignment(i, system);
    if (!system) refuse("SET STATEMENT takes system variables only");
    if (part_.changes_lexing) {
      forbid("SET STATEMENT of sql_mode or a character set is not followed by segproxy (a PREPARE inside would "
             "parse its text under it); SET it for the session instead");
    }
    if (!is_kind(i, TokKind::Comma)) break;
    ++i;
  }
  i = expect_kw(i, "FOR");
  if (is_kw(i, "SET") && is_kw(i + 1, "STATEMENT")) refuse("nested SET STATEMENT");
  return statement(i);
}

std::size_t Analyzer::set_assignment(std::size_t i, bool& system) {
  std::string scope;
  if (is_kw(i, "GLOBAL") || is_kw(i, "PERSIST") || is_kw(i, "PERSIST_ONLY")) {
    forbid("SET " + tok(i).text + " changes the server for every session");
  }
  if (is_kw(i, "SESSION") || is_kw(i, "LOCAL")) ++i;
  // A character set the client switches to: lexing-neutral ones are followed (the session
  // reads character_set_client back after the statement), DEFAULT too (what the server
  // then reports decides); the others are refused here, with their reason.
  const auto charset_value = [&](std::size_t j, const std::string& what) {
    if (!(is_name(j) || is_kind(j, TokKind::String))) forbid(what + ": a character set name is required");
    const std::string cs = ascii_lower(tok(j).text);
    if (cs != "default" && !is_followable_charset(cs)) {
      forbid(what + " " + cs + ": segproxy's analyzer cannot follow this character set (a multibyte character "
             "may end in a backslash or quote byte)");
    }
    return j + 1;
  };
  if (is_kw(i, "NAMES")) {
    system = true;
    part_.changes_lexing = true;
    i = charset_value(i + 1, "SET NAMES");
    if (is_kw(i, "COLLATE")) {
      if (!(is_name(i + 1) || is_kind(i + 1, TokKind::String))) refuse("COLLATE: a collation name is required");
      i += 2;
    }
    return i;
  }
  if ((is_kw(i, "CHARACTER") && is_kw(i + 1, "SET")) || is_kw(i, "CHARSET")) {
    system = true;
    part_.changes_lexing = true;
    return charset_value(i + (is_kw(i, "CHARSET") ? 1 : 2), "SET CHARACTER SET");
  }
  std::string var;
  if (is_kind(i, TokKind::UserVar)) {
    ++i;
  } else {
    system = true;
    if (is_kind(i, TokKind::SysVar)) {
      var = tok(i).text;
      const auto dot = var.find('.');
      if (dot != std::string::npos) {
        const std::string s = var.substr(0, dot);
        if (s == "global" || s == "persist" || s == "persist_only") {
          forbid("SET @@" + s + " changes the server for every session");
        }
        if (s != "session" && s != "local") refuse("structured system variable " + var + " is not supported");
        var = var.substr(dot + 1);
      }
      ++i;
    } else {
      var = ascii_lower(name_text(i));
      ++i;
      if (is_kind(i, TokKind::Dot)) refuse("structured system variable is not supported");
    }
  }
  if (!is_kind(i, TokKind::Op) || (tok(i).text != "=" && tok(i).text != ":=")) refuse("SET: '=' expected");
  const std::size_t value = i + 1;
  i = expr(value, true, nullptr);
  if (!system) return i;
  const bool single = i == value + 1;
  // sql_mode and the character sets: followed, not fixed. The session reads the values
  // the server then uses back before it judges another statement (changes_lexing), so an
  // expression (Connector/J: concat(@@sql_mode, ',STRICT_TRANS_TABLES')) is fine; a
  // literal naming a flag or character set the analyzer cannot follow is refused here.
  if (var == "sql_mode") {
    part_.changes_lexing = true;
    if (single && (is_kind(value, TokKind::String) || is_name(value))) {
      const std::string modes = is_kind(value, TokKind::String) ? string_value(value) : tok(value).text;
      const MysqlSqlMode parsed = parse_mysql_sql_mode(modes);
      if (!parsed.unfollowable.empty() && !iequals(modes, "default")) {
        forbid("sql_mode " + parsed.unfollowable + " cannot be followed by segproxy's analyzer (it changes how "
               "statements are parsed, or is unknown)");
      }
    }
    return i;
  }
  if (var == "character_set_client" || var == "character_set_connection") {
    part_.changes_lexing = true;
    if (single && (is_kind(value, TokKind::String) || is_name(value))) charset_value(value, "SET " + var);
    return i;
  }
  if (is_session_safe_var(var)) return i;
  if (in(var, {"role", "sql_log_bin", "sql_log_off", "pseudo_thread_id", "gtid_next", "foreign_key_checks",
               "unique_checks", "session_authorization"})) {
    forbid("changing " + var + " is never allowed (integrity, identity or logging)");
  }
  forbid("setting variable " + var + " is not in the session allow-list");
}

std::size_t Analyzer::ddl_scan(std::size_t i, std::size_t target, bool alter) {
  int level = 0;
  while (i < e_) {
    const Token& t = toks_[i];
    if (t.kind == TokKind::LParen && level == 0 && !alter && starts_query(i)) {  // ... [AS] (SELECT ...)
      i = query(i, false);
      if (target != std::string::npos) add_op(target, TableOp::Insert);
      continue;
    }
    if (t.kind == TokKind::LParen && is_kind(i + 1, TokKind::LParen)) {  // functional key part ((expr))
      ++level;
      i = paren_group(i + 1, nullptr);
      continue;
    }
    if (t.kind == TokKind::LParen) { ++level; ++i; continue; }
    if (t.kind == TokKind::RParen) { if (--level < 0) refuse("unbalanced parentheses"); ++i; continue; }
    if (t.kind != TokKind::Word) { ++i; continue; }
    if (is_kw(i, "REFERENCES")) { i = table_ref_op(i + 1, TableOp::References); continue; }
    // Expression defaults, CHECK constraints and generated columns run built-in functions
    // (DEFAULT (LOAD_FILE(...)) is legal): report them like any expression.
    if ((is_kw(i, "DEFAULT") || is_kw(i, "CHECK") || is_kw(i, "AS")) && is_kind(i + 1, TokKind::LParen) &&
        !(level == 0 && !alter && starts_query(i + 1))) {
      i = paren_group(i + 1, nullptr);
      continue;
    }
    if (is_kw(i, "DIRECTORY")) forbid("DATA/INDEX DIRECTORY places files on the database server");
    if ((is_kw(i, "CONNECTION") && (is_kind(i + 1, TokKind::String) || is_kind(i + 1, TokKind::Op))) ||
        (is_kw(i, "UNION") && level == 0)) {
      forbid("CONNECTION / UNION table options reach other tables or servers");
    }
    if ((is_kw(i, "ENGINE") || is_kw(i, "TYPE")) && level == 0) {
      std::size_t j = i + 1;
      if (is_kind(j, TokKind::Op) && tok(j).text == "=") ++j;
      const std::string engine = name_text(j);
      if (!is_local_engine(engine)) forbid("storage engine " + engine + " is not allowed (remote or file tables)");
      i = j + 1;
      continue;
    }
    if (alter && level == 0 && is_kw(i, "RENAME") && !is_kw(i + 1, "COLUMN") && !is_kw(i + 1, "INDEX") &&
        !is_kw(i + 1, "KEY")) {
      std::size_t j = i + 1;
      if (is_kw(j, "TO") || is_kw(j, "AS")) ++j;
      i = table_ref_op(j, TableOp::Alter);
      continue;
    }
    if (alter && is_kw(i, "WITH") && is_kw(i + 1, "TABLE")) { i = table_ref_op(i + 2, TableOp::Alter); continue; }
    if (level == 0 && !alter && starts_query(i)) {
      i = query(i, false);
      if (target != std::string::npos) add_op(target, TableOp::Insert);
      continue;
    }
    if (is_kw(i, "SELECT") || is_kw(i, "TABLE") || is_kw(i, "WITH")) {
      if (!(is_kw(i, "WITH") && !starts_query(i))) refuse("a query inside a table definition is not supported");
    }
    ++i;
  }
  if (level != 0) refuse("unbalanced parentheses");
  return i;
}

std::size_t Analyzer::create_stmt(std::size_t i) {
  ++i;
  if (is_kw(i, "OR") && is_kw(i + 1, "REPLACE")) i += 2;
  for (;;) {
    if (is_kw(i, "ALGORITHM") && is_kind(i + 1, TokKind::Op)) { i += 3; continue; }
    if (is_kw(i, "DEFINER")) {
      std::size_t j = i + 1;
      if (is_kind(j, TokKind::Op) && tok(j).text == "=") ++j;
      if (!is_kw(j, "CURRENT_USER")) forbid("DEFINER other than CURRENT_USER runs code as another account");
      i = j + 1;
      if (is_kind(i, TokKind::LParen) && is_kind(i + 1, TokKind::RParen)) i += 2;
      continue;
    }
    if (is_kw(i, "SQL") && is_kw(i + 1, "SECURITY")) { i += 3; continue; }
    if (in(i < e_ ? tok(i).text : "", {"TEMPORARY", "ONLINE", "OFFLINE", "UNIQUE", "FULLTEXT", "SPATIAL"})) { ++i; continue; }
    break;
  }
  const auto if_not_exists = [&](std::size_t j) {
    if (is_kw(j, "IF") && is_kw(j + 1, "NOT") && is_kw(j + 2, "EXISTS")) return j + 3;
    return j;
  };
  if (is_kw(i, "TABLE")) {
    set_class(StatementClass::Ddl, "CREATE TABLE");
    std::string db, name;
    i = table_name(if_not_exists(i + 1), db, name);
    const std::size_t target = add_table(db, name, TableOp::Alter);
    if (is_kw(i, "LIKE")) return table_ref_op(i + 1, TableOp::Select);
    if (is_kind(i, TokKind::LParen) && is_kw(i + 1, "LIKE")) {
      i = table_ref_op(i + 2, TableOp::Select);
      return expect(i, TokKind::RParen, "')'") + 1;
    }
    if (is_kind(i, TokKind::LParen) && starts_query(i)) {
      i = query(i, false);
      add_op(target, TableOp::Insert);
    }
    return ddl_scan(i, target, false);
  }
  if (is_kw(i, "INDEX")) {
    set_class(StatementClass::Ddl, "CREATE INDEX");
    i = if_not_exists(i + 1);
    name_text(i);
    ++i;
    if (is_kw(i, "USING")) i += 2;
    i = expect_kw(i, "ON");
    i = table_ref_op(i, TableOp::Alter);
    return ddl_scan(i, std::string::npos, true);
  }
  if (is_kw(i, "VIEW")) {
    set_class(StatementClass::Ddl, "CREATE VIEW");
    i = table_ref_op(if_not_exists(i + 1), TableOp::Alter);
    if (is_kind(i, TokKind::LParen)) i = match_paren(i);
    i = expect_kw(i, "AS");
    i = query(i, false);
    if (is_kw(i, "WITH")) {
      ++i;
      if (is_kw(i, "CASCADED") || is_kw(i, "LOCAL")) ++i;
      i = expect_kw(expect_kw(i, "CHECK"), "OPTION");
    }
    return i;
  }
  if (is_kw(i, "SEQUENCE")) {
    set_class(StatementClass::Ddl, "CREATE SEQUENCE");
    i = table_ref_op(if_not_exists(i + 1), TableOp::Alter);
    return ddl_scan(i, std::string::npos, false);
  }
  if (in(i < e_ ? tok(i).text : "", {"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "AGGREGATE"})) {
    forbid("stored programs cannot be analysed; create them outside the proxy");
  }
  if (is_kw(i, "DATABASE") || is_kw(i, "SCHEMA")) forbid("database-level DDL is not allowed through segproxy");
  if (is_kw(i, "USER") || is_kw(i, "ROLE")) forbid("account management is never allowed through segproxy");
  forbid("CREATE " + (i < e_ ? tok(i).text : std::string()) + " is never allowed through segproxy");
}

std::size_t Analyzer::alter_stmt(std::size_t i) {
  ++i;
  while (is_kw(i, "ONLINE") || is_kw(i, "IGNORE") || is_kw(i, "OFFLINE")) ++i;
  if (is_kw(i, "TABLE")) {
    set_class(StatementClass::Ddl, "ALTER TABLE");
    i = table_ref_op(i + 1, TableOp::Alter);
    return ddl_scan(i, std::string::npos, true);
  }
  for (;;) {  // ALTER [ALGORITHM=..] [DEFINER=..] [SQL SECURITY ..] VIEW
    if (is_kw(i, "ALGORITHM") && is_kind(i + 1, TokKind::Op)) { i += 3; continue; }
    if (is_kw(i, "DEFINER")) {
      std::size_t j = i + 1;
      if (is_kind(j, TokKind::Op) && tok(j).text == "=") ++j;
      if (!is_kw(j, "CURRENT_USER")) forbid("DEFINER other than CURRENT_USER runs code as another account");
      i = j + 1;
      continue;
    }
    if (is_kw(i, "SQL") && is_kw(i + 1, "SECURITY")) { i += 3; continue; }
    break;
  }
  if (is_kw(i, "VIEW")) {
    set_class(StatementClass::Ddl, "ALTER VIEW");
    i = table_ref_op(i + 1, TableOp::Alter);
    if (is_kind(i, TokKind::LParen)) i = match_paren(i);
    i = query(expect_kw(i, "AS"), false);
    if (is_kw(i, "WITH")) {
      ++i;
      if (is_kw(i, "CASCADED") || is_kw(i, "LOCAL")) ++i;
      i = expect_kw(expect_kw(i, "CHECK"), "OPTION");
    }
    return i;
  }
  if (is_kw(i, "SEQUENCE")) {
    set_class(StatementClass::Ddl, "ALTER SEQUENCE");
    i = table_ref_op(i + 1, TableOp::Alter);
    return ddl_scan(i, std::string::npos, false);
  }
  forbid("ALTER " + (i < e_ ? tok(i).text : std::string()) + " is never allowed through segproxy");
}

std::size_t Analyzer::drop_stmt(std::size_t i) {
  ++i;
  if (is_kw(i, "PREPARE")) {
    set_class(StatementClass::Prepare, "DEALLOCATE PREPARE");
    part_.prepared_name = ascii_lower(name_text(i + 1));
    part_.prepared_effect = PreparedEffect::Deallocate;
    return i + 2;
  }
  i = skip_kw(i, "TEMPORARY");
  const auto if_exists = [&](std::size_t j) { return is_kw(j, "IF") && is_kw(j + 1, "EXISTS") ? j + 2 : j; };
  if (is_kw(i, "TABLE") || is_kw(i, "TABLES") || is_kw(i, "VIEW") || is_kw(i, "SEQUENCE")) {
    set_class(StatementClass::Ddl, "DROP " + ascii_lower(tok(i).text));
    for (char& c : part_.command) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    i = if_exists(i + 1);
    for (;;) {
      i = table_ref_op(i, TableOp::Alter);
      if (!is_kind(i, TokKind::Comma)) break;
      ++i;
    }
    if (is_kw(i, "RESTRICT") || is_kw(i, "CASCADE")) ++i;
    return i;
  }
  if (is_kw(i, "INDEX")) {
    set_class(StatementClass::Ddl, "DROP INDEX");
    i = if_exists(skip_kw(skip_kw(i + 1, "ONLINE"), "OFFLINE"));
    name_text(i);
    i = expect_kw(i + 1, "ON");
    i = table_ref_op(i, TableOp::Alter);
    return ddl_scan(i, std::string::npos, true);
  }
  if (is_kw(i, "DATABASE") || is_kw(i, "SCHEMA")) forbid("database-level DDL is not allowed through segproxy");
  if (is_kw(i, "USER") || is_kw(i, "ROLE")) forbid("account management is never allowed through segproxy");
  if (in(i < e_ ? tok(i).text : "", {"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})) {
    forbid("stored programs are managed outside the proxy");
  }
  forbid("DROP " + (i < e_ ? tok(i).text : std::string()) + " is never allowed through segproxy");
}

std::size_t Analyzer::maintenance_stmt(std::size_t i) {
  set_class(StatementClass::Admin, ascii_lower(tok(i).text));
  for (char& c : part_.command) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  part_.command += " TABLE";
  ++i;
  if (is_kw(i, "NO_WRITE_TO_BINLOG") || is_kw(i, "LOCAL")) ++i;
  if (!is_kw(i, "TABLE") && !is_kw(i, "TABLES")) refuse("TABLE expected");
  ++i;
  for (;;) {
    i = table_ref_op(i, TableOp::Maintain);
    if (!is_kind(i, TokKind::Comma)) break;
    ++i;
  }
  return scan_rest(i);
}

std::size_t Analyzer::simple_admin_stmt(std::size_t i) {
  if (is_kw(i, "KILL")) {
    std::size_t j = i + 1;
    if (is_kw(j, "HARD") || is_kw(j, "SOFT")) ++j;
    if (is_kw(j, "QUERY")) {
      set_class(StatementClass::Admin, "KILL QUERY");
      j = skip_kw(j + 1, "ID");
      return expr(j, false);
    }
    forbid("KILL CONNECTION / KILL USER ends other sessions");
  }
  if (is_kw(i, "CACHE")) {
    set_class(StatementClass::Admin, "CACHE INDEX");
    return scan_rest(i + 1);
  }
  set_class(StatementClass::Admin, "FLUSH");
  ++i;
  if (is_kw(i, "NO_WRITE_TO_BINLOG") || is_kw(i, "LOCAL")) ++i;
  if ((is_kw(i, "TABLES") || is_kw(i, "TABLE")) && is_name(i + 1) && !is_kw(i + 1, "WITH") && !is_kw(i + 1, "FOR")) {
    ++i;
    for (;;) {
      i = table_ref_op(i, TableOp::Maintain);
      if (!is_kind(i, TokKind::Comma)) break;
      ++i;
    }
  }
  return scan_rest(i);
}

}  // namespace segproxy::authz::sql::mysql
