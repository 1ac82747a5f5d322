// The one search_path a client may set: the empty one (docs/policy.md). With it every
// name must be written qualified (the CVE-2018-1058 guidance; pg_dump's first
// statement), and pg_catalog (and the session's temporary schema) is still searched
// first, so unqualified names resolve no differently from what the classifier assumes
// for them (default_schema, and pg_catalog for catalog names) or do not resolve at all.
#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {

// set_config('search_path', '', true|false) written with constants: its arguments
// (the name lower-cased), else empty. Only this form may reach the policy engine; every
// other set_config call is forbidden by the walker.
std::vector<std::string> empty_search_path_args(const PgQuery__FuncCall* f) {
  if (f->n_args != 3 || f->agg_star || f->agg_distinct || f->func_variadic || f->n_agg_order != 0 ||
      f->agg_filter || f->over || f->n_funcname < 1 || f->n_funcname > 2) {
    return {};
  }
  for (std::size_t i = 0; i < f->n_funcname; ++i) {
    if (!f->funcname[i] || f->funcname[i]->node_case != PG_QUERY__NODE__NODE_STRING) return {};
  }
  const std::string name = str_or_empty(f->funcname[f->n_funcname - 1]->string->sval);
  const std::string schema = f->n_funcname == 2 ? str_or_empty(f->funcname[0]->string->sval) : "";
  if (name != "set_config" || !(schema.empty() || schema == "pg_catalog")) return {};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < 3; ++i) {
    const PgQuery__Node* a = f->args[i];
    if (!a || a->node_case != PG_QUERY__NODE__NODE_A_CONST || a->a_const->isnull) return {};
    const PgQuery__AConst* c = a->a_const;
    if (i < 2 && c->val_case == PG_QUERY__A__CONST__VAL_SVAL && c->sval) {
      const std::string v = str_or_empty(c->sval->sval);
      out.push_back(i == 0 ? lower_ascii(v) : v);
    } else if (i == 2 && c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL && c->boolval) {
      out.emplace_back(c->boolval->boolval ? "true" : "false");
    } else {
      return {};
    }
  }
  if (out[0] != "search_path" || !out[1].empty()) return {};
  return out;
}


bool is_empty_search_path_set(const PgQuery__VariableSetStmt* s) {
  if (s->kind != PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE || s->n_args != 1) return false;
  if (lower_ascii(str_or_empty(s->name)) != "search_path") return false;
  const PgQuery__Node* a = s->args[0];
  if (!a || a->node_case != PG_QUERY__NODE__NODE_A_CONST || a->a_const->isnull) return false;
  const PgQuery__AConst* c = a->a_const;
  return c->val_case == PG_QUERY__A__CONST__VAL_SVAL && c->sval && str_or_empty(c->sval->sval)[0] == '\0';
}

}  // namespace segproxy::authz::sql::detail
