// Parse-tree walking for the PostgreSQL classifier: a generic recursion driven by the
// protobuf-c descriptors (so every node type libpg_query can produce is descended into,
// including ones this file never names), plus the few nodes whose position changes
// their meaning: RangeVar (a relation, or a CTE name), FuncCall, WITH scopes, the
// target relations of INSERT/UPDATE/DELETE/MERGE/COPY, INTO, FOR UPDATE, REFERENCES.
#include <algorithm>
#include <cstring>
#include <utility>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {
namespace {

const ProtobufCMessage* field_message(const ProtobufCMessage* m, const ProtobufCFieldDescriptor& f) {
  const char* base = reinterpret_cast<const char*>(m);
  if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    const auto which = *reinterpret_cast<const std::uint32_t*>(base + f.quantifier_offset);
    if (which != f.id) return nullptr;
  }
  return *reinterpret_cast<const ProtobufCMessage* const*>(base + f.offset);
}

}  // namespace

// The one message a Node holds (all union members are message pointers at one address).
const ProtobufCMessage* node_inner(const PgQuery__Node* n) {
  if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET) return nullptr;
  const ProtobufCMessage* inner = nullptr;
  std::memcpy(&inner, &n->alias, sizeof inner);
  return inner;
}

namespace {

bool contains_message_of(const ProtobufCMessage* m, const ProtobufCMessageDescriptor* want, int depth) {
  if (!m || depth > kMaxDepth) return m != nullptr;  // too deep: assume yes (conservative)
  if (m->descriptor == want) return true;
  if (m->descriptor == &pg_query__node__descriptor)
    return contains_message_of(node_inner(reinterpret_cast<const PgQuery__Node*>(m)), want, depth + 1);
  const auto* d = m->descriptor;
  const char* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const auto& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      const auto n = *reinterpret_cast<const std::size_t*>(base + f.quantifier_offset);
      const auto* arr = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
      for (std::size_t k = 0; k < n; ++k)
        if (contains_message_of(arr[k], want, depth + 1)) return true;
    } else if (contains_message_of(field_message(m, f), want, depth + 1)) {
      return true;
    }
  }
  return false;
}

}  // namespace

const char* str_or_empty(const char* s) { return s ? s : ""; }

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

std::string node_type_name(const PgQuery__Node* n) {
  if (!n) return "(null)";
  const auto* f = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
                                                          static_cast<unsigned>(n->node_case));
  if (!f) return "(unset node)";
  const auto* inner = field_message(&n->base, *f);
  return inner ? inner->descriptor->short_name : f->name;
}

// RAII: while it lives, every relation reported (before de-duplication) is also
// appended to `into` (nested captures all receive it).
class Walker::Capture {
 public:
  Capture(Walker& w, std::vector<TableRef>& into) : w_(w) { w.captures_.push_back(&into); }
  ~Capture() { w_.captures_.pop_back(); }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

 private:
  Walker& w_;
};

// RAII: CTE names pushed while it lives are popped at its end.
class Walker::CteScope {
 public:
  explicit CteScope(Walker& w) : w_(w), size_(w.cte_names_.size()) {}
  ~CteScope() { w_.pop_cte_names(size_); }
  CteScope(const CteScope&) = delete;
  CteScope& operator=(const CteScope&) = delete;

 private:
  Walker& w_;
  std::size_t size_;
};

void Walker::forbid(std::string reason) {
  if (forbidden_reason_.empty()) forbidden_reason_ = std::move(reason);
}

void Walker::unknown(std::string reason) {
  if (unknown_reason_.empty()) unknown_reason_ = std::move(reason);
}

void Walker::walk_children(const ProtobufCMessage* m, std::initializer_list<const void*> skip) {
  const auto skipped = [&](const void* p) {
    return std::find(skip.begin(), skip.end(), p) != skip.end();
  };
  const auto* d = m->descriptor;
  if (d == &pg_query__node__descriptor) {
    const auto* inner = node_inner(reinterpret_cast<const PgQuery__Node*>(m));
    if (inner && !skipped(inner)) visit(inner);
    return;
  }
  const char* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const auto& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      const auto n = *reinterpret_cast<const std::size_t*>(base + f.quantifier_offset);
      const auto* arr = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
      if (n == 0 || skipped(arr)) continue;
      for (std::size_t k = 0; k < n; ++k) visit(arr[k]);
    } else {
      const auto* child = field_message(m, f);
      if (child && !skipped(child)) visit(child);
    }
  }
}

