// The allow-list proof walk (pg_proof.hpp). Unlike the policy classifier's walk, which
// must find every relation and function, this one must find a reason for doubt: every
// node kind not listed below, every name not on the fixed lists, every relation the
// catalog does not vouch for ends the proof ("any doubt: not it").
#include "authz/wal/pg_proof.hpp"

#include <algorithm>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "authz/sql/pg_walker.hpp"
#include "authz/wal/builtin_lists.hpp"

namespace segproxy::authz::wal {
namespace {

using sql::detail::node_inner;
using sql::detail::str_or_empty;

const ProtobufCMessage* field_message(const ProtobufCMessage* m, const ProtobufCFieldDescriptor& f) {
  const char* base = reinterpret_cast<const char*>(m);
  if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    const auto which = *reinterpret_cast<const std::uint32_t*>(base + f.quantifier_offset);
    if (which != f.id) return nullptr;
  }
  return *reinterpret_cast<const ProtobufCMessage* const*>(base + f.offset);
}

// Node kinds that carry no effect of their own: their children are walked.
bool passthrough(const ProtobufCMessageDescriptor* d) {
  static constexpr const ProtobufCMessageDescriptor* kListed[] = {
      &pg_query__res_target__descriptor,      &pg_query__param_ref__descriptor,
      &pg_query__bool_expr__descriptor,       &pg_query__null_test__descriptor,
      &pg_query__boolean_test__descriptor,    &pg_query__case_expr__descriptor,
      &pg_query__case_when__descriptor,       &pg_query__coalesce_expr__descriptor,
      &pg_query__min_max_expr__descriptor,    &pg_query__sqlvalue_function__descriptor,
      &pg_query__a__star__descriptor,         &pg_query__a__indices__descriptor,
      &pg_query__a__array_expr__descriptor,   &pg_query__row_expr__descriptor,
      &pg_query__join_expr__descriptor,       &pg_query__range_subselect__descriptor,
      &pg_query__range_function__descriptor,  &pg_query__alias__descriptor,
      &pg_query__list__descriptor,            &pg_query__string__descriptor,
      &pg_query__integer__descriptor,         &pg_query__float__descriptor,
      &pg_query__boolean__descriptor,         &pg_query__bit_string__descriptor,
      &pg_query__sort_by__descriptor,         &pg_query__window_def__descriptor,
      &pg_query__grouping_set__descriptor,    &pg_query__collate_clause__descriptor,
      &pg_query__named_arg_expr__descriptor,  &pg_query__with_clause__descriptor,
      &pg_query__common_table_expr__descriptor, &pg_query__ctesearch_clause__descriptor,
      &pg_query__ctecycle_clause__descriptor, &pg_query__set_to_default__descriptor,
      &pg_query__multi_assign_ref__descriptor, &pg_query__on_conflict_clause__descriptor,
      &pg_query__infer_clause__descriptor,    &pg_query__index_elem__descriptor,
      &pg_query__merge_when_clause__descriptor, &pg_query__raw_stmt__descriptor,
  };
  return std::find(std::begin(kListed), std::end(kListed), d) != std::end(kListed);
}

class Prover {
 public:
  explicit Prover(const ClassContext& ctx) : ctx_(ctx), catalog_(ctx.usable_catalog()) {}

  MessageClass run(const PgQuery__Node* stmt, std::string command) {
    collect_ctes(&stmt->base, 0);
    visit(&stmt->base);
    for (const auto* rv : reads_) read_relation(rv);
    if (!doubt_.empty()) return escaping(command + ": " + doubt_);
    if (writes_) return contained(command);
    return read_only(command);
  }

 private:
  void doubt(std::string reason) {
    if (doubt_.empty()) doubt_ = std::move(reason);
  }

