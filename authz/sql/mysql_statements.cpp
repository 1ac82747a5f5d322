// Statement dispatch, transactions and INSERT / REPLACE / UPDATE / DELETE of the MySQL
// analyzer (mysql_analyzer.hpp).
#include <algorithm>
#include <cctype>
#include <iterator>
#include <string_view>

#include "authz/sql/mysql_analyzer.hpp"

namespace segproxy::authz::sql::mysql {
namespace {

bool in(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view k) { return iequals(w, k); });
}

// Every word that begins a statement of MySQL 8 or MariaDB 10/11 (the top level of both
// grammars, stored-program statements such as DECLARE / RETURN / SIGNAL, and compound
// statement starts), sorted for the binary search.
constexpr std::string_view kStatementWords[] = {
    "alter", "analyze", "backup", "begin", "binlog", "cache", "call", "case", "change", "check",
    "checksum", "clone", "close", "commit", "create", "deallocate", "declare", "delete", "desc",
    "describe", "do", "drop", "execute", "explain", "fetch", "flush", "for", "get", "grant",
    "handler", "help", "if", "import", "insert", "install", "iterate", "kill", "leave", "load",
    "lock", "loop", "open", "optimize", "prepare", "purge", "release", "rename", "repair", "repeat",
    "replace", "reset", "resignal", "restart", "return", "revoke", "rollback", "savepoint",
    "select", "set", "show", "shutdown", "signal", "start", "stop", "table", "truncate",
    "uninstall", "unlock", "update", "use", "values", "while", "with", "xa"};
static_assert(std::is_sorted(std::begin(kStatementWords), std::end(kStatementWords)));

bool is_statement_word(std::string_view w) {
  if (w.size() > 16) return false;
  const std::string lower = ascii_lower(w);
  return std::binary_search(std::begin(kStatementWords), std::end(kStatementWords), std::string_view(lower));
}