void Walker::visit(const ProtobufCMessage* m) {
  if (!m) return;
  if (depth_ >= kMaxDepth) {
    unknown("statement is nested too deeply to be classified");
    return;
  }
  ++depth_;
  const auto* d = m->descriptor;
  if (d == &pg_query__node__descriptor) {
    const auto* n = reinterpret_cast<const PgQuery__Node*>(m);
    const auto* inner = node_inner(n);
    const char* type = inner ? inner->descriptor->short_name : "";
    const std::size_t len = std::strlen(type);
    const bool is_statement = len > 4 && std::strcmp(type + len - 4, "Stmt") == 0;
    if (is_statement)
      classify_nested(n);
    else
      walk_children(m);
  } else if (d == &pg_query__range_var__descriptor) {
    add_table(reinterpret_cast<const PgQuery__RangeVar*>(m), default_op, true);
  } else if (d == &pg_query__func_call__descriptor) {
    func_call(reinterpret_cast<const PgQuery__FuncCall*>(m));
  } else if (d == &pg_query__select_stmt__descriptor) {  // set-operation arms
    select_stmt(reinterpret_cast<const PgQuery__SelectStmt*>(m));
  } else if (d == &pg_query__into_clause__descriptor) {
    const auto* into = reinterpret_cast<const PgQuery__IntoClause*>(m);
    into_seen = true;
    if (into->rel) add_table(into->rel, TableOp::Insert, false);
    walk_children(m, {into->rel});
  } else if (d == &pg_query__with_clause__descriptor) {
    // Only statements own WITH clauses and they handle them (scoping) themselves.
    unknown("WITH clause in an unexpected position");
  } else if (d == &pg_query__locking_clause__descriptor) {
    // FOR UPDATE/SHARE [OF name] outside select_stmt's handling (which maps the names
    // to FROM items): every table read counts as locked. The names are FROM items
    // already reported, not relations of their own.
    part_.locks_rows = true;
    lock_all_ = true;
  } else if (d == &pg_query__column_ref__descriptor) {
    column_ref(reinterpret_cast<const PgQuery__ColumnRef*>(m));
  } else if (d == &pg_query__a__indirection__descriptor) {
    // (expr).f is f(expr) as well when expr's row type has no column f.
    const auto* ind = reinterpret_cast<const PgQuery__AIndirection*>(m);
    for (std::size_t i = 0; i < ind->n_indirection; ++i) attribute_call(ind->indirection[i]);
    walk_children(m);
  } else if (d == &pg_query__constraint__descriptor) {
    const auto* c = reinterpret_cast<const PgQuery__Constraint*>(m);
    if (c->pktable) add_table(c->pktable, TableOp::References, false);
    OpScope op(*this, TableOp::Select);
    walk_children(m, {c->pktable});
  } else if (d == &pg_query__table_like_clause__descriptor) {
    const auto* like = reinterpret_cast<const PgQuery__TableLikeClause*>(m);
    if (like->relation) add_table(like->relation, TableOp::Select, false);
  } else if (d == &pg_query__range_table_sample__descriptor) {
    const auto* ts = reinterpret_cast<const PgQuery__RangeTableSample*>(m);
    add_function_name_list(ts->n_method, ts->method);  // TABLESAMPLE method is a function
    walk_children(m, {ts->method});
  } else if (d == &pg_query__a__expr__descriptor) {
    // OPERATOR(schema.op): an operator is a function; outside pg_catalog it may be
    // user-defined code, which the policy cannot see, so it is refused.
    const auto* e = reinterpret_cast<const PgQuery__AExpr*>(m);
    if (e->n_name >= 2 && e->name[0] && e->name[0]->node_case == PG_QUERY__NODE__NODE_STRING) {
      const std::string schema = str_or_empty(e->name[0]->string->sval);
      if (schema != "pg_catalog")
        unknown("operator in schema \"" + schema + "\" is not supported by segproxy (user-defined operators run code)");
    }
    walk_children(m);
  } else if (d == &pg_query__a__const__descriptor) {
    // literal: nothing inside
  } else {
    walk_children(m);
  }
  --depth_;
}

StatementClass Walker::classify_nested(const PgQuery__Node* stmt) {
  return classify_statement(stmt).klass;
}

