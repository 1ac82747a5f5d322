#pragma once
// Internal to segproxy_sql: the parse-tree walker shared by pg_tree_walk.cpp (generic
// descriptor-driven recursion, tables, functions, CTE scopes, DML statements) and
// pg_statement_kinds.cpp (one case per statement node type).
#include <pg_query/pg_query.pb-c.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "authz/sql/pg_classifier.hpp"
#include "authz/sql/statement_info.hpp"
#include "authz/sql/statement_limits.hpp"

namespace segproxy::authz::sql::detail {

struct Classified {
  StatementClass klass = StatementClass::Unknown;
  std::string command;
};

class Walker {
 public:
  Walker(const ClassifierOptions& opts, StatementPart& part) : opts_(opts), part_(part) {}

  // Top-level entry: classifies one RawStmt's statement into part_ (class, command,
  // tables, functions, reasons). Forbidden beats Unknown beats the statement's class.
  void classify_top(const PgQuery__Node* stmt);

  // --- used by the statement kinds (pg_statement_kinds.cpp) ---
  Classified classify_statement(const PgQuery__Node* stmt);
  // A statement nested in another (PREPARE/EXPLAIN/DECLARE/COPY query, CREATE SCHEMA
  // elements, BEGIN ATOMIC bodies, ...): its class; Forbidden/Unknown are recorded.
  StatementClass classify_nested(const PgQuery__Node* stmt);

  void visit(const ProtobufCMessage* m);  // any message: dispatch or generic recursion
  void visit_node(const PgQuery__Node* n) {
    if (n) visit(&n->base);
  }
  void visit_nodes(std::size_t n, PgQuery__Node* const* v) {
    for (std::size_t i = 0; i < n; ++i) visit_node(v[i]);
  }
  // Recurse into every message-typed field of m except the children listed in skip.
  void walk_children(const ProtobufCMessage* m, std::initializer_list<const void*> skip = {});

  void add_table(const PgQuery__RangeVar* rv, TableOp op, bool cte_resolvable);
  void add_table_name_list(std::size_t n, PgQuery__Node* const* names, TableOp op);
  void add_function_name_list(std::size_t n, PgQuery__Node* const* names);
  void forbid(std::string reason);
  void unknown(std::string reason);

  // DML statements (pg_tree_walk.cpp).
  Classified select_stmt(const PgQuery__SelectStmt* s);
  Classified insert_stmt(const PgQuery__InsertStmt* s);
  Classified update_stmt(const PgQuery__UpdateStmt* s);
  Classified delete_stmt(const PgQuery__DeleteStmt* s);
  Classified merge_stmt(const PgQuery__MergeStmt* s);
  Classified copy_stmt(const PgQuery__CopyStmt* s);

  // Statement kinds (pg_statement_kinds.cpp).
  Classified variable_set(const PgQuery__VariableSetStmt* s);
  Classified ddl_statement(const PgQuery__Node* stmt);

  TableOp default_op = TableOp::Select;  // op of a RangeVar met by generic recursion
  bool into_seen = false;                 // SELECT INTO / CREATE TABLE AS creates a table

  class OpScope {
   public:
    OpScope(Walker& w, TableOp op) : w_(w), saved_(w.default_op) { w.default_op = op; }
    ~OpScope() { w_.default_op = saved_; }
    OpScope(const OpScope&) = delete;
    OpScope& operator=(const OpScope&) = delete;

   private:
    Walker& w_;
    TableOp saved_;
  };

 private:
  class CteScope;
  class Capture;
  // A FROM item as FOR UPDATE/SHARE OF can name it (its alias, else the relation name).
  struct FromName {
    std::string name;            // empty: cannot be named (a join without alias)
    bool lockable = true;        // a relation or subquery; PostgreSQL refuses the others
    std::vector<TableRef> refs;  // the relations it contributes (a subquery: all it reads)
  };
  void from_item(const PgQuery__Node* n, std::vector<FromName>& out);
  void row_locks(const PgQuery__SelectStmt* s, const std::vector<FromName>& from);
  void column_ref(const PgQuery__ColumnRef* c);
  void attribute_call(const PgQuery__Node* field);  // `x.f` may call f(x)
  void with_clause(const PgQuery__WithClause* w);
  bool is_cte_name(std::string_view name) const;
  void add_resolved(std::string schema, std::string name, bool given, TableOp op);
  void func_call(const PgQuery__FuncCall* f);
  void add_function(std::string schema, std::string name, std::vector<std::string> constant_args = {});
  bool reads_columns(const ProtobufCMessage* m) const;  // contains a ColumnRef
  void target_reads(const PgQuery__RangeVar* rv, std::initializer_list<const ProtobufCMessage*> parts,
                    std::size_t n_list, PgQuery__Node* const* list);

