// Query expressions, table references and expressions of the MySQL analyzer
// (mysql_analyzer.hpp). Tables are only ever read through FROM/JOIN lists, TABLE t and
// statement targets, and every query starts with SELECT / TABLE / VALUES ROW / WITH or a
// parenthesis, so expressions are scanned token by token: a query keyword anywhere
// starts a nested query, `name(` is a function call, parentheses recurse.
#include <algorithm>
#include <array>

#include "authz/sql/mysql_analyzer.hpp"

namespace segproxy::authz::sql::mysql {
namespace {

bool in(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view k) { return iequals(w, k); });
}

// Keywords that end an expression at parenthesis depth 0 (outside function arguments).
bool is_stop_word(std::string_view w) {
  return in(w, {"FROM", "INTO", "WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "FOR", "LOCK",
                "UNION", "EXCEPT", "INTERSECT", "ON", "SET", "USING", "RETURNING", "WITH", "JOIN",
                "INNER", "CROSS", "LEFT", "RIGHT", "NATURAL", "STRAIGHT_JOIN", "PROCEDURE", "FULL"});
}

// Words followed by '(' that are syntax, not function calls.
bool is_non_function_word(std::string_view w) {
  return in(w, {"AND", "OR", "XOR", "NOT", "IN", "EXISTS", "ANY", "SOME", "ALL", "AS", "ON", "USING",
                "WHERE", "HAVING", "FROM", "SELECT", "VALUES", "VALUE", "ROW", "LIKE", "RLIKE", "REGEXP",
                "BETWEEN", "IS", "CASE", "WHEN", "THEN", "ELSE", "END", "INTERVAL", "DIV", "BINARY",
                "COLLATE", "UNION", "EXCEPT", "INTERSECT", "BY", "DISTINCT", "LIMIT", "OFFSET", "OVER",
                "AGAINST", "MATCH", "CAST", "CONVERT", "OF", "ESCAPE", "DEFAULT", "LATERAL", "RETURNING",
                "SEPARATOR", "ORDER", "GROUP", "PARTITION", "WINDOW", "FOR", "SET", "INTO", "COLUMNS",
                "NESTED", "PATH", "MEMBER", "TO", "KEY", "INDEX", "PRIMARY", "UNIQUE", "CHECK",
                "REFERENCES", "ROWS", "RANGE", "PRECEDING", "FOLLOWING", "DECIMAL", "DEC", "NUMERIC",
                "VARCHAR", "NCHAR", "FLOAT", "DOUBLE", "SIGNED", "UNSIGNED", "DATETIME", "WITH"});
}

// Words that are never a column reference (for the "expression names a column" test).
bool is_value_word(std::string_view w) {
  return in(w, {"NULL", "TRUE", "FALSE", "DEFAULT", "UNKNOWN", "AND", "OR", "XOR", "NOT", "IS", "IN",
                "LIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "INTERVAL", "DIV", "MOD",
                "REGEXP", "RLIKE", "BINARY", "COLLATE", "ESCAPE", "AS", "ASC", "DESC", "DAY", "HOUR",
                "MINUTE", "SECOND", "MONTH", "YEAR", "WEEK", "QUARTER", "MICROSECOND",
                "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_USER", "LOCALTIME",
                "LOCALTIMESTAMP", "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP"});
}

// Words that cannot be a table alias (they continue the statement).
bool is_reserved_after_table(std::string_view w) {
  return is_stop_word(w) ||
         in(w, {"PARTITION", "USE", "IGNORE", "FORCE", "OUTER", "VALUES", "VALUE", "SELECT", "DUPLICATE",
                "READ", "WRITE", "LOW_PRIORITY", "AS", "TABLE", "OPEN", "CLOSE", "LIKE", "ENGINE",
                "DEFAULT", "CHARSET", "CHARACTER", "COLLATE", "COMMENT", "TO", "IF", "AND", "OR"});
}

}  // namespace

bool Analyzer::starts_query(std::size_t i) const {
  if (is_kind(i, TokKind::LParen)) {
    std::size_t k = i;
    while (is_kind(k, TokKind::LParen)) ++k;
    return starts_query(k);
  }
  if (is_kw(i, "SELECT") || is_kw(i, "TABLE")) return true;
  if (is_kw(i, "VALUES")) return is_kw(i + 1, "ROW");
  if (is_kw(i, "WITH")) {
    return is_kw(i + 1, "RECURSIVE") ||
           (is_name(i + 1) && (is_kw(i + 2, "AS") || is_kind(i + 2, TokKind::LParen)));
  }
  return false;
}

