#pragma once
// Internal: the MySQL statement analyzer behind classify_mysql (mysql_classifier.hpp).
// One Analyzer reads one statement's tokens [b, e) and fills one StatementPart. Any
// construct it does not understand throws Refusal (caught per statement): the part
// becomes Unknown/Forbidden with the reason, never a partial allow.
//   mysql_classifier.cpp       entry point, statement split, fingerprint, normalize
//   mysql_analyzer.cpp         token, table and function helpers
//   mysql_queries.cpp          query expressions, table references, expressions
//   mysql_statements.cpp       statement dispatch, transactions, INSERT/UPDATE/DELETE
//   mysql_other_statements.cpp PREPARE/EXECUTE, EXPLAIN/DESCRIBE, SHOW, HANDLER, LOCK
//   mysql_session_ddl.cpp      SET, DDL and administrative statements
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/mysql_lexer.hpp"
#include "authz/sql/statement_info.hpp"

namespace segproxy::authz::sql::mysql {

// A MariaDB compound statement starts at toks[b] (BEGIN NOT ATOMIC, IF, CASE, LOOP,
// WHILE, REPEAT): it holds ';' of its own, runs to the end of the text and is opaque
// code (StatementClass::AnonymousCode); its inside is not analysed.
bool is_compound_start(const std::vector<Token>& toks, std::size_t b);

// Issue 12: how the statement toks[b, e) starts. `unparseable`: with nothing MySQL or
// MariaDB could parse as a statement (a word that begins no statement of either server,
// a literal, an operator, the client-side DELIMITER), answered as a syntax error
// (ERROR 1064, as the server does), `reason` says why. `label` (`name: LOOP ...`): a
// labelled compound statement, whose inner ';' the statement split does not follow, so
// the rest of the text is its inside. `stored_program` (`CREATE [OR REPLACE] [DEFINER
// = ...] [AGGREGATE] PROCEDURE | FUNCTION | TRIGGER | EVENT`): its body (`BEGIN ... END`)
// holds ';' of its own, which the split does not follow either, so the rest of the text
// may be its body; the analyzer refuses the definition (stored programs are Forbidden,
// 1227). Otherwise a statement keyword or '(': the analyzer's to judge (an unsupported
// one is refused as such, 1227).
struct StatementStart {
  enum Kind { statement, label, stored_program, unparseable } kind = statement;
  std::string reason;
};
StatementStart statement_start(const std::vector<Token>& toks, std::size_t b, std::size_t e);

struct Refusal {
  StatementClass klass = StatementClass::Unknown;
  std::string reason;
};

// A FROM-list entry of the statement's outermost query block (multi-table UPDATE/DELETE).
struct FromEntry {
  std::size_t table_index = 0;  // into part.tables; npos for derived tables
  std::string alias;            // as written ("" = none)
  std::string name;             // table name as written
  std::string db;               // database as written ("" = unqualified)
};

class Analyzer {
 public:
  static constexpr int kMaxDepth = 96;

  Analyzer(const std::vector<Token>& toks, std::size_t b, std::size_t e,
           const MysqlClassifierOptions& opts, std::string& current_db, int nesting);

  // Fills part(); throws nothing (refusals become the part's class and reason).
  void analyse();
  StatementPart& part() { return part_; }
  bool uses_literal_values() const { return uses_values_; }
  bool too_deep() const { return too_deep_; }  // refused at kMaxDepth (a work bound, 54001)

  // ---- token helpers
  const Token& tok(std::size_t i) const;
  bool at_end(std::size_t i) const { return i >= e_; }
  bool is_kw(std::size_t i, std::string_view kw) const;
  bool is_kind(std::size_t i, TokKind k) const { return i < e_ && toks_[i].kind == k; }
  bool is_name(std::size_t i) const;  // Word or QuotedIdent
  std::size_t expect_kw(std::size_t i, std::string_view kw) const;
  std::size_t expect(std::size_t i, TokKind k, std::string_view what) const;
  std::size_t skip_kw(std::size_t i, std::string_view kw) const { return is_kw(i, kw) ? i + 1 : i; }
  std::size_t match_paren(std::size_t i) const;  // i at '(' -> index after its ')'
  [[noreturn]] void refuse(std::string reason) const;
  [[noreturn]] void forbid(std::string reason) const;
  void expect_end(std::size_t i) const;
  std::string string_value(std::size_t i);  // marks the statement as value-dependent
  std::string name_text(std::size_t i) const;  // identifier text; refuses non-names

