// PREPARE / EXECUTE, EXPLAIN / DESCRIBE, SHOW, HANDLER and LOCK TABLES of the MySQL
// analyzer (mysql_analyzer.hpp).
#include <algorithm>

#include "authz/sql/mysql_analyzer.hpp"

namespace segproxy::authz::sql::mysql {
namespace {

bool in(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view k) { return iequals(w, k); });
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

}  // namespace

void Analyzer::classify_inner_text(const std::string& text) {
  if (nesting_ >= 2) refuse("prepared statement text nested too deeply");
  MysqlClassifierOptions inner_opts = opts_;
  inner_opts.current_database = current_db_;
  const StatementInfo info = analyse_text(text, inner_opts, nesting_ + 1);
  if (!info.parse_ok) refuse("prepared text: " + info.parse_error);
  if (info.statements.size() != 1) refuse("prepared text must be exactly one statement");
  const StatementPart& inner = info.statements.front();
  part_.tables.insert(part_.tables.end(), inner.tables.begin(), inner.tables.end());
  for (const auto& f : inner.functions) add_function(f.schema, f.name);
  part_.locks_rows = part_.locks_rows || inner.locks_rows;
  part_.changes_lexing = part_.changes_lexing || inner.changes_lexing;  // EXECUTE IMMEDIATE 'SET sql_mode ...'
  if (inner.klass == StatementClass::Forbidden || inner.klass == StatementClass::Unknown) {
    throw Refusal{inner.klass, "prepared " + inner.command + ": " + inner.forbidden_reason};
  }
  if (!inner.database.empty() || !inner.prepared_name.empty()) refuse("prepared text cannot be " + inner.command);
  if (inner.klass != StatementClass::Dml) part_.klass = inner.klass;
}

std::size_t Analyzer::prepare_stmt(std::size_t i) {
  set_class(StatementClass::Prepare, "PREPARE");
  part_.prepared_name = ascii_lower(name_text(i + 1));
  part_.prepared_effect = PreparedEffect::Prepare;
  i = expect_kw(i + 2, "FROM");
  if (is_kind(i, TokKind::UserVar)) forbid("PREPARE from a user variable cannot be checked");
  if (!is_kind(i, TokKind::String) || i + 1 != e_) forbid("PREPARE from an expression cannot be checked");
  classify_inner_text(string_value(i));
  part_.changes_lexing = false;  // preparing changes nothing; its EXECUTE may
  return i + 1;
}

std::size_t Analyzer::execute_stmt(std::size_t i) {
  if (is_kw(i + 1, "IMMEDIATE")) {  // MariaDB
    set_class(StatementClass::Prepare, "EXECUTE IMMEDIATE");
    i += 2;
    if (!is_kind(i, TokKind::String) || (i + 1 != e_ && !is_kw(i + 1, "USING"))) {
      forbid("EXECUTE IMMEDIATE of an expression cannot be checked");
    }
    classify_inner_text(string_value(i));
    ++i;
  } else {
    set_class(StatementClass::Prepare, "EXECUTE");
    part_.changes_lexing = true;  // the prepared text may be a SET sql_mode / NAMES: read back after it
    part_.prepared_name = ascii_lower(name_text(i + 1));
    part_.prepared_effect = PreparedEffect::Execute;
    i += 2;
  }
  if (is_kw(i, "USING")) i = expr_list(i + 1);
  return i;
}

std::size_t Analyzer::explain_stmt(std::size_t i, bool analyze) {
  const bool describe_word = !analyze;
  ++i;
  if (describe_word && is_name(i) && !starts_query(i) &&
      !in(tok(i).text, {"INSERT", "REPLACE", "UPDATE", "DELETE", "ANALYZE", "FORMAT", "EXTENDED", "PARTITIONS",
                        "FOR", "WITH"})) {
    set_class(StatementClass::Dml, "DESCRIBE");
    i = table_ref_op(i, TableOp::Select);
    if (is_name(i) || is_kind(i, TokKind::String)) ++i;  // column name or wildcard
    return i;
  }
  for (;;) {
    if (is_kw(i, "EXTENDED") || is_kw(i, "PARTITIONS") || is_kw(i, "ANALYZE")) { ++i; continue; }
    if (is_kw(i, "FORMAT") && is_kind(i + 1, TokKind::Op) && tok(i + 1).text == "=" &&
        (is_name(i + 2) || is_kind(i + 2, TokKind::String))) {
      i += 3;
      continue;
    }
    break;
  }
  if (is_kw(i, "FOR") && is_kw(i + 1, "CONNECTION")) {
    set_class(StatementClass::Admin, "EXPLAIN FOR CONNECTION");
    return expr(i + 2, false);
  }
  if (!(starts_query(i) || is_kw(i, "INSERT") || is_kw(i, "REPLACE") || is_kw(i, "UPDATE") || is_kw(i, "DELETE"))) {
    refuse("EXPLAIN of this statement is not supported");
  }
  i = statement(i);
  if (part_.klass != StatementClass::Dml) refuse("EXPLAIN of a non-DML statement");
  set_class(StatementClass::Explain, analyze ? "ANALYZE" : "EXPLAIN");
  return i;
}