std::size_t Analyzer::query(std::size_t i, bool top) {
  DepthScope ds(*this);
  std::size_t pushed = 0;
  if (is_kw(i, "WITH")) i = with_clause(i, pushed);
  i = query_term(i, top);
  while (is_kw(i, "UNION") || is_kw(i, "EXCEPT") || is_kw(i, "INTERSECT")) {
    ++i;
    if (is_kw(i, "ALL") || is_kw(i, "DISTINCT")) ++i;
    i = query_term(i, top);
  }
  i = query_tail(i);
  while (pushed-- > 0) ctes_.pop_back();
  return i;
}

std::size_t Analyzer::with_clause(std::size_t i, std::size_t& pushed) {
  i = expect_kw(i, "WITH");
  const bool recursive = is_kw(i, "RECURSIVE");
  if (recursive) ++i;
  ctes_.emplace_back();
  pushed = 1;
  for (;;) {
    std::string name = name_text(i);
    ++i;
    if (is_kind(i, TokKind::LParen)) i = match_paren(i);
    i = expect_kw(i, "AS");
    if (!is_kind(i, TokKind::LParen)) refuse("WITH: '(' expected after AS");
    // A non-recursive CTE's own body sees the real table of the same name.
    if (recursive) ctes_.back().push_back(name);
    i = query(i, false);
    if (!recursive) ctes_.back().push_back(std::move(name));
    if (!is_kind(i, TokKind::Comma)) break;
    ++i;
  }
  return i;
}

std::size_t Analyzer::query_term(std::size_t i, bool top) {
  DepthScope ds(*this);
  if (is_kind(i, TokKind::LParen)) {
    i = query(i + 1, top);
    return expect(i, TokKind::RParen, "')'") + 1;
  }
  if (is_kw(i, "SELECT")) return select_block(i, top);
  if (is_kw(i, "TABLE")) return table_ref_op(i + 1, TableOp::Select);
  if (is_kw(i, "VALUES")) {
    ++i;
    for (;;) {
      i = expect_kw(i, "ROW");
      if (!is_kind(i, TokKind::LParen)) refuse("VALUES ROW: '(' expected");
      i = paren_group(i, nullptr);
      if (!is_kind(i, TokKind::Comma)) return i;
      ++i;
    }
  }
  refuse("a query was expected");
}

std::size_t Analyzer::select_block(std::size_t i, bool /*top*/) {
  i = expect_kw(i, "SELECT");
  while (is_kind(i, TokKind::Word) &&
         in(tok(i).text, {"ALL", "DISTINCT", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_SMALL_RESULT",
                          "SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_NO_CACHE", "SQL_CACHE",
                          "SQL_CALC_FOUND_ROWS"})) {
    ++i;
  }
  i = expr(i, false);
  if (is_kw(i, "INTO")) i = into_clause(i);
  if (is_kw(i, "FROM")) i = table_refs(i + 1, nullptr);
  if (is_kw(i, "WHERE")) i = expr(i + 1, true);
  if (is_kw(i, "GROUP")) {
    i = expr(expect_kw(i + 1, "BY"), false);
    if (is_kw(i, "WITH") && is_kw(i + 1, "ROLLUP")) i += 2;
  }
  if (is_kw(i, "HAVING")) i = expr(i + 1, true);
  if (is_kw(i, "WINDOW")) {
    ++i;
    for (;;) {
      name_text(i);
      i = expect_kw(i + 1, "AS");
      if (!is_kind(i, TokKind::LParen)) refuse("WINDOW: '(' expected");
      i = paren_group(i, nullptr);
      if (!is_kind(i, TokKind::Comma)) break;
      ++i;
    }
  }
  return query_tail(i);
}

std::size_t Analyzer::query_tail(std::size_t i) {
  for (;;) {
    if (is_kw(i, "ORDER")) {
      i = expr(expect_kw(i + 1, "BY"), false);
      if (is_kw(i, "WITH") && is_kw(i + 1, "ROLLUP")) i += 2;
    } else if (is_kw(i, "LIMIT")) {
      i = expr(i + 1, false);
      if (is_kw(i, "OFFSET")) i = expr(i + 1, false);
    } else if (is_kw(i, "INTO")) {
      i = into_clause(i);
    } else if (is_kw(i, "FOR") && (is_kw(i + 1, "UPDATE") || is_kw(i + 1, "SHARE"))) {
      part_.locks_rows = true;
      i += 2;
      if (is_kw(i, "OF")) {
        ++i;
        for (;;) {
          std::string db, name;
          i = table_name(i, db, name);
          if (!is_kind(i, TokKind::Comma)) break;
          ++i;
        }
      }
      if (is_kw(i, "NOWAIT")) ++i;
      else if (is_kw(i, "SKIP") && is_kw(i + 1, "LOCKED")) i += 2;
      else if (is_kw(i, "WAIT") && is_kind(i + 1, TokKind::Number)) i += 2;
    } else if (is_kw(i, "LOCK") && is_kw(i + 1, "IN") && is_kw(i + 2, "SHARE") && is_kw(i + 3, "MODE")) {
      part_.locks_rows = true;
      i += 4;
    } else {
      return i;
    }
  }
}