  void walk_children(const ProtobufCMessage* m, std::initializer_list<const void*> skip = {}) {
    const auto skipped = [&](const void* p) { return std::find(skip.begin(), skip.end(), p) != skip.end(); };
    const auto* d = m->descriptor;
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

  // Every WITH query name anywhere in the statement (scoping is not followed: a name
  // that is also a catalog relation is checked as that relation too).
  void collect_ctes(const ProtobufCMessage* m, int depth) {
    if (!m || depth > sql::detail::kMaxDepth) return;
    if (m->descriptor == &pg_query__node__descriptor) {
      collect_ctes(node_inner(reinterpret_cast<const PgQuery__Node*>(m)), depth + 1);
      return;
    }
    if (m->descriptor == &pg_query__common_table_expr__descriptor)
      ctes_.insert(str_or_empty(reinterpret_cast<const PgQuery__CommonTableExpr*>(m)->ctename));
    const auto* d = m->descriptor;
    const char* base = reinterpret_cast<const char*>(m);
    for (unsigned i = 0; i < d->n_fields; ++i) {
      const auto& f = d->fields[i];
      if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
      if (f.label == PROTOBUF_C_LABEL_REPEATED) {
        const auto n = *reinterpret_cast<const std::size_t*>(base + f.quantifier_offset);
        const auto* arr = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
        for (std::size_t k = 0; k < n; ++k) collect_ctes(arr[k], depth + 1);
      } else {
        collect_ctes(field_message(m, f), depth + 1);
      }
    }
  }

  const RelationFacts* facts(const PgQuery__RangeVar* rv, std::string& shown) {
    if (str_or_empty(rv->catalogname)[0] != '\0') {
      doubt("database-qualified relation");
      return nullptr;
    }
    const std::string name = str_or_empty(rv->relname);
    std::string schema = str_or_empty(rv->schemaname);
    if (schema.empty()) {
      // pg_catalog is searched first: an unqualified pg_ name may be a system relation.
      if (catalog_ && name.rfind("pg_", 0) == 0 && catalog_->find("pg_catalog", name)) schema = "pg_catalog";
      else schema = ctx_.default_schema;
    }
    shown = schema + "." + name;
    if (!catalog_) {
      doubt("relation " + shown + " without a loaded catalog");
      return nullptr;
    }
    const auto* f = catalog_->find(schema, name);
    if (!f) doubt("relation " + shown + " is not in the catalog");
    return f;
  }

  void read_relation(const PgQuery__RangeVar* rv) {
    const std::string name = str_or_empty(rv->relname);
    if (str_or_empty(rv->schemaname)[0] == '\0' && ctes_.count(name)) {
      // A WITH query, or a relation of that name: either must pass.
      if (!catalog_ || !catalog_->find(ctx_.default_schema, name)) return;
    }
    std::string shown;
    const auto* f = facts(rv, shown);
    if (!f) return;
    const bool readable_kind = f->kind == RelationKind::Table || f->kind == RelationKind::View ||
                               f->kind == RelationKind::MaterializedView;
    if (!readable_kind) return doubt("relation " + shown + " is not a table or view");
    if (!f->read_only_ok) return doubt("reading " + shown + " runs unlisted code (view or policy)");
    if (locks_reads_ && !(f->kind == RelationKind::Table && f->transactional))
      doubt("row locks on " + shown + ", not a transactional table");
  }

  void write_relation(const PgQuery__RangeVar* rv) {
    if (!rv) return doubt("write without a target relation");
    std::string shown;
    const auto* f = facts(rv, shown);
    if (!f) return;
    if (f->kind != RelationKind::Table || !f->transactional)
      return doubt("writes " + shown + ", not a transactional table");
    if (!f->hooks_listed_only) return doubt("writing " + shown + " runs unlisted code (trigger, rule, policy or default)");
    writes_ = true;
  }

  // A name list of String nodes: [name] or [pg_catalog, name]; empty when it is neither.
  static std::string builtin_name(std::size_t n, PgQuery__Node* const* names) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < n; ++i) {
      if (!names[i] || names[i]->node_case != PG_QUERY__NODE__NODE_STRING) return {};
      parts.emplace_back(str_or_empty(names[i]->string->sval));
    }
    if (parts.size() == 1) return parts[0];
    if (parts.size() == 2 && parts[0] == "pg_catalog") return parts[1];
    return {};
  }

