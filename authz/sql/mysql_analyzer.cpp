// Token, table and function helpers of the MySQL analyzer (mysql_analyzer.hpp).
#include <algorithm>

#include "authz/sql/mysql_analyzer.hpp"

namespace segproxy::authz::sql::mysql {
namespace {

bool in(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view k) { return iequals(w, k); });
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

Analyzer::Analyzer(const std::vector<Token>& toks, std::size_t b, std::size_t e,
                   const MysqlClassifierOptions& opts, std::string& current_db, int nesting)
    : toks_(toks), b_(b), e_(e), opts_(opts), current_db_(current_db), nesting_(nesting) {}

void Analyzer::enter() {
  if (++depth_ > kMaxDepth) {
    --depth_;
    too_deep_ = true;
    refuse("statement is nested too deeply");
  }
}

const Token& Analyzer::tok(std::size_t i) const {
  if (i >= e_) refuse("statement ends unexpectedly");
  return toks_[i];
}

bool Analyzer::is_kw(std::size_t i, std::string_view kw) const {
  return i < e_ && toks_[i].kind == TokKind::Word && iequals(toks_[i].text, kw);
}

bool Analyzer::is_name(std::size_t i) const {
  return i < e_ && (toks_[i].kind == TokKind::Word || toks_[i].kind == TokKind::QuotedIdent);
}

std::size_t Analyzer::expect_kw(std::size_t i, std::string_view kw) const {
  if (!is_kw(i, kw)) refuse(std::string(kw) + " expected");
  return i + 1;
}

std::size_t Analyzer::expect(std::size_t i, TokKind k, std::string_view what) const {
  if (!is_kind(i, k)) refuse(std::string(what) + " expected");
  return i;
}

std::size_t Analyzer::match_paren(std::size_t i) const {
  expect(i, TokKind::LParen, "'('");
  int level = 0;
  for (; i < e_; ++i) {
    if (toks_[i].kind == TokKind::LParen) ++level;
    else if (toks_[i].kind == TokKind::RParen && --level == 0) return i + 1;
    else if (toks_[i].kind == TokKind::Word && level > 0 &&
             (iequals(toks_[i].text, "SELECT") || iequals(toks_[i].text, "TABLE"))) {
      refuse("a query inside a list that is not analysed");
    }
  }
  refuse("unbalanced parentheses");
}

void Analyzer::refuse(std::string reason) const { throw Refusal{StatementClass::Unknown, std::move(reason)}; }
void Analyzer::forbid(std::string reason) const { throw Refusal{StatementClass::Forbidden, std::move(reason)}; }

void Analyzer::expect_end(std::size_t i) const {
  if (i < e_) refuse("unexpected '" + toks_[i].text + "' (not understood by the analyzer)");
}

std::string Analyzer::string_value(std::size_t i) {
  uses_values_ = true;
  return tok(i).text;
}

std::string Analyzer::name_text(std::size_t i) const {
  if (!is_name(i)) refuse("a name was expected");
  if (toks_[i].text.empty()) refuse("empty identifier");
  return toks_[i].text;
}

std::string Analyzer::fold_table_name(const std::string& db, const std::string& name) const {
  (void)db;
  return opts_.lower_case_table_names != 0 ? ascii_lower(name) : name;
}

std::size_t Analyzer::add_table(const std::string& db_in, const std::string& name_in, TableOp op) {
  const bool given = !db_in.empty();
  std::string db = given ? db_in : current_db_;
  if (db.empty()) refuse("no database selected: " + name_in + " cannot be resolved");
  for (const std::string* s : {static_cast<const std::string*>(&db), &name_in}) {
    if (!is_ascii(*s) && (opts_.lower_case_table_names != 0 ||
                          !(iequals(opts_.charset, "utf8mb4") || iequals(opts_.charset, "utf8") ||
                            iequals(opts_.charset, "utf8mb3")))) {
      refuse("non-ASCII table or database name with lower_case_table_names=" +
             std::to_string(opts_.lower_case_table_names) + " / charset " + opts_.charset);
    }
  }
  TableRef t;
  if (iequals(db, "information_schema")) {
    t.schema = "information_schema";
    t.name = ascii_lower(name_in);
  } else {
    t.schema = opts_.lower_case_table_names != 0 ? ascii_lower(db) : db;
    t.name = fold_table_name(db, name_in);
  }
  t.schema_given = given;
  t.op = op;
  t.mysql = true;
  part_.tables.push_back(std::move(t));
  return part_.tables.size() - 1;
}

void Analyzer::add_op(std::size_t idx, TableOp op) {
  TableRef t = part_.tables.at(idx);
  t.op = op;
  if (std::find(part_.tables.begin(), part_.tables.end(), t) == part_.tables.end()) part_.tables.push_back(t);
}

void Analyzer::add_function(const std::string& schema, const std::string& name) {
  FunctionRef f;
  if (!schema.empty()) f.schema = opts_.lower_case_table_names != 0 ? ascii_lower(schema) : schema;
  f.name = ascii_lower(name);
  // A hash index, not a linear search per call (100k distinct calls took seconds).
  if (function_keys_.insert(std::to_string(f.schema.size()) + ":" + f.schema + f.name).second) {
    part_.functions.push_back(std::move(f));
  }
}

std::size_t Analyzer::table_name(std::size_t i, std::string& db, std::string& name) const {
  if (is_kind(i, TokKind::Dot) && is_name(i + 1)) {  // ODBC ".tbl": the current database
    db.clear();
    name = name_text(i + 1);
    return i + 2;
  }
  if (is_kind(i, TokKind::Word) &&
      in(tok(i).text, {"SELECT", "FROM", "WHERE", "JOIN", "SET", "VALUES", "ON", "USING", "GROUP", "ORDER",
                       "LIMIT", "UNION", "WITH", "TABLE", "INTO", "HAVING", "LEFT", "RIGHT", "INNER"})) {
    refuse("table name expected, got keyword " + tok(i).text);
  }
  const std::string first = name_text(i);
  if (is_kind(i + 1, TokKind::Dot) && is_name(i + 2)) {
    if (is_kind(i + 3, TokKind::Dot)) refuse("three-part table names are not supported");
    db = first;
    name = name_text(i + 2);
    return i + 3;
  }
  db.clear();
  name = first;
  return i + 1;
}

std::size_t Analyzer::table_ref_op(std::size_t i, TableOp op) {
  std::string db, name;
  i = table_name(i, db, name);
  add_table(db, name, op);
  return i;
}

bool Analyzer::is_cte(const std::string& name) const {
  for (const auto& scope : ctes_) {
    for (const auto& c : scope) {
      if (opts_.lower_case_table_names != 0 ? iequals(c, name) : c == name) return true;
    }
  }
  return false;
}

bool is_compound_start(const std::vector<Token>& toks, std::size_t b) {
  const auto word = [&](std::size_t k, std::string_view w) {
    return k < toks.size() && toks[k].kind == TokKind::Word && iequals(toks[k].text, w);
  };
  if (word(b, "BEGIN")) return word(b + 1, "NOT") && word(b + 2, "ATOMIC");
  return word(b, "IF") || word(b, "CASE") || word(b, "LOOP") || word(b, "WHILE") || word(b, "REPEAT");
}

void Analyzer::set_class(StatementClass k, std::string command) {
  part_.klass = k;
  part_.command = std::move(command);
}

std::size_t Analyzer::scan_rest(std::size_t i) {
  i = expr_impl(i, false, true, nullptr);
  if (i < e_) refuse("unbalanced parentheses");
  return i;
}

}  // namespace segproxy::authz::sql::mysql