bool Walker::is_cte_name(std::string_view name) const {
  return cte_counts_.find(std::string(name)) != cte_counts_.end();
}

void Walker::add_resolved(std::string schema, std::string name, bool given, TableOp op) {
  TableRef ref{std::move(schema), std::move(name), given, op};
  for (auto* c : captures_) c->push_back(ref);
  if (seen_.insert(key_of(ref))) part_.tables.push_back(std::move(ref));
}

void Walker::add_table(const PgQuery__RangeVar* rv, TableOp op, bool cte_resolvable) {
  const std::string catalog = str_or_empty(rv->catalogname);
  std::string schema = str_or_empty(rv->schemaname);
  std::string name = str_or_empty(rv->relname);
  if (name.empty()) {
    unknown("relation reference without a name");
    return;
  }
  if (!catalog.empty() && catalog != opts_.current_database) {
    unknown("three-part relation name " + catalog + "." + schema + "." + name +
            " (database-qualified) is not supported");
    return;
  }
  const bool writes = op == TableOp::Insert || op == TableOp::Update || op == TableOp::Delete ||
                      op == TableOp::Truncate || op == TableOp::CopyFrom;
  if (writes && name == "pg_settings" && (schema.empty() || schema == "pg_catalog"))
    forbid("writing pg_settings changes server settings (it calls set_config)");
  if (!schema.empty()) {
    add_resolved(std::move(schema), std::move(name), true, op);
    return;
  }
  if (cte_resolvable && is_cte_name(name)) return;  // a WITH query, not a relation
  if (name.rfind("pg_", 0) == 0 && opts_.default_schema != "pg_catalog")
    add_resolved("pg_catalog", name, false, op);  // pg_catalog is searched first
  add_resolved(opts_.default_schema, std::move(name), false, op);
}

void Walker::add_table_name_list(std::size_t n, PgQuery__Node* const* names, TableOp op) {
  // A qualified name given as a list of String nodes (DROP TABLE, COMMENT ON TABLE ...).
  PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < n; ++i) {
    if (!names[i] || names[i]->node_case != PG_QUERY__NODE__NODE_STRING) {
      unknown("relation name is not a plain name list");
      return;
    }
    parts.emplace_back(str_or_empty(names[i]->string->sval));
  }
  if (parts.empty() || parts.size() > 3) {
    unknown("relation name with " + std::to_string(parts.size()) + " parts");
    return;
  }
  rv.relname = parts.back().data();
  if (parts.size() >= 2) rv.schemaname = parts[parts.size() - 2].data();
  if (parts.size() == 3) rv.catalogname = parts[0].data();
  add_table(&rv, op, false);
}

void Walker::add_function(std::string schema, std::string name, std::vector<std::string> constant_args) {
  if (name == "set_config" && constant_args.empty())
    forbid("set_config() changes server settings (search_path, role, ...)");
  FunctionRef ref{std::move(schema), std::move(name), false, std::move(constant_args)};
  std::string key = "f" + key_of(ref.schema, ref.name);
  for (const auto& a : ref.constant_args) key.append(1, '\0').append(a);  // set_config's arguments count
  if (seen_.insert(key)) part_.functions.push_back(std::move(ref));
}

void Walker::add_function_name_list(std::size_t n, PgQuery__Node* const* names) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < n; ++i) {
    if (!names[i] || names[i]->node_case != PG_QUERY__NODE__NODE_STRING) {
      unknown("function name is not a plain name list");
      return;
    }
    parts.emplace_back(str_or_empty(names[i]->string->sval));
  }
  if (parts.size() == 1) {
    add_function("", std::move(parts[0]));
  } else if (parts.size() == 2) {
    add_function(std::move(parts[0]), std::move(parts[1]));
  } else {
    unknown("function name with " + std::to_string(parts.size()) + " parts is not supported");
  }
}

// PostgreSQL's functional notation (ParseFuncOrColumn with is_column): `x.f`, `s.t.f`,
// `(expr).f` call f(x) when no column f exists and f takes x's row type. Only the
// catalog knows, so names in opts_.attribute_functions are reported as calls.
void Walker::attribute_call(const PgQuery__Node* field) {
  if (!opts_.attribute_functions || !field || field->node_case != PG_QUERY__NODE__NODE_STRING) return;
  const std::string_view name = str_or_empty(field->string->sval);
  if (opts_.attribute_functions->find(name) != opts_.attribute_functions->end())
    add_function("", std::string(name));
}