  // ---- tables and functions
  std::string fold_table_name(const std::string& db, const std::string& name) const;
  std::size_t add_table(const std::string& db, const std::string& name, TableOp op);
  void add_op(std::size_t table_index, TableOp op);
  void add_function(const std::string& schema, const std::string& name);
  // Reads [db.]name at i (also `.name`); returns index after. Does not add.
  std::size_t table_name(std::size_t i, std::string& db, std::string& name) const;
  std::size_t table_ref_op(std::size_t i, TableOp op);  // table_name + add_table
  bool is_cte(const std::string& name) const;

  // ---- queries (mysql_queries.cpp)
  bool starts_query(std::size_t i) const;
  std::size_t query(std::size_t i, bool top);  // query expression incl. WITH / set ops
  std::size_t with_clause(std::size_t i, std::size_t& pushed);
  std::size_t query_term(std::size_t i, bool top);
  std::size_t select_block(std::size_t i, bool top);
  std::size_t query_tail(std::size_t i);  // ORDER BY / LIMIT / locking / INTO
  std::size_t into_clause(std::size_t i);
  std::size_t table_refs(std::size_t i, std::vector<FromEntry>* out);
  std::size_t table_factor(std::size_t i, std::vector<FromEntry>* out);
  std::size_t table_suffix(std::size_t i, FromEntry* entry);  // PARTITION, alias, index hints
  std::size_t join_spec(std::size_t i);
  // Expression up to a stop keyword / ',' (if stop_comma) / ')' / end at depth 0.
  std::size_t expr(std::size_t i, bool stop_comma, bool* saw_column = nullptr);
  std::size_t expr_list(std::size_t i, bool* saw_column = nullptr);
  std::size_t expr_impl(std::size_t i, bool stop_comma, bool group, bool* saw_column);
  std::size_t name_chain(std::size_t i, std::vector<std::string>& parts) const;
  std::size_t scan_rest(std::size_t i);  // functions/subqueries in the rest of the statement
  std::size_t paren_group(std::size_t i, bool* saw_column);  // i at '('

  // ---- statements (mysql_statements.cpp)
  std::size_t statement(std::size_t i);
  std::size_t insert_stmt(std::size_t i, bool replace);
  std::size_t update_stmt(std::size_t i);
  std::size_t delete_stmt(std::size_t i);
  std::size_t joined_tables(std::size_t i, std::vector<FromEntry>& from);  // UPDATE/DELETE, <= 61
  std::size_t prepare_stmt(std::size_t i);
  std::size_t execute_stmt(std::size_t i);
  std::size_t explain_stmt(std::size_t i, bool analyze);
  std::size_t show_stmt(std::size_t i);
  std::size_t handler_stmt(std::size_t i);
  std::size_t lock_stmt(std::size_t i);
  std::size_t like_or_where(std::size_t i);
  void classify_inner_text(const std::string& text);

  // ---- session, DDL, admin (mysql_session_ddl.cpp)
  std::size_t set_stmt(std::size_t i);
  std::size_t set_assignment(std::size_t i, bool& system_var);
  std::size_t set_statement_for(std::size_t i);  // MariaDB SET STATEMENT ... FOR stmt
  std::size_t create_stmt(std::size_t i);
  std::size_t alter_stmt(std::size_t i);
  std::size_t drop_stmt(std::size_t i);
  // CREATE/ALTER TABLE|INDEX|SEQUENCE body: REFERENCES, engines and file/connection options,
  // RENAME TO / EXCHANGE ... WITH TABLE (alter), AS query (target gets insert).
  std::size_t ddl_scan(std::size_t i, std::size_t target, bool alter);
  std::size_t maintenance_stmt(std::size_t i);
  std::size_t simple_admin_stmt(std::size_t i);
  void set_class(StatementClass k, std::string command);

  const MysqlClassifierOptions& opts() const { return opts_; }
  std::string& current_db() { return current_db_; }

 private:
  void enter();
  void leave() { --depth_; }
  friend struct DepthScope;

  const std::vector<Token>& toks_;
  std::size_t b_, e_;
  const MysqlClassifierOptions& opts_;
  std::string& current_db_;
  int nesting_;  // PREPARE text nesting
  int depth_ = 0;
  bool too_deep_ = false;
  StatementPart part_;
  std::unordered_set<std::string> function_keys_;  // part_.functions, which only grows
  bool uses_values_ = false;
  std::vector<std::vector<std::string>> ctes_;  // visible CTE names, innermost last
};

struct DepthScope {
  explicit DepthScope(Analyzer& a) : a_(a) { a_.enter(); }
  ~DepthScope() { a_.leave(); }
  DepthScope(const DepthScope&) = delete;
  DepthScope& operator=(const DepthScope&) = delete;
  Analyzer& a_;
};

// Analyses the full text (all statements) with the given current database; used by
// classify_mysql and for PREPARE texts (nesting > 0).
StatementInfo analyse_text(std::string_view sql, const MysqlClassifierOptions& opts, int nesting);

}  // namespace segproxy::authz::sql::mysql