  // part_.tables / functions / row_locks only grow, each entry once: membership by
  // hash, not a linear search per entry (100k distinct tables took minutes).
  static std::string key_of(const std::string& schema, const std::string& name) {
    return std::to_string(schema.size()) + ":" + schema + name;
  }
  static std::string key_of(const TableRef& t) {
    return "t" + key_of(t.schema, t.name) + (t.schema_given ? "+" : "-") + static_cast<char>('a' + static_cast<int>(t.op));
  }
  struct SeenKeys {
    std::unordered_set<std::string> keys;
    bool insert(std::string k) { return keys.insert(std::move(k)).second; }
  };
  void push_cte_name(std::string name) {
    ++cte_counts_[name];
    cte_names_.push_back(std::move(name));
  }
  void pop_cte_names(std::size_t keep) {
    while (cte_names_.size() > keep) {
      const auto it = cte_counts_.find(cte_names_.back());
      if (it != cte_counts_.end() && --it->second == 0) cte_counts_.erase(it);
      cte_names_.pop_back();
    }
  }

  const ClassifierOptions& opts_;
  StatementPart& part_;
  SeenKeys seen_;
  std::vector<std::string> cte_names_;  // visible CTE names (scoped), counted in cte_counts_
  std::unordered_map<std::string, std::size_t> cte_counts_;
  std::vector<std::vector<TableRef>*> captures_;  // every add_resolved is appended to these
  bool lock_all_ = false;  // some FOR UPDATE/SHARE is not mapped to named relations
  int depth_ = 0;
  std::string forbidden_reason_;
  std::string unknown_reason_;
};

// Helpers shared by both files.
const char* str_or_empty(const char* s);
std::string node_type_name(const PgQuery__Node* n);
const ProtobufCMessage* node_inner(const PgQuery__Node* n);
std::string lower_ascii(std::string_view s);
inline constexpr int kMaxDepth = 2000;           // tree levels walked / unpacked
// pg_allowed_settings.cpp: set_config('search_path', '', true|false) with constant
// arguments -> its arguments (name lower-cased, "", "true"/"false"), else empty;
// whether a SET is `SET [LOCAL|SESSION] search_path = ''`; whether a SELECT is exactly
// pg_dump's `SELECT set_config(name, '...', false) FROM pg_settings WHERE name =
// 'restrict_nonsystem_relation_kind'`.
std::vector<std::string> empty_search_path_args(const PgQuery__FuncCall* f);
bool is_empty_search_path_set(const PgQuery__VariableSetStmt* s);
bool is_restrict_relation_kind_select(const PgQuery__SelectStmt* s);

}  // namespace segproxy::authz::sql::detail

namespace segproxy::authz::sql::detail {
// Keyed hash of a parse tree without literal values and locations (pg_fingerprint.cpp).
std::uint64_t fingerprint_tree(const PgQuery__ParseResult* tree, const SipKey& key);
// The linear pre-scan before libpg_query (pg_text_limits.cpp).
struct TextScan {
  std::size_t depth = 0;          // estimated nesting (StatementLimits::max_parse_depth)
  std::size_t statements = 0;     // non-empty statements
  std::uint64_t rescan_cost = 0;  // characters libpg_query's scanner may (re)read
  std::size_t tokens = 0;         // lexical tokens (StatementLimits::max_statement_tokens)
};
inline constexpr std::uint64_t kScannerWorkPerByte = 32;
inline constexpr std::uint64_t kScannerWorkSlack = 1u << 20;
TextScan scan_pg_text(std::string_view sql);
// false: `info` is the refusal (54000 / 54001). true: `depth` = the estimated nesting.
bool pg_text_within_limits(std::string_view sql, const StatementLimits& limits, StatementInfo& info,
                           std::size_t& depth);
// Stack-exhaustion guards (pg_depth_guard.cpp).
bool wire_depth_exceeds(const std::uint8_t* data, std::size_t len, std::size_t limit);
// Bytes of stack left below the caller's frame on this thread (0 if unknown).
std::size_t stack_room();
// Stack the parse of a text with estimated nesting `depth` may need (measured, with margin).
std::size_t stack_needed(std::size_t depth);
}  // namespace segproxy::authz::sql::detail