std::size_t Analyzer::into_clause(std::size_t i) {
  i = expect_kw(i, "INTO");
  if (is_kw(i, "OUTFILE") || is_kw(i, "DUMPFILE")) {
    forbid("SELECT ... INTO OUTFILE/DUMPFILE writes a file on the database server");
  }
  for (;;) {
    if (!is_kind(i, TokKind::UserVar)) refuse("SELECT ... INTO: only user variables (@name) are supported");
    ++i;
    if (!is_kind(i, TokKind::Comma)) return i;
    ++i;
  }
}

std::size_t Analyzer::table_refs(std::size_t i, std::vector<FromEntry>* out) {
  DepthScope ds(*this);
  i = table_factor(i, out);
  for (;;) {
    if (is_kind(i, TokKind::Comma)) {
      i = table_factor(i + 1, out);
      continue;
    }
    std::size_t j = i;
    bool natural = false;
    if (is_kw(j, "NATURAL")) { natural = true; ++j; }
    if (is_kw(j, "INNER") || is_kw(j, "CROSS")) ++j;
    else if (is_kw(j, "LEFT") || is_kw(j, "RIGHT")) { ++j; if (is_kw(j, "OUTER")) ++j; }
    if (is_kw(j, "JOIN") || (j == i && is_kw(j, "STRAIGHT_JOIN"))) {
      i = table_factor(j + 1, out);
      if (!natural) i = join_spec(i);
      continue;
    }
    if (j != i) refuse("JOIN expected");
    return i;
  }
}

std::size_t Analyzer::join_spec(std::size_t i) {
  if (is_kw(i, "ON")) return expr(i + 1, true);  // a ',' continues the table list
  if (is_kw(i, "USING")) {
    if (!is_kind(i + 1, TokKind::LParen)) refuse("USING: '(' expected");
    return match_paren(i + 1);
  }
  return i;
}

std::size_t Analyzer::table_factor(std::size_t i, std::vector<FromEntry>* out) {
  DepthScope ds(*this);
  if (is_kind(i, TokKind::LParen) || is_kw(i, "LATERAL")) {
    if (is_kw(i, "LATERAL")) ++i;
    if (starts_query(i)) {
      i = query(i, false);  // the derived table, parenthesised
      FromEntry entry;
      entry.table_index = std::string::npos;
      i = table_suffix(i, &entry);
      if (is_kind(i, TokKind::LParen)) i = match_paren(i);  // column list
      if (out) out->push_back(std::move(entry));
      return i;
    }
    if (!is_kind(i, TokKind::LParen)) refuse("LATERAL: '(' expected");
    i = table_refs(i + 1, out);
    return expect(i, TokKind::RParen, "')'") + 1;
  }
  if (is_kw(i, "JSON_TABLE") && is_kind(i + 1, TokKind::LParen)) {
    add_function("", "json_table");
    i = paren_group(i + 1, nullptr);
    FromEntry entry;
    entry.table_index = std::string::npos;
    i = table_suffix(i, &entry);
    if (out) out->push_back(std::move(entry));
    return i;
  }
  if (is_kw(i, "DUAL")) return i + 1;
  FromEntry entry;
  i = table_name(i, entry.db, entry.name);
  if (entry.db.empty() && is_cte(entry.name)) {
    entry.table_index = std::string::npos;
  } else {
    entry.table_index = add_table(entry.db, entry.name, TableOp::Select);
  }
  i = table_suffix(i, &entry);
  if (out) out->push_back(std::move(entry));
  return i;
}

std::size_t Analyzer::table_suffix(std::size_t i, FromEntry* entry) {
  if (is_kw(i, "PARTITION") && is_kind(i + 1, TokKind::LParen)) i = match_paren(i + 1);
  if (is_kw(i, "FOR") && is_kw(i + 1, "SYSTEM_TIME")) refuse("FOR SYSTEM_TIME is not supported");
  if (is_kw(i, "AS")) {
    if (entry) entry->alias = name_text(i + 1);
    i += 2;
  } else if (is_kind(i, TokKind::QuotedIdent) ||
             (is_kind(i, TokKind::Word) && !is_reserved_after_table(tok(i).text))) {
    if (entry) entry->alias = tok(i).text;
    ++i;
  }
  // Index hints: {USE|IGNORE|FORCE} {INDEX|KEY} [FOR {JOIN|ORDER BY|GROUP BY}] (list), ...
  while ((is_kw(i, "USE") || is_kw(i, "IGNORE") || is_kw(i, "FORCE")) &&
         (is_kw(i + 1, "INDEX") || is_kw(i + 1, "KEY"))) {
    i += 2;
    if (is_kw(i, "FOR")) {
      ++i;
      if (is_kw(i, "JOIN")) ++i;
      else if ((is_kw(i, "ORDER") || is_kw(i, "GROUP")) && is_kw(i + 1, "BY")) i += 2;
      else refuse("index hint: FOR JOIN / ORDER BY / GROUP BY expected");
    }
    if (!is_kind(i, TokKind::LParen)) refuse("index hint: '(' expected");
    i = match_paren(i);
    if (is_kind(i, TokKind::Comma) && (is_kw(i + 1, "USE") || is_kw(i + 1, "IGNORE") || is_kw(i + 1, "FORCE"))) ++i;
  }
  return i;
}