std::size_t Analyzer::like_or_where(std::size_t i) {
  if (is_kw(i, "LIKE")) {
    if (!is_kind(i + 1, TokKind::String)) refuse("LIKE: a string was expected");
    return i + 2;
  }
  if (is_kw(i, "WHERE")) return expr(i + 1, false);
  return i;
}

std::size_t Analyzer::show_stmt(std::size_t i) {
  ++i;
  const auto info_schema = [&](const char* table, const char* cmd) {
    set_class(StatementClass::Dml, cmd);
    add_table("information_schema", table, TableOp::Select);
  };
  const auto db_clause = [&](std::size_t j) {
    if (is_kw(j, "FROM") || is_kw(j, "IN")) { name_text(j + 1); j += 2; }
    return like_or_where(j);
  };
  if (is_kw(i, "GLOBAL") || is_kw(i, "SESSION") || is_kw(i, "LOCAL")) ++i;
  if (is_kw(i, "VARIABLES") || is_kw(i, "STATUS")) {
    set_class(StatementClass::SessionSafe, "SHOW " + upper(tok(i).text));
    return like_or_where(i + 1);
  }
  const bool full = is_kw(i, "FULL") || is_kw(i, "EXTENDED");
  if (full) ++i;
  if (full && is_kw(i, "FULL")) ++i;
  if (is_kw(i, "TABLES")) { info_schema("tables", "SHOW TABLES"); return db_clause(i + 1); }
  if (is_kw(i, "DATABASES") || is_kw(i, "SCHEMAS")) { info_schema("schemata", "SHOW DATABASES"); return like_or_where(i + 1); }
  if (is_kw(i, "COLUMNS") || is_kw(i, "FIELDS") || is_kw(i, "INDEX") || is_kw(i, "INDEXES") || is_kw(i, "KEYS")) {
    set_class(StatementClass::Dml, "SHOW " + upper(tok(i).text));
    ++i;
    if (!is_kw(i, "FROM") && !is_kw(i, "IN")) refuse("SHOW COLUMNS: FROM expected");
    std::string db, name;
    i = table_name(i + 1, db, name);
    if (is_kw(i, "FROM") || is_kw(i, "IN")) { db = name_text(i + 1); i += 2; }
    add_table(db, name, TableOp::Select);
    return like_or_where(i);
  }
  if (is_kw(i, "CREATE") && (is_kw(i + 1, "TABLE") || is_kw(i + 1, "VIEW") || is_kw(i + 1, "SEQUENCE"))) {
    set_class(StatementClass::Dml, "SHOW CREATE " + ascii_lower(tok(i + 1).text));
    return table_ref_op(i + 2, TableOp::Select);
  }
  if (is_kw(i, "CREATE") && (is_kw(i + 1, "DATABASE") || is_kw(i + 1, "SCHEMA"))) {
    info_schema("schemata", "SHOW CREATE DATABASE");
    i = skip_kw(i + 2, "IF");
    if (is_kw(i, "NOT")) i = expect_kw(i + 1, "EXISTS");
    name_text(i);
    return i + 1;
  }
  if (is_kw(i, "CREATE") && in(i + 1 < e_ ? tok(i + 1).text : "", {"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})) {
    info_schema(is_kw(i + 1, "TRIGGER") ? "triggers" : is_kw(i + 1, "EVENT") ? "events" : "routines", "SHOW CREATE");
    std::string db, name;
    return table_name(i + 2, db, name);
  }
  if (is_kw(i, "TABLE") && is_kw(i + 1, "STATUS")) { info_schema("tables", "SHOW TABLE STATUS"); return db_clause(i + 2); }
  if (is_kw(i, "TRIGGERS")) { info_schema("triggers", "SHOW TRIGGERS"); return db_clause(i + 1); }
  if (is_kw(i, "EVENTS")) { info_schema("events", "SHOW EVENTS"); return db_clause(i + 1); }
  if ((is_kw(i, "PROCEDURE") || is_kw(i, "FUNCTION")) && is_kw(i + 1, "STATUS")) {
    info_schema("routines", "SHOW STATUS");
    return like_or_where(i + 2);
  }
  if (is_kw(i, "WARNINGS") || is_kw(i, "ERRORS")) {
    set_class(StatementClass::SessionSafe, "SHOW " + upper(tok(i).text));
    return is_kw(i + 1, "LIMIT") ? expr(i + 2, false) : i + 1;
  }
  if (is_kw(i, "COUNT") && is_kind(i + 1, TokKind::LParen)) {
    set_class(StatementClass::SessionSafe, "SHOW COUNT");
    i = match_paren(i + 1);
    if (!is_kw(i, "WARNINGS") && !is_kw(i, "ERRORS")) refuse("SHOW COUNT(*) WARNINGS|ERRORS expected");
    return i + 1;
  }
  if ((is_kw(i, "CHARACTER") && is_kw(i + 1, "SET")) || is_kw(i, "CHARSET") || is_kw(i, "COLLATION") ||
      is_kw(i, "ENGINES") || is_kw(i, "PRIVILEGES") || is_kw(i, "PROFILES") || is_kw(i, "PROFILE")) {
    set_class(StatementClass::SessionSafe, "SHOW " + upper(tok(i).text));
    return scan_rest(i + 1);
  }
  if (in(i < e_ ? tok(i).text : "", {"GRANTS", "PROCESSLIST", "ENGINE", "MASTER", "BINARY", "BINLOG", "SLAVE",
                                      "REPLICA", "REPLICAS", "RELAYLOG", "PLUGINS", "OPEN", "ALL", "EXPLAIN",
                                      "STORAGE", "MUTEX"}) ||
      (is_kw(i, "CREATE") && is_kw(i + 1, "USER"))) {
    set_class(StatementClass::Admin, "SHOW " + upper(tok(i).text));
    return scan_rest(i + 1);
  }
  refuse("this SHOW statement is not supported by the MySQL analyzer");
}

// HANDLER reads rows outside SELECT (no WHERE-free row interface the rules foresee):
// it needs the admin class, and select on the table.
std::size_t Analyzer::handler_stmt(std::size_t i) {
  set_class(StatementClass::Admin, "HANDLER");
  i = table_ref_op(i + 1, TableOp::Select);
  if (is_kw(i, "OPEN")) {
    ++i;
    if (is_kw(i, "AS")) ++i;
    if (is_name(i)) ++i;
    return i;
  }
  if (is_kw(i, "CLOSE")) return i + 1;
  if (is_kw(i, "READ")) return scan_rest(i + 1);
  refuse("HANDLER: OPEN, READ or CLOSE expected");
}

std::size_t Analyzer::lock_stmt(std::size_t i) {
  ++i;
  if (is_kw(i, "INSTANCE")) forbid("LOCK INSTANCE blocks the whole server");
  if (!is_kw(i, "TABLES") && !is_kw(i, "TABLE")) refuse("LOCK TABLES expected");
  set_class(StatementClass::Dml, "LOCK TABLES");
  ++i;
  for (;;) {
    std::string db, name;
    i = table_name(i, db, name);
    if (is_kw(i, "AS")) i += 2;
    else if (is_name(i) && !in(tok(i).text, {"READ", "WRITE", "LOW_PRIORITY"})) ++i;
    if (is_kw(i, "READ")) {
      add_table(db, name, TableOp::Lock);
      i = skip_kw(i + 1, "LOCAL");
    } else {
      i = skip_kw(i, "LOW_PRIORITY");
      i = expect_kw(i, "WRITE");
      i = skip_kw(i, "CONCURRENT");
      add_table(db, name, TableOp::Update);
    }
    if (!is_kind(i, TokKind::Comma)) break;
    ++i;
  }
  if (is_kw(i, "NOWAIT")) ++i;
  else if (is_kw(i, "WAIT")) i += 2;
  return i;
}

}  // namespace segproxy::authz::sql::mysql