void Walker::column_ref(const PgQuery__ColumnRef* c) {
  // A one-part name is a column or a whole-row reference, never a call.
  if (c->n_fields >= 2) attribute_call(c->fields[c->n_fields - 1]);
  walk_children(&c->base);
}

void Walker::func_call(const PgQuery__FuncCall* f) {
  if (auto args = empty_search_path_args(f); !args.empty()) {
    const bool qualified = f->n_funcname == 2;
    add_function(qualified ? "pg_catalog" : "", "set_config", std::move(args));
    walk_children(&f->base, {f->funcname});
    return;
  }
  add_function_name_list(f->n_funcname, f->funcname);
  walk_children(&f->base, {f->funcname});
}

bool Walker::reads_columns(const ProtobufCMessage* m) const {
  return contains_message_of(m, &pg_query__column_ref__descriptor, 0);
}

// UPDATE/DELETE/INSERT targets are also read (SELECT privilege) when WHERE, SET
// expressions or RETURNING mention columns.
void Walker::target_reads(const PgQuery__RangeVar* rv,
                          std::initializer_list<const ProtobufCMessage*> parts, std::size_t n_list,
                          PgQuery__Node* const* list) {
  bool reads = false;
  for (const auto* p : parts) reads = reads || (p && reads_columns(p));
  for (std::size_t i = 0; i < n_list && !reads; ++i) reads = reads_columns(&list[i]->base);
  if (reads) add_table(rv, TableOp::Select, false);
}

void Walker::with_clause(const PgQuery__WithClause* w) {
  std::vector<const PgQuery__CommonTableExpr*> ctes;
  for (std::size_t i = 0; i < w->n_ctes; ++i) {
    const auto* n = w->ctes[i];
    if (!n || n->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) {
      unknown("WITH list holds a " + node_type_name(n));
      return;
    }
    ctes.push_back(n->common_table_expr);
  }
  // WITH RECURSIVE: every name is visible in every member; otherwise a member sees only
  // the ones before it (so `WITH t AS (SELECT * FROM t)` reads the real table t).
  if (w->recursive)
    for (const auto* c : ctes) push_cte_name(str_or_empty(c->ctename));
  for (const auto* c : ctes) {
    OpScope op(*this, TableOp::Select);
    visit_node(c->ctequery);
    if (c->search_clause) visit(&c->search_clause->base);
    if (c->cycle_clause) visit(&c->cycle_clause->base);
    if (!w->recursive) push_cte_name(str_or_empty(c->ctename));
  }
}

// One FROM list entry (and, for a join, the entries inside it) as FOR UPDATE OF sees
// it: PostgreSQL's transformLockingClause matches each OF name against the range table
// entries of that query level by eref name (alias, else relation name; joins only with
// an alias or USING alias). Every node is still visited exactly once.
void Walker::from_item(const PgQuery__Node* n, std::vector<FromName>& out) {
  if (!n) return;
  if (depth_ >= kMaxDepth) {
    unknown("statement is nested too deeply to be classified");
    return;
  }
  ++depth_;
  FromName item;
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR: {
      const auto* rv = n->range_var;
      const std::string rel = str_or_empty(rv->relname);
      item.name = rv->alias ? str_or_empty(rv->alias->aliasname) : rel;
      // An unqualified name of a WITH query: PostgreSQL refuses to lock it.
      if (str_or_empty(rv->schemaname)[0] == '\0' && str_or_empty(rv->catalogname)[0] == '\0' &&
          is_cte_name(rel))
        item.lockable = false;
      Capture cap(*this, item.refs);
      visit_node(n);
      break;
    }
    case PG_QUERY__NODE__NODE_RANGE_TABLE_SAMPLE: {
      const auto* ts = n->range_table_sample;
      if (ts->relation && ts->relation->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) {
        const auto* rv = ts->relation->range_var;
        item.name = rv->alias ? str_or_empty(rv->alias->aliasname) : str_or_empty(rv->relname);
      } else {
        item.lockable = false;
      }
      Capture cap(*this, item.refs);
      visit_node(n);
      break;
    }
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
      const auto* sub = n->range_subselect;
      if (sub->alias) item.name = str_or_empty(sub->alias->aliasname);
      Capture cap(*this, item.refs);  // locking a subquery locks what it reads
      visit_node(n);
      break;
    }
    case PG_QUERY__NODE__NODE_JOIN_EXPR: {
      const auto* j = n->join_expr;
      const std::size_t first = out.size();
      from_item(j->larg, out);
      from_item(j->rarg, out);
      {
        Capture cap(*this, item.refs);
        walk_children(&j->base, {j->larg, j->rarg});  // ON/USING, aliases
      }
      for (std::size_t i = first; i < out.size(); ++i)
        item.refs.insert(item.refs.end(), out[i].refs.begin(), out[i].refs.end());
      if (j->alias) item.name = str_or_empty(j->alias->aliasname);
      else if (j->join_using_alias) item.name = str_or_empty(j->join_using_alias->aliasname);
      item.lockable = false;  // "FOR UPDATE cannot be applied to a join"
      break;
    }
    default: {  // functions, XMLTABLE, ...: PostgreSQL cannot lock them
      item.lockable = false;
      if (n->node_case == PG_QUERY__NODE__NODE_RANGE_FUNCTION && n->range_function->alias)
        item.name = str_or_empty(n->range_function->alias->aliasname);
      Capture cap(*this, item.refs);
      visit_node(n);
      break;
    }
  }
  out.push_back(std::move(item));
  --depth_;
}