  void function(std::size_t n, PgQuery__Node* const* names) {
    const std::string name = builtin_name(n, names);
    if (name.empty()) return doubt("calls a function outside pg_catalog");
    if (!pg_listed_function(name)) return doubt("calls " + name + "(), not on the side-effect-free list");
    if (!catalog_) return doubt("calls " + name + "() without a loaded catalog (a user function may shadow it)");
    if (catalog_->user_function_names.count(name)) doubt("calls " + name + "(), also defined outside pg_catalog");
  }

  void operator_name(const std::string& name) {
    if (name.empty()) return doubt("operator outside pg_catalog");
    if (!pg_listed_operator(name)) return doubt("operator " + name + " is not on the side-effect-free list");
    if (!catalog_) return doubt("operator " + name + " without a loaded catalog (a user operator may shadow it)");
    if (catalog_->user_operator_names.count(name)) doubt("operator " + name + ", also defined outside pg_catalog");
  }

  void a_expr(const PgQuery__AExpr* e) {
    const std::string name = builtin_name(e->n_name, e->name);
    operator_name(name);
    if (e->kind >= PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN) {  // BETWEEN runs >= and <=
      operator_name(">=");
      operator_name("<=");
    }
    walk_children(&e->base, {e->name});
  }

  void type_name(const PgQuery__TypeName* t) {
    if (!t) return;
    if (t->pct_type || t->setof) return doubt("%TYPE / SETOF type");
    const std::string name = builtin_name(t->n_names, t->names);
    if (name.empty() || !pg_listed_type(name)) return doubt("cast to a type not on the list");
    for (std::size_t i = 0; i < t->n_typmods; ++i) visit(&t->typmods[i]->base);
  }

  void column_ref(const PgQuery__ColumnRef* c) {
    if (c->n_fields < 2) return;
    const auto* last = c->fields[c->n_fields - 1];
    if (!last || last->node_case != PG_QUERY__NODE__NODE_STRING) return;  // x.*
    if (!catalog_) return doubt("qualified column reference without a loaded catalog (x.f may call f(x))");
    if (catalog_->attribute_functions.count(str_or_empty(last->string->sval)))
      doubt(std::string("x.") + str_or_empty(last->string->sval) + " may call a function");
  }

  void select(const PgQuery__SelectStmt* s) {
    if (s->into_clause) doubt("SELECT INTO creates a table");
    if (s->n_locking_clause > 0) {
      locks_reads_ = true;  // every relation read must be a transactional table
      writes_ = true;
    }
    walk_children(&s->base, {s->into_clause, s->locking_clause});
  }

  void copy(const PgQuery__CopyStmt* s) {
    if (s->is_program || str_or_empty(s->filename)[0] != '\0') return doubt("COPY to or from the server");
    if (s->relation) {
      if (s->is_from) write_relation(s->relation);
      else reads_.push_back(s->relation);
    }
    if (s->query) visit(&s->query->base);
    if (s->where_clause) visit(&s->where_clause->base);
  }