std::size_t Analyzer::paren_group(std::size_t i, bool* saw_column) {
  DepthScope ds(*this);
  i = expect(i, TokKind::LParen, "'('") + 1;
  // Only a query keyword right after '(' makes the group a subquery; "((SELECT 1), 2)"
  // is a list whose first element is a subquery (found by the expression scan).
  if (!is_kind(i, TokKind::LParen) && starts_query(i)) {
    i = query(i, false);
    return expect(i, TokKind::RParen, "')'") + 1;
  }
  i = expr_impl(i, false, true, saw_column);
  return expect(i, TokKind::RParen, "')'") + 1;
}

std::size_t Analyzer::expr(std::size_t i, bool stop_comma, bool* saw_column) {
  return expr_impl(i, stop_comma, false, saw_column);
}

std::size_t Analyzer::expr_list(std::size_t i, bool* saw_column) {
  return expr_impl(i, false, false, saw_column);
}

// Reads a name chain (a, a.b, a.b.c, a.*) at i; returns index after it and the parts.
std::size_t Analyzer::name_chain(std::size_t i, std::vector<std::string>& parts) const {
  parts.push_back(tok(i).text);
  ++i;
  while (is_kind(i, TokKind::Dot) && (is_name(i + 1) || (is_kind(i + 1, TokKind::Op) && tok(i + 1).text == "*"))) {
    parts.push_back(tok(i + 1).text);
    i += 2;
  }
  return i;
}

std::size_t Analyzer::expr_impl(std::size_t i, bool stop_comma, bool group, bool* saw_column) {
  DepthScope ds(*this);
  while (!at_end(i)) {
    const Token& t = tok(i);
    switch (t.kind) {
      case TokKind::RParen: return i;
      case TokKind::Semicolon: refuse("unexpected ';'");
      case TokKind::Comma:
        if (stop_comma && !group) return i;
        ++i;
        continue;
      case TokKind::LParen:
        i = paren_group(i, saw_column);
        continue;
      case TokKind::Word:
      case TokKind::QuotedIdent: {
        const bool word = t.kind == TokKind::Word;
        if (word && starts_query(i)) {
          i = query(i, false);
          continue;
        }
        if (word && (iequals(t.text, "NEXT") || iequals(t.text, "PREVIOUS")) && is_kw(i + 1, "VALUE") &&
            is_kw(i + 2, "FOR")) {
          add_function("", iequals(t.text, "NEXT") ? "nextval" : "lastval");
          std::string db, name;
          i = table_name(i + 3, db, name);
          continue;
        }
        const bool call = is_kind(i + 1, TokKind::LParen);
        if (word && !group && is_stop_word(t.text) &&
            !(call && (iequals(t.text, "LEFT") || iequals(t.text, "RIGHT")))) {
          return i;
        }
        if (is_kind(i + 1, TokKind::Dot)) {
          std::vector<std::string> parts;
          const std::size_t j = name_chain(i, parts);
          if (is_kind(j, TokKind::LParen)) {
            if (parts.size() != 2 || parts[1] == "*") refuse("qualified function name with more than two parts");
            add_function(parts[0], parts[1]);
            i = paren_group(j, saw_column);
          } else {
            if (saw_column) *saw_column = true;
            i = j;
          }
          continue;
        }
        if (call) {
          const bool after_as = i > b_ && is_kw(i - 1, "AS");
          if (word && (is_non_function_word(t.text) || after_as)) {
            i = paren_group(i + 1, saw_column);
          } else {
            add_function("", t.text);
            i = paren_group(i + 1, saw_column);
          }
          continue;
        }
        if (saw_column && (!word || !is_value_word(t.text))) *saw_column = true;
        ++i;
        continue;
      }
      default:
        ++i;
        continue;
    }
  }
  return i;
}

}  // namespace segproxy::authz::sql::mysql