// FOR UPDATE/SHARE [OF name, ...] of one SELECT level. Named relations and subqueries
// go to row_locks; anything else (no OF list, a qualified or unknown name, a join,
// function or WITH query, which PostgreSQL refuses) falls back to "every table read".
void Walker::row_locks(const PgQuery__SelectStmt* s, const std::vector<FromName>& from) {
  part_.locks_rows = true;
  const auto lock = [&](const TableRef& t) {
    if (seen_.insert("l" + key_of(t))) part_.row_locks.push_back(t);
  };
  for (std::size_t i = 0; i < s->n_locking_clause; ++i) {
    const auto* n = s->locking_clause[i];
    if (!n || n->node_case != PG_QUERY__NODE__NODE_LOCKING_CLAUSE) {
      lock_all_ = true;
      continue;
    }
    const auto* lc = n->locking_clause;
    if (lc->n_locked_rels == 0) lock_all_ = true;
    for (std::size_t k = 0; k < lc->n_locked_rels; ++k) {
      const auto* r = lc->locked_rels[k];
      if (!r || r->node_case != PG_QUERY__NODE__NODE_RANGE_VAR ||
          str_or_empty(r->range_var->schemaname)[0] != '\0' ||
          str_or_empty(r->range_var->catalogname)[0] != '\0') {
        lock_all_ = true;  // PostgreSQL requires unqualified names here
        continue;
      }
      const std::string_view want = str_or_empty(r->range_var->relname);
      bool found = false;
      for (const FromName& f : from) {  // every match (PostgreSQL takes the first)
        if (f.name.empty() || f.name != want) continue;
        found = true;
        if (!f.lockable) lock_all_ = true;
        for (const TableRef& t : f.refs) lock(t);
      }
      if (!found) lock_all_ = true;  // "not found in FROM clause": the backend refuses
    }
  }
}

Classified Walker::select_stmt(const PgQuery__SelectStmt* s) {
  OpScope op(*this, TableOp::Select);
  CteScope scope(*this);
  if (s->with_clause) with_clause(s->with_clause);
  if (s->n_locking_clause == 0) {
    walk_children(&s->base, {s->with_clause});  // INTO is handled by visit()
  } else {
    std::vector<FromName> from;
    for (std::size_t i = 0; i < s->n_from_clause; ++i) from_item(s->from_clause[i], from);
    walk_children(&s->base, {s->with_clause, s->from_clause, s->locking_clause});
    row_locks(s, from);
  }
  if (s->into_clause) return {StatementClass::Ddl, "SELECT INTO"};
  if (s->n_values_lists > 0 && s->n_from_clause == 0) return {StatementClass::Dml, "VALUES"};
  return {StatementClass::Dml, "SELECT"};
}

Classified Walker::insert_stmt(const PgQuery__InsertStmt* s) {
  OpScope op(*this, TableOp::Select);
  CteScope scope(*this);
  if (s->with_clause) with_clause(s->with_clause);
  if (!s->relation) {
    unknown("INSERT without a target relation");
    return {StatementClass::Unknown, "INSERT"};
  }
  add_table(s->relation, TableOp::Insert, false);
  if (const auto* oc = s->on_conflict_clause) {
    if (oc->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE)
      add_table(s->relation, TableOp::Update, false);
    target_reads(s->relation, {&oc->base}, 0, nullptr);
  }
  target_reads(s->relation, {}, s->n_returning_list, s->returning_list);
  walk_children(&s->base, {s->with_clause, s->relation});
  return {StatementClass::Dml, "INSERT"};
}