  void visit(const ProtobufCMessage* m) {
    if (!m || !doubt_.empty()) return;
    if (depth_ >= sql::detail::kMaxDepth) return doubt("nested too deeply");
    ++depth_;
    const auto* d = m->descriptor;
    if (d == &pg_query__node__descriptor) {
      const auto* inner = node_inner(reinterpret_cast<const PgQuery__Node*>(m));
      if (inner) visit(inner);
    } else if (d == &pg_query__select_stmt__descriptor) {
      select(reinterpret_cast<const PgQuery__SelectStmt*>(m));
    } else if (d == &pg_query__insert_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__InsertStmt*>(m);
      write_relation(s->relation);
      walk_children(m, {s->relation});
    } else if (d == &pg_query__update_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__UpdateStmt*>(m);
      write_relation(s->relation);
      walk_children(m, {s->relation});
    } else if (d == &pg_query__delete_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__DeleteStmt*>(m);
      write_relation(s->relation);
      walk_children(m, {s->relation});
    } else if (d == &pg_query__merge_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__MergeStmt*>(m);
      write_relation(s->relation);
      walk_children(m, {s->relation});
    } else if (d == &pg_query__copy_stmt__descriptor) {
      copy(reinterpret_cast<const PgQuery__CopyStmt*>(m));
    } else if (d == &pg_query__lock_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__LockStmt*>(m);
      for (std::size_t i = 0; i < s->n_relations; ++i) {
        const auto* n = s->relations[i];
        if (n && n->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) write_relation(n->range_var);
        else doubt("LOCK of something that is not a relation");
      }
    } else if (d == &pg_query__range_var__descriptor) {
      reads_.push_back(reinterpret_cast<const PgQuery__RangeVar*>(m));
    } else if (d == &pg_query__func_call__descriptor) {
      const auto* f = reinterpret_cast<const PgQuery__FuncCall*>(m);
      function(f->n_funcname, f->funcname);
      walk_children(m, {f->funcname});
    } else if (d == &pg_query__a__expr__descriptor) {
      a_expr(reinterpret_cast<const PgQuery__AExpr*>(m));
    } else if (d == &pg_query__type_cast__descriptor) {
      const auto* c = reinterpret_cast<const PgQuery__TypeCast*>(m);
      type_name(c->type_name);
      if (c->arg) visit(&c->arg->base);
    } else if (d == &pg_query__type_name__descriptor) {
      type_name(reinterpret_cast<const PgQuery__TypeName*>(m));
    } else if (d == &pg_query__column_ref__descriptor) {
      column_ref(reinterpret_cast<const PgQuery__ColumnRef*>(m));
    } else if (d == &pg_query__a__indirection__descriptor) {
      const auto* ind = reinterpret_cast<const PgQuery__AIndirection*>(m);
      for (std::size_t i = 0; i < ind->n_indirection; ++i)
        if (ind->indirection[i] && ind->indirection[i]->node_case == PG_QUERY__NODE__NODE_STRING)
          doubt("field selection (expr).f may call a function");
      walk_children(m);
    } else if (d == &pg_query__sub_link__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__SubLink*>(m);
      if (s->n_oper_name > 0) operator_name(builtin_name(s->n_oper_name, s->oper_name));
      walk_children(m, {s->oper_name});
    } else if (d == &pg_query__a__const__descriptor) {
      // a literal
    } else if (passthrough(d)) {
      walk_children(m);
    } else {
      doubt(std::string(d->short_name) + " is not on the proof's list");
    }
    --depth_;
  }

  const ClassContext& ctx_;
  const WalCatalog* catalog_;
  std::string doubt_;
  bool writes_ = false;
  bool locks_reads_ = false;
  std::vector<const PgQuery__RangeVar*> reads_;  // checked at the end (row locks apply to all)
  std::set<std::string, std::less<>> ctes_;
  int depth_ = 0;
};

std::string command_of(const PgQuery__Node* stmt) {
  switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: return "SELECT";
    case PG_QUERY__NODE__NODE_INSERT_STMT: return "INSERT";
    case PG_QUERY__NODE__NODE_UPDATE_STMT: return "UPDATE";
    case PG_QUERY__NODE__NODE_DELETE_STMT: return "DELETE";
    case PG_QUERY__NODE__NODE_MERGE_STMT: return "MERGE";
    case PG_QUERY__NODE__NODE_COPY_STMT: return stmt->copy_stmt->is_from ? "COPY FROM" : "COPY TO";
    case PG_QUERY__NODE__NODE_LOCK_STMT: return "LOCK";
    default: return sql::detail::node_type_name(stmt);
  }
}

}  // namespace

MessageClass prove_pg(const PgQuery__Node* stmt, const ClassContext& ctx) {
  Prover p(ctx);
  return p.run(stmt, command_of(stmt));
}

}  // namespace segproxy::authz::wal