// CREATE toks[b] of a stored program definition: `CREATE [OR REPLACE] [DEFINER = who]
// [AGGREGATE] PROCEDURE | FUNCTION | TRIGGER | EVENT`. `who` ('user'@'host', a name,
// CURRENT_USER[()]) is skipped up to the next of those words, within a few tokens. A
// false match only changes which refusal the text gets: the analyzer judges every
// statement of it either way.
bool is_stored_program_start(const std::vector<Token>& toks, std::size_t b, std::size_t e) {
  const auto word = [&](std::size_t k, std::initializer_list<std::string_view> set) {
    return k < e && toks[k].kind == TokKind::Word && in(toks[k].text, set);
  };
  if (!word(b, {"CREATE"})) return false;
  std::size_t k = b + 1;
  if (word(k, {"OR"}) && word(k + 1, {"REPLACE"})) k += 2;
  if (word(k, {"DEFINER"})) {
    for (++k; k < e && k < b + 16; ++k) {
      if (word(k, {"VIEW", "SQL", "ALGORITHM"})) return false;
      if (word(k, {"AGGREGATE", "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})) break;
    }
  }
  if (word(k, {"AGGREGATE"})) ++k;
  return word(k, {"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"});
}

}  // namespace

StatementStart statement_start(const std::vector<Token>& toks, std::size_t b, std::size_t e) {
  if (b >= e) return {};
  const Token& t = toks[b];
  if (t.kind == TokKind::LParen) return {};
  const bool colon = b + 1 < e && toks[b + 1].kind == TokKind::Op && toks[b + 1].text == ":";
  if ((t.kind == TokKind::Word || t.kind == TokKind::QuotedIdent) && colon) return {StatementStart::label, {}};
  if (t.kind != TokKind::Word) return {StatementStart::unparseable, "a statement cannot start with this token"};
  if (iequals(t.text, "DELIMITER")) return {StatementStart::unparseable, "DELIMITER is a client-side command, not SQL"};
  if (!is_statement_word(t.text)) {
    return {StatementStart::unparseable, "no MySQL or MariaDB statement starts with this word"};
  }
  if (is_stored_program_start(toks, b, e)) return {StatementStart::stored_program, {}};
  return {};
}

void Analyzer::analyse() {
  try {
    part_.command = b_ < e_ && toks_[b_].kind == TokKind::Word ? ascii_lower(toks_[b_].text) : "statement";
    for (char& c : part_.command) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (std::size_t k = b_; k < e_; ++k) {
      if (toks_[k].in_exec_comment && toks_[k].kind == TokKind::Semicolon) refuse("';' inside an executable comment");
    }
    const std::size_t i = statement(b_);
    expect_end(i);
  } catch (const Refusal& r) {
    part_.klass = r.klass;
    part_.forbidden_reason = r.reason;
  }
}

std::size_t Analyzer::statement(std::size_t i) {
  DepthScope ds(*this);
  const Token& t = tok(i);
  if (t.kind == TokKind::LParen) {
    set_class(StatementClass::Dml, "SELECT");
    return query(i, true);
  }
  if (t.kind != TokKind::Word) refuse("statement keyword expected");
  const std::string& w = t.text;
  if (iequals(w, "WITH")) {
    std::size_t pushed = 0;
    std::size_t j = with_clause(i, pushed);
    if (is_kw(j, "UPDATE")) j = update_stmt(j);
    else if (is_kw(j, "DELETE")) j = delete_stmt(j);
    else {
      set_class(StatementClass::Dml, "SELECT");
      j = query_term(j, true);
      while (is_kw(j, "UNION") || is_kw(j, "EXCEPT") || is_kw(j, "INTERSECT")) {
        ++j;
        if (is_kw(j, "ALL") || is_kw(j, "DISTINCT")) ++j;
        j = query_term(j, true);
      }
      j = query_tail(j);
    }
    while (pushed-- > 0) ctes_.pop_back();
    return j;
  }
  if (iequals(w, "SELECT") || iequals(w, "TABLE") || iequals(w, "VALUES")) {
    set_class(StatementClass::Dml, ascii_lower(w) == "select" ? "SELECT" : iequals(w, "TABLE") ? "TABLE" : "VALUES");
    return query(i, true);
  }
  if (iequals(w, "INSERT")) return insert_stmt(i, false);
  if (iequals(w, "REPLACE")) return insert_stmt(i, true);
  if (iequals(w, "UPDATE")) return update_stmt(i);
  if (iequals(w, "DELETE")) return delete_stmt(i);
  if (iequals(w, "DO")) {
    set_class(StatementClass::Dml, "DO");
    return expr_list(i + 1);
  }
  if (iequals(w, "CALL")) {
    set_class(StatementClass::Procedural, "CALL");
    std::string db, name;
    i = table_name(i + 1, db, name);
    add_function(db, name);
    if (is_kind(i, TokKind::LParen)) i = paren_group(i, nullptr);
    return i;
  }
  if (iequals(w, "LOAD")) {
    if (is_kw(i + 1, "INDEX")) forbid("LOAD INDEX INTO CACHE is an administrative command");
    forbid("LOAD DATA / LOAD XML reads files (server-side or LOCAL client files)");
  }
  if (iequals(w, "HANDLER")) return handler_stmt(i);
  if (iequals(w, "LOCK")) return lock_stmt(i);
  if (iequals(w, "UNLOCK")) {
    if (is_kw(i + 1, "TABLES") || is_kw(i + 1, "TABLE")) {
      set_class(StatementClass::Dml, "UNLOCK TABLES");
      return i + 2;
    }
    forbid("UNLOCK " + (i + 1 < e_ ? toks_[i + 1].text : std::string()) + " is administrative");
  }
  if (iequals(w, "TRUNCATE")) {
    set_class(StatementClass::Dml, "TRUNCATE");
    return table_ref_op(skip_kw(i + 1, "TABLE"), TableOp::Truncate);
  }
  if (iequals(w, "PREPARE")) return prepare_stmt(i);
  if (iequals(w, "EXECUTE")) return execute_stmt(i);
  if (iequals(w, "DEALLOCATE")) {
    set_class(StatementClass::Prepare, "DEALLOCATE PREPARE");
    i = expect_kw(i + 1, "PREPARE");
    part_.prepared_name = ascii_lower(name_text(i));
    part_.prepared_effect = PreparedEffect::Deallocate;
    return i + 1;
  }
  if (iequals(w, "START")) {
    if (!is_kw(i + 1, "TRANSACTION")) forbid("START " + (i + 1 < e_ ? toks_[i + 1].text : std::string()) + " (replication control) is never allowed");
    set_class(StatementClass::Transaction, "START TRANSACTION");
    i += 2;
    while (!at_end(i)) {
      if (is_kw(i, "READ") && (is_kw(i + 1, "ONLY") || is_kw(i + 1, "WRITE"))) i += 2;
      else if (is_kw(i, "WITH") && is_kw(i + 1, "CONSISTENT") && is_kw(i + 2, "SNAPSHOT")) i += 3;
      else if (is_kind(i, TokKind::Comma)) ++i;
      else break;
    }
    return i;
  }
  if (is_compound_start(toks_, i)) {  // opaque code: needs the anonymous_code class
    set_class(StatementClass::AnonymousCode, iequals(w, "BEGIN") ? "BEGIN NOT ATOMIC" : ascii_lower(w));
    // Unlike stored routines, an anonymous block keeps a SET NAMES / character_set_client
    // it runs (MariaDB 10.11; its sql_mode is restored): read the settings back after it.
    part_.changes_lexing = true;
    for (char& c : part_.command) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return e_;
  }
  if (iequals(w, "BEGIN")) {
    set_class(StatementClass::Transaction, "BEGIN");
    if (i + 1 < e_ && !is_kw(i + 1, "WORK")) refuse("BEGIN ... (compound statement) is not supported");
    return skip_kw(i + 1, "WORK");
  }
  if (iequals(w, "COMMIT") || iequals(w, "ROLLBACK")) {
    const bool rollback = iequals(w, "ROLLBACK");
    set_class(StatementClass::Transaction, rollback ? "ROLLBACK" : "COMMIT");
    i = skip_kw(i + 1, "WORK");
    if (rollback && is_kw(i, "TO")) {
      part_.command = "ROLLBACK TO SAVEPOINT";
      i = skip_kw(i + 1, "SAVEPOINT");
      name_text(i);
      return i + 1;
    }
    part_.ends = rollback ? TransactionEnd::Rollback : TransactionEnd::Commit;
    if (is_kw(i, "AND")) { i = skip_kw(i + 1, "NO"); i = expect_kw(i, "CHAIN"); }
    if (is_kw(i, "NO")) ++i;
    return skip_kw(i, "RELEASE");
  }
  if (iequals(w, "SAVEPOINT")) {
    set_class(StatementClass::Transaction, "SAVEPOINT");
    name_text(i + 1);
    return i + 2;
  }
  if (iequals(w, "RELEASE")) {
    set_class(StatementClass::Transaction, "RELEASE SAVEPOINT");
    i = expect_kw(i + 1, "SAVEPOINT");
    name_text(i);
    return i + 1;
  }
  if (iequals(w, "XA")) forbid("XA transactions are not supported through segproxy");
  if (iequals(w, "SET")) return set_stmt(i);
  if (iequals(w, "SHOW")) return show_stmt(i);
  if (iequals(w, "EXPLAIN") || iequals(w, "DESCRIBE") || iequals(w, "DESC")) return explain_stmt(i, false);
  if (iequals(w, "ANALYZE")) {
    if (is_kw(i + 1, "TABLE") || is_kw(i + 1, "TABLES") || is_kw(i + 1, "NO_WRITE_TO_BINLOG") ||
        is_kw(i + 1, "LOCAL")) {
      return maintenance_stmt(i);
    }
    return explain_stmt(i, true);
  }
  if (iequals(w, "USE")) {
    set_class(StatementClass::SessionSafe, "USE");
    std::string db = name_text(i + 1);
    if (opts_.lower_case_table_names != 0) db = ascii_lower(db);
    part_.database = db;
    current_db_ = db;  // later statements of the same text resolve against it
    return i + 2;
  }
  if (iequals(w, "CREATE")) return create_stmt(i);
  if (iequals(w, "ALTER")) return alter_stmt(i);
  if (iequals(w, "DROP")) return drop_stmt(i);
  if (iequals(w, "RENAME")) {
    if (!is_kw(i + 1, "TABLE") && !is_kw(i + 1, "TABLES")) forbid("RENAME USER manages accounts");
    set_class(StatementClass::Ddl, "RENAME TABLE");
    i += 2;
    for (;;) {
      i = table_ref_op(i, TableOp::Alter);
      i = expect_kw(i, "TO");
      i = table_ref_op(i, TableOp::Alter);
      if (!is_kind(i, TokKind::Comma)) return i;
      ++i;
    }
  }
  if (in(w, {"OPTIMIZE", "REPAIR", "CHECK", "CHECKSUM"})) return maintenance_stmt(i);
  if (in(w, {"FLUSH", "KILL", "CACHE"})) return simple_admin_stmt(i);
  if (in(w, {"GRANT", "REVOKE"})) forbid(ascii_lower(w) + " changes privileges");
  if (in(w, {"SHUTDOWN", "RESTART", "INSTALL", "UNINSTALL", "CHANGE", "RESET", "PURGE", "CLONE", "BINLOG",
             "IMPORT", "STOP"})) {
    forbid(w + " is an administrative command that is never allowed through segproxy");
  }
  if (iequals(w, "GET") && (is_kw(i + 1, "DIAGNOSTICS") || (is_kw(i + 2, "DIAGNOSTICS")))) {
    set_class(StatementClass::SessionSafe, "GET DIAGNOSTICS");
    return scan_rest(i + 1);
  }
  refuse("statement " + w + " is not supported by the MySQL analyzer");
}

std::size_t Analyzer::insert_stmt(std::size_t i, bool replace) {
  set_class(StatementClass::Dml, replace ? "REPLACE" : "INSERT");
  ++i;
  while (is_kw(i, "LOW_PRIORITY") || is_kw(i, "DELAYED") || is_kw(i, "HIGH_PRIORITY") || is_kw(i, "IGNORE")) ++i;
  i = skip_kw(i, "INTO");
  std::string db, name;
  i = table_name(i, db, name);
  const std::size_t target = add_table(db, name, TableOp::Insert);
  if (replace) add_op(target, TableOp::Delete);
  if (is_kw(i, "PARTITION") && is_kind(i + 1, TokKind::LParen)) i = match_paren(i + 1);
  bool saw = false;
  if (is_kind(i, TokKind::LParen) && !starts_query(i)) i = match_paren(i);  // column list
  if (is_kw(i, "VALUES") || is_kw(i, "VALUE")) {
    ++i;
    for (;;) {
      if (is_kw(i, "ROW")) ++i;
      if (!is_kind(i, TokKind::LParen)) refuse("VALUES: '(' expected");
      i = paren_group(i, nullptr);
      if (!is_kind(i, TokKind::Comma)) break;
      ++i;
    }
  } else if (is_kw(i, "SET")) {
    ++i;
    for (;;) {
      std::vector<std::string> parts;
      if (!is_name(i)) refuse("column name expected");
      i = name_chain(i, parts);
      if (!is_kind(i, TokKind::Op) || (tok(i).text != "=" && tok(i).text != ":=")) refuse("'=' expected");
      i = expr(i + 1, true, nullptr);
      if (!is_kind(i, TokKind::Comma)) break;
      ++i;
    }
  } else if (starts_query(i)) {
    i = query(i, false);
  } else {
    refuse("INSERT: VALUES, SET or a query expected");
  }
  if (is_kw(i, "AS")) {  // row alias
    name_text(i + 1);
    i += 2;
    if (is_kind(i, TokKind::LParen)) i = match_paren(i);
  }
  if (is_kw(i, "ON") && is_kw(i + 1, "DUPLICATE") && is_kw(i + 2, "KEY") && is_kw(i + 3, "UPDATE")) {
    add_op(target, TableOp::Update);
    i += 4;
    for (;;) {
      std::vector<std::string> parts;
      if (!is_name(i)) refuse("column name expected");
      i = name_chain(i, parts);
      if (!is_kind(i, TokKind::Op) || tok(i).text != "=") refuse("'=' expected");
      i = expr(i + 1, true, &saw);
      if (!is_kind(i, TokKind::Comma)) break;
      ++i;
    }
  }
  if (is_kw(i, "RETURNING")) {
    saw = true;
    i = expr_list(i + 1);
  }
  if (saw) add_op(target, TableOp::Select);
  return i;
}

namespace {

// Which FROM entries a target name (x or db.x) in multi-table UPDATE/DELETE denotes.
std::vector<std::size_t> resolve_targets(const std::vector<FromEntry>& from, const std::string& db,
                                         const std::string& name, bool fold) {
  const auto eq = [&](const std::string& a, const std::string& b) { return fold ? iequals(a, b) : a == b; };
  std::vector<std::size_t> hits;
  for (std::size_t k = 0; k < from.size(); ++k) {
    const FromEntry& f = from[k];
    const bool match = db.empty() && !f.alias.empty() ? eq(f.alias, name)
                                                        : eq(f.name, name) && (db.empty() || eq(f.db, db));
    if (match) hits.push_back(k);
  }
  return hits;
}

}  // namespace

// The table list of a multi-table UPDATE / DELETE. MySQL and MariaDB join at most 61
// tables (MAX_TABLES), so more is refused here: matching targets to the list is
// quadratic, and the server would refuse the statement anyway.
std::size_t Analyzer::joined_tables(std::size_t i, std::vector<FromEntry>& from) {
  i = table_refs(i, &from);
  if (from.size() > 61) refuse("more than 61 tables in one join (MySQL's and MariaDB's own limit)");
  return i;
}

std::size_t Analyzer::update_stmt(std::size_t i) {
  set_class(StatementClass::Dml, "UPDATE");
  ++i;
  while (is_kw(i, "LOW_PRIORITY") || is_kw(i, "IGNORE")) ++i;
  std::vector<FromEntry> from;
  i = joined_tables(i, from);
  i = expect_kw(i, "SET");
  bool saw = false;
  std::vector<std::size_t> targets;
  bool all = false;
  for (;;) {
    std::vector<std::string> parts;
    if (!is_name(i)) refuse("column name expected");
    i = name_chain(i, parts);
    if (parts.size() == 1) {
      all = true;
    } else {
      const std::string db = parts.size() == 3 ? parts[0] : std::string();
      const auto hits = resolve_targets(from, db, parts[parts.size() - 2], opts_.lower_case_table_names != 0);
      if (hits.empty()) refuse("UPDATE: cannot tell which table " + parts[parts.size() - 2] + " is");
      targets.insert(targets.end(), hits.begin(), hits.end());
    }
    if (!is_kind(i, TokKind::Op) || tok(i).text != "=") refuse("'=' expected");
    i = expr(i + 1, true, &saw);
    if (!is_kind(i, TokKind::Comma)) break;
    ++i;
  }
  if (is_kw(i, "WHERE")) i = expr(i + 1, true, &saw);
  if (is_kw(i, "ORDER")) { saw = true; i = expr(expect_kw(i + 1, "BY"), false); }
  if (is_kw(i, "LIMIT")) i = expr(i + 1, false);
  if (from.size() > 1) saw = true;  // join conditions read the targets' columns
  if (all) {
    for (std::size_t k = 0; k < from.size(); ++k) targets.push_back(k);
  }
  for (const std::size_t k : targets) {
    if (from[k].table_index == std::string::npos) {
      if (all && from.size() > 1) continue;  // unqualified columns cannot belong to a derived table we skip
      refuse("UPDATE of a derived table or CTE is not supported");
    }
    TableRef& t = part_.tables[from[k].table_index];
    if (t.op == TableOp::Select) t.op = TableOp::Update;
    if (saw) add_op(from[k].table_index, TableOp::Select);
  }
  return i;
}

std::size_t Analyzer::delete_stmt(std::size_t i) {
  set_class(StatementClass::Dml, "DELETE");
  ++i;
  while (is_kw(i, "LOW_PRIORITY") || is_kw(i, "QUICK") || is_kw(i, "IGNORE")) ++i;
  bool saw = false;
  struct Target { std::string db, name; };
  std::vector<Target> targets;
  const auto target_list = [&](std::size_t j) {
    for (;;) {
      Target t;
      j = table_name(j, t.db, t.name);
      if (is_kind(j, TokKind::Dot) && is_kind(j + 1, TokKind::Op) && tok(j + 1).text == "*") j += 2;
      targets.push_back(std::move(t));
      if (!is_kind(j, TokKind::Comma)) return j;
      ++j;
    }
  };
  std::vector<FromEntry> from;
  if (is_kw(i, "FROM")) {
    std::size_t j = i + 1;
    std::string db, name;
    const std::size_t after = table_name(j, db, name);
    const bool multi = is_kind(after, TokKind::Comma) || is_kw(after, "USING") ||
                       (is_kind(after, TokKind::Dot) && is_kind(after + 1, TokKind::Op));
    if (!multi) {  // single-table DELETE
      if (db.empty() && is_cte(name)) refuse("DELETE from a CTE");
      const std::size_t idx = add_table(db, name, TableOp::Delete);
      FromEntry entry;
      j = table_suffix(after, &entry);
      if (is_kw(j, "WHERE")) j = expr(j + 1, true, &saw);
      if (is_kw(j, "ORDER")) { saw = true; j = expr(expect_kw(j + 1, "BY"), false); }
      if (is_kw(j, "LIMIT")) j = expr(j + 1, false);
      if (is_kw(j, "RETURNING")) { saw = true; j = expr_list(j + 1); }
      if (saw) add_op(idx, TableOp::Select);
      return j;
    }
    j = target_list(j);
    j = expect_kw(j, "USING");
    i = joined_tables(j, from);
  } else {
    i = target_list(i);
    i = expect_kw(i, "FROM");
    i = joined_tables(i, from);
  }
  if (is_kw(i, "WHERE")) i = expr(i + 1, true, &saw);
  if (from.size() > 1) saw = true;  // join conditions read the targets' columns
  for (const Target& t : targets) {
    const auto hits = resolve_targets(from, t.db, t.name, opts_.lower_case_table_names != 0);
    if (hits.empty()) refuse("DELETE: target " + t.name + " is not in the table list");
    for (const std::size_t k : hits) {
      if (from[k].table_index == std::string::npos) refuse("DELETE from a derived table or CTE");
      TableRef& tr = part_.tables[from[k].table_index];
      if (tr.op == TableOp::Select) tr.op = TableOp::Delete;
      if (saw) add_op(from[k].table_index, TableOp::Select);
    }
  }
  return i;
}

}  // namespace segproxy::authz::sql::mysql