Classified Walker::update_stmt(const PgQuery__UpdateStmt* s) {
  OpScope op(*this, TableOp::Select);
  CteScope scope(*this);
  if (s->with_clause) with_clause(s->with_clause);
  if (!s->relation) {
    unknown("UPDATE without a target relation");
    return {StatementClass::Unknown, "UPDATE"};
  }
  add_table(s->relation, TableOp::Update, false);
  target_reads(s->relation, {s->where_clause ? &s->where_clause->base : nullptr},
               s->n_returning_list, s->returning_list);
  target_reads(s->relation, {}, s->n_target_list, s->target_list);
  walk_children(&s->base, {s->with_clause, s->relation});
  return {StatementClass::Dml, "UPDATE"};
}

Classified Walker::delete_stmt(const PgQuery__DeleteStmt* s) {
  OpScope op(*this, TableOp::Select);
  CteScope scope(*this);
  if (s->with_clause) with_clause(s->with_clause);
  if (!s->relation) {
    unknown("DELETE without a target relation");
    return {StatementClass::Unknown, "DELETE"};
  }
  add_table(s->relation, TableOp::Delete, false);
  target_reads(s->relation, {s->where_clause ? &s->where_clause->base : nullptr},
               s->n_returning_list, s->returning_list);
  walk_children(&s->base, {s->with_clause, s->relation});
  return {StatementClass::Dml, "DELETE"};
}

Classified Walker::merge_stmt(const PgQuery__MergeStmt* s) {
  OpScope op(*this, TableOp::Select);
  CteScope scope(*this);
  if (s->with_clause) with_clause(s->with_clause);
  if (!s->relation) {
    unknown("MERGE without a target relation");
    return {StatementClass::Unknown, "MERGE"};
  }
  // The join condition reads the target; each WHEN action writes it.
  add_table(s->relation, TableOp::Select, false);
  for (std::size_t i = 0; i < s->n_merge_when_clauses; ++i) {
    const auto* n = s->merge_when_clauses[i];
    if (!n || n->node_case != PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE) {
      unknown("MERGE holds a " + node_type_name(n));
      continue;
    }
    switch (n->merge_when_clause->command_type) {
      case PG_QUERY__CMD_TYPE__CMD_INSERT: add_table(s->relation, TableOp::Insert, false); break;
      case PG_QUERY__CMD_TYPE__CMD_UPDATE: add_table(s->relation, TableOp::Update, false); break;
      case PG_QUERY__CMD_TYPE__CMD_DELETE: add_table(s->relation, TableOp::Delete, false); break;
      case PG_QUERY__CMD_TYPE__CMD_NOTHING: break;
      default: unknown("MERGE action of an unknown kind"); break;
    }
  }
  walk_children(&s->base, {s->with_clause, s->relation});
  return {StatementClass::Dml, "MERGE"};
}

Classified Walker::copy_stmt(const PgQuery__CopyStmt* s) {
  if (s->is_program)
    forbid("COPY ... PROGRAM runs a program on the database server");
  else if (s->filename && s->filename[0] != '\0')
    forbid("COPY to or from a server-side file");
  if (s->relation) add_table(s->relation, s->is_from ? TableOp::CopyFrom : TableOp::CopyTo, false);
  if (s->query) {
    // COPY (query) TO: every relation the query reads is also copied out.
    const std::size_t before = part_.tables.size();
    classify_nested(s->query);
    std::vector<TableRef> copied;
    for (std::size_t i = before; i < part_.tables.size(); ++i)
      if (part_.tables[i].op == TableOp::Select) copied.push_back(part_.tables[i]);
    for (auto& t : copied) add_resolved(std::move(t.schema), std::move(t.name), t.schema_given,
                                        TableOp::CopyTo);
  }
  OpScope op(*this, TableOp::Select);
  walk_children(&s->base, {s->relation, s->query});
  return {StatementClass::Dml, s->is_from ? "COPY FROM" : "COPY TO"};
}

}  // namespace segproxy::authz::sql::detail
