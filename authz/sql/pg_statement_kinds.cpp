// One case per PostgreSQL statement node type: its StatementClass, command text and the
// relations/functions it names. Anything not listed here is Unknown ("statement type X
// is not supported by segproxy"). The session-parameter allow-list lives here too.
#include <array>
#include <string_view>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {
namespace {

// PostgreSQL: "LOCK TABLE ... IN ACCESS SHARE MODE requires SELECT privileges on the
// target table. All other forms of LOCK require table-level UPDATE, DELETE, or TRUNCATE
// privileges." Any mode above ACCESS SHARE (1; the default is ACCESS EXCLUSIVE, 8) can
// block other sessions, so it is judged as an update (stricter than "any of the three").
TableOp lock_op(std::int32_t mode) { return mode <= 1 ? TableOp::Lock : TableOp::Update; }

using SC = StatementClass;

bool is_relation_object(PgQuery__ObjectType t) {
  switch (t) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
      return true;
    default:
      return false;
  }
}

bool is_routine_object(PgQuery__ObjectType t) {
  return t == PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION ||
         t == PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE ||
         t == PG_QUERY__OBJECT_TYPE__OBJECT_ROUTINE ||
         t == PG_QUERY__OBJECT_TYPE__OBJECT_AGGREGATE;
}

// Objects that reach outside the database's tables: code loaded into the server, other
// servers, their credentials. Never allowed (no class grant covers them).
const char* server_reaching_reason(PgQuery__ObjectType t) {
  switch (t) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION:
      return "extensions load code into the server (install them outside the proxy)";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FDW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_SERVER:
    case PG_QUERY__OBJECT_TYPE__OBJECT_USER_MAPPING:
      return "foreign data wrappers, servers and user mappings reach other servers";
    case PG_QUERY__OBJECT_TYPE__OBJECT_LANGUAGE:
      return "procedural languages load code into the server";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TRANSFORM:
      return "transforms attach server code to a language";
    default:
      return nullptr;
  }
}

// The command word of a server-reaching statement (for messages and audit).
const char* server_reaching_command(PgQuery__Node__NodeCase k) {
  switch (k) {
    case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT: return "CREATE EXTENSION";
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT:
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_CONTENTS_STMT: return "ALTER EXTENSION";
    case PG_QUERY__NODE__NODE_CREATE_FDW_STMT: return "CREATE FOREIGN DATA WRAPPER";
    case PG_QUERY__NODE__NODE_ALTER_FDW_STMT: return "ALTER FOREIGN DATA WRAPPER";
    case PG_QUERY__NODE__NODE_CREATE_FOREIGN_SERVER_STMT: return "CREATE SERVER";
    case PG_QUERY__NODE__NODE_ALTER_FOREIGN_SERVER_STMT: return "ALTER SERVER";
    case PG_QUERY__NODE__NODE_CREATE_USER_MAPPING_STMT: return "CREATE USER MAPPING";
    case PG_QUERY__NODE__NODE_ALTER_USER_MAPPING_STMT: return "ALTER USER MAPPING";
    case PG_QUERY__NODE__NODE_DROP_USER_MAPPING_STMT: return "DROP USER MAPPING";
    case PG_QUERY__NODE__NODE_IMPORT_FOREIGN_SCHEMA_STMT: return "IMPORT FOREIGN SCHEMA";
    case PG_QUERY__NODE__NODE_CREATE_FOREIGN_TABLE_STMT: return "CREATE FOREIGN TABLE";
    case PG_QUERY__NODE__NODE_CREATE_PLANG_STMT: return "CREATE LANGUAGE";
    case PG_QUERY__NODE__NODE_CREATE_TRANSFORM_STMT: return "CREATE TRANSFORM";
    default: return "DDL";
  }
}

// The name in a String node (schema / database names in DROP, RENAME, OWNER TO).
std::string string_node(const PgQuery__Node* n) {
  if (n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string) return str_or_empty(n->string->sval);
  return {};
}

std::string object_word(PgQuery__ObjectType t) {
  switch (t) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: return "TABLE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: return "VIEW";
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW: return "MATERIALIZED VIEW";
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE: return "SEQUENCE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE: return "FOREIGN TABLE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: return "INDEX";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION: return "FUNCTION";
    case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE: return "PROCEDURE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA: return "SCHEMA";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE: return "TYPE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN: return "DOMAIN";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER: return "TRIGGER";
    case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION: return "EXTENSION";
    default: return "OBJECT";
  }
}

}  // namespace

void Walker::classify_top(const PgQuery__Node* stmt) {
  Classified c = classify_statement(stmt);
  if (into_seen && c.klass != SC::Forbidden && c.klass != SC::Unknown) c.klass = SC::Ddl;
  part_.command = std::move(c.command);
  part_.row_locks_exact = part_.locks_rows && !lock_all_;
  if (!part_.row_locks_exact) part_.row_locks.clear();
  if (!forbidden_reason_.empty()) {
    part_.klass = SC::Forbidden;
    part_.forbidden_reason = forbidden_reason_;
  } else if (!unknown_reason_.empty()) {
    part_.klass = SC::Unknown;
    part_.forbidden_reason = unknown_reason_;
  } else {
    part_.klass = c.klass;
  }
}

Classified Walker::ddl_statement(const PgQuery__Node* n) {
  OpScope op(*this, TableOp::Alter);
  // Schema/database-level DDL acts on every relation inside: "*" in that schema (schema
  // "*" for a database). An empty name cannot be judged.
  const auto whole = [this](const std::string& schema) {
    if (schema.empty()) {
      unknown("schema or database name missing");
      return;
    }
    TableRef t;
    t.schema = schema;
    t.name = "*";
    t.schema_given = true;
    t.op = TableOp::Alter;
    t.whole_schema = true;
    part_.tables.push_back(std::move(t));
  };
  const auto object_scope = [&](PgQuery__ObjectType type, const PgQuery__Node* object, const char* subname) {
    if (const char* why = server_reaching_reason(type)) forbid(why);
    if (type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA) {
      whole(subname && *subname ? std::string(subname) : string_node(object));
    } else if (type == PG_QUERY__OBJECT_TYPE__OBJECT_DATABASE) {
      whole("*");
    }
  };
  const auto routine = [this](const PgQuery__ObjectWithArgs* o) {
    if (o) add_function_name_list(o->n_objname, o->objname);
  };
  const auto list_items = [](const PgQuery__Node* item, std::size_t& count) -> PgQuery__Node** {
    if (item && item->node_case == PG_QUERY__NODE__NODE_LIST) {
      count = item->list->n_items;
      return item->list->items;
    }
    count = 0;
    return nullptr;
  };
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_DROP_STMT: {
      const auto* s = n->drop_stmt;
      for (std::size_t i = 0; i < s->n_objects; ++i) {
        const auto* o = s->objects[i];
        object_scope(s->remove_type, o, nullptr);
        if (is_relation_object(s->remove_type)) {
          std::size_t cnt = 0;
          auto** items = list_items(o, cnt);
          if (!items) {
            unknown("DROP of a relation given in an unexpected form");
            continue;
          }
          add_table_name_list(cnt, items, TableOp::Alter);
        } else if (is_routine_object(s->remove_type) && o &&
                   o->node_case == PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS) {
          routine(o->object_with_args);
        }
      }
      return {SC::Ddl, "DROP " + object_word(s->remove_type)};
    }
    case PG_QUERY__NODE__NODE_COMMENT_STMT: {
      const auto* s = n->comment_stmt;
      std::size_t cnt = 0;
      auto** items = list_items(s->object, cnt);
      if (is_relation_object(s->objtype) && items) {
        add_table_name_list(cnt, items, TableOp::Alter);
      } else if (s->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN && items && cnt >= 2) {
        add_table_name_list(cnt - 1, items, TableOp::Alter);
      } else if (is_routine_object(s->objtype) && s->object &&
                 s->object->node_case == PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS) {
        routine(s->object->object_with_args);
      }
      return {SC::Ddl, "COMMENT"};
    }
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT: {
      const auto* s = n->create_function_stmt;
      add_function_name_list(s->n_funcname, s->funcname);
      for (std::size_t i = 0; i < s->n_options; ++i) {
        const auto* o = s->options[i];
        if (!o || o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM ||
            lower_ascii(str_or_empty(o->def_elem->defname)) != "language") {
          continue;
        }
        const std::string lang = lower_ascii(string_node(o->def_elem->arg));
        if (lang != "sql" && lang != "plpgsql") forbid("routines in language \"" + lang + "\" run server code");
      }
      // A body given as a string (AS '...', any language) is not analysed: opaque code.
      // SQL-standard bodies (BEGIN ATOMIC ... END, RETURN expr) are walked below.
      part_.opaque_code = s->sql_body == nullptr;
      walk_children(&n->create_function_stmt->base, {s->funcname});  // BEGIN ATOMIC bodies
      return {SC::Ddl, s->is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION"};
    }
    case PG_QUERY__NODE__NODE_ALTER_FUNCTION_STMT:
      routine(n->alter_function_stmt->func);
      return {SC::Ddl, "ALTER " + object_word(n->alter_function_stmt->objtype)};
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
      const auto* s = n->create_trig_stmt;
      add_function_name_list(s->n_funcname, s->funcname);
      walk_children(&n->create_trig_stmt->base, {s->funcname});
      return {SC::Ddl, "CREATE TRIGGER"};
    }
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
      const auto* s = n->create_table_as_stmt;
      if (s->into) visit(&s->into->base);
      into_seen = true;
      classify_nested(s->query);
      return {SC::Ddl, s->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW
                           ? "CREATE MATERIALIZED VIEW"
                           : (s->is_select_into ? "SELECT INTO" : "CREATE TABLE AS")};
    }
    case PG_QUERY__NODE__NODE_RENAME_STMT: {
      const auto* s = n->rename_stmt;
      object_scope(s->rename_type, s->object, s->subname);
      // A relation renamed (or moved, below) needs alter on its new name as well: a
      // name a rule protects cannot be taken over, an unprotected one not given away.
      if (s->relation && is_relation_object(s->rename_type) && s->newname && *s->newname) {
        PgQuery__RangeVar target = *s->relation;
        target.relname = s->newname;
        add_table(&target, TableOp::Alter, false);
      }
      break;
    }
    case PG_QUERY__NODE__NODE_ALTER_OWNER_STMT:
      object_scope(n->alter_owner_stmt->object_type, n->alter_owner_stmt->object, nullptr);
      break;
    case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT: {
      const auto* s = n->alter_object_schema_stmt;
      object_scope(s->object_type, nullptr, nullptr);
      if (s->relation && is_relation_object(s->object_type) && s->newschema && *s->newschema) {
        PgQuery__RangeVar target = *s->relation;
        target.schemaname = s->newschema;
        add_table(&target, TableOp::Alter, false);
      }
      break;
    }
    case PG_QUERY__NODE__NODE_DROPDB_STMT:
      whole("*");
      return {SC::Ddl, "DROP DATABASE"};
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
      if (const auto* rv = n->refresh_mat_view_stmt->relation) {
        add_table(rv, TableOp::Select, false);
        add_table(rv, TableOp::Maintain, false);
      }
      return {SC::Ddl, "REFRESH MATERIALIZED VIEW"};
    default:
      break;
  }
  walk_children(reinterpret_cast<const ProtobufCMessage*>(n));
  static constexpr std::pair<PgQuery__Node__NodeCase, const char*> kNames[] = {
      {PG_QUERY__NODE__NODE_CREATE_STMT, "CREATE TABLE"},
      {PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, "ALTER TABLE"},
      {PG_QUERY__NODE__NODE_INDEX_STMT, "CREATE INDEX"},
      {PG_QUERY__NODE__NODE_VIEW_STMT, "CREATE VIEW"},
      {PG_QUERY__NODE__NODE_CREATE_SEQ_STMT, "CREATE SEQUENCE"},
      {PG_QUERY__NODE__NODE_ALTER_SEQ_STMT, "ALTER SEQUENCE"},
      {PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT, "CREATE SCHEMA"},
      {PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT, "CREATE TYPE"},
      {PG_QUERY__NODE__NODE_CREATE_ENUM_STMT, "CREATE TYPE"},
      {PG_QUERY__NODE__NODE_CREATE_RANGE_STMT, "CREATE TYPE"},
      {PG_QUERY__NODE__NODE_ALTER_ENUM_STMT, "ALTER TYPE"},
      {PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT, "CREATE DOMAIN"},
      {PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT, "ALTER DOMAIN"},
      {PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT, "CREATE EXTENSION"},
      {PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT, "ALTER EXTENSION"},
      {PG_QUERY__NODE__NODE_ALTER_OWNER_STMT, "ALTER OWNER"},
      {PG_QUERY__NODE__NODE_RENAME_STMT, "RENAME"},
      {PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT, "ALTER SET SCHEMA"},
      {PG_QUERY__NODE__NODE_DEFINE_STMT, "CREATE"},
      {PG_QUERY__NODE__NODE_CREATE_POLICY_STMT, "CREATE POLICY"},
      {PG_QUERY__NODE__NODE_ALTER_POLICY_STMT, "ALTER POLICY"},
      {PG_QUERY__NODE__NODE_CREATE_STATS_STMT, "CREATE STATISTICS"},
      {PG_QUERY__NODE__NODE_ALTER_STATS_STMT, "ALTER STATISTICS"},
      {PG_QUERY__NODE__NODE_REPLICA_IDENTITY_STMT, "REPLICA IDENTITY"},
  };
  for (const auto& [kind, name] : kNames)
    if (kind == n->node_case) return {SC::Ddl, name};
  return {SC::Ddl, node_type_name(n)};
}

Classified Walker::classify_statement(const PgQuery__Node* n) {
  const auto with_inner = [this](const PgQuery__Node* inner, SC wrapper) {
    const SC c = classify_nested(inner);
    return c == SC::Dml ? wrapper : c;  // e.g. EXPLAIN CREATE TABLE AS is Ddl
  };
  Classified c;
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
      // pg_dump's restrict_nonsystem_relation_kind, a setting that only restricts: a SET.
      if (is_restrict_relation_kind_select(n->select_stmt)) {
        c = {SC::SessionSafe, "SET restrict_nonsystem_relation_kind"};
        break;
      }
      c = select_stmt(n->select_stmt);
      break;
    case PG_QUERY__NODE__NODE_INSERT_STMT: c = insert_stmt(n->insert_stmt); break;
    case PG_QUERY__NODE__NODE_UPDATE_STMT: c = update_stmt(n->update_stmt); break;
    case PG_QUERY__NODE__NODE_DELETE_STMT: c = delete_stmt(n->delete_stmt); break;
    case PG_QUERY__NODE__NODE_MERGE_STMT: c = merge_stmt(n->merge_stmt); break;
    case PG_QUERY__NODE__NODE_COPY_STMT: c = copy_stmt(n->copy_stmt); break;
    case PG_QUERY__NODE__NODE_LOCK_STMT:
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT: {
      const bool lock = n->node_case == PG_QUERY__NODE__NODE_LOCK_STMT;
      const auto count = lock ? n->lock_stmt->n_relations : n->truncate_stmt->n_relations;
      auto* const* rels = lock ? n->lock_stmt->relations : n->truncate_stmt->relations;
      for (std::size_t i = 0; i < count; ++i) {
        if (rels[i] && rels[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
          add_table(rels[i]->range_var, lock ? lock_op(n->lock_stmt->mode) : TableOp::Truncate, false);
        else
          unknown("relation list holds a " + node_type_name(rels[i]));
      }
      c = {SC::Dml, lock ? "LOCK TABLE" : "TRUNCATE TABLE"};
      break;
    }
    case PG_QUERY__NODE__NODE_RETURN_STMT: {  // body of CREATE FUNCTION ... RETURN expr
      OpScope op(*this, TableOp::Select);
      walk_children(&n->return_stmt->base);
      c = {SC::Dml, "RETURN"};
      break;
    }
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: {
      switch (n->transaction_stmt->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN: c = {SC::Transaction, "BEGIN"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START: c = {SC::Transaction, "START TRANSACTION"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
          c = {SC::Transaction, "COMMIT"};
          part_.ends = sql::TransactionEnd::Commit;
          break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
          c = {SC::Transaction, "ROLLBACK"};
          part_.ends = sql::TransactionEnd::Rollback;
          break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT: c = {SC::Transaction, "SAVEPOINT"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE: c = {SC::Transaction, "RELEASE"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO: c = {SC::Transaction, "ROLLBACK TO SAVEPOINT"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE: c = {SC::Admin, "PREPARE TRANSACTION"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED: c = {SC::Admin, "COMMIT PREPARED"}; break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED: c = {SC::Admin, "ROLLBACK PREPARED"}; break;
        default: c = {SC::Unknown, "TRANSACTION"}; break;
      }
      break;
    }
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT: c = {SC::Transaction, "SET CONSTRAINTS"}; break;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: c = variable_set(n->variable_set_stmt); break;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: c = {SC::SessionSafe, "SHOW"}; break;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
      if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) {
        part_.prepared_effect = PreparedEffect::DeallocateAll;
        part_.changes_lexing = true;  // RESET ALL inside
      }
      c = {SC::SessionSafe, "DISCARD"};
      break;
    case PG_QUERY__NODE__NODE_VACUUM_STMT: {
      OpScope op(*this, TableOp::Maintain);
      walk_children(&n->vacuum_stmt->base);
      c = {SC::Admin, n->vacuum_stmt->is_vacuumcmd ? "VACUUM" : "ANALYZE"};
      break;
    }
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
      if (n->cluster_stmt->relation) add_table(n->cluster_stmt->relation, TableOp::Maintain, false);
      c = {SC::Admin, "CLUSTER"};
      break;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
      if (n->reindex_stmt->relation) add_table(n->reindex_stmt->relation, TableOp::Maintain, false);
      c = {SC::Admin, "REINDEX"};
      break;
    case PG_QUERY__NODE__NODE_CHECK_POINT_STMT: c = {SC::Admin, "CHECKPOINT"}; break;
    case PG_QUERY__NODE__NODE_DO_STMT: c = {SC::AnonymousCode, "DO"}; break;  // body not analysed
    case PG_QUERY__NODE__NODE_CALL_STMT: {
      OpScope op(*this, TableOp::Select);
      walk_children(&n->call_stmt->base);
      c = {SC::Procedural, "CALL"};
      break;
    }
    case PG_QUERY__NODE__NODE_LISTEN_STMT: c = {SC::Notify, "LISTEN"}; break;
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT: c = {SC::Notify, "UNLISTEN"}; break;
    case PG_QUERY__NODE__NODE_NOTIFY_STMT: c = {SC::Notify, "NOTIFY"}; break;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      part_.prepared_name = str_or_empty(n->prepare_stmt->name);
      part_.prepared_effect = PreparedEffect::Prepare;
      c = {with_inner(n->prepare_stmt->query, SC::Prepare), "PREPARE"};
      break;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT: {
      part_.prepared_name = str_or_empty(n->execute_stmt->name);
      part_.prepared_effect = PreparedEffect::Execute;
      OpScope op(*this, TableOp::Select);
      visit_nodes(n->execute_stmt->n_params, n->execute_stmt->params);
      c = {SC::Prepare, "EXECUTE"};
      break;
    }
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
      part_.prepared_name = str_or_empty(n->deallocate_stmt->name);
      part_.prepared_effect =
          part_.prepared_name.empty() ? PreparedEffect::DeallocateAll : PreparedEffect::Deallocate;
      c = {SC::Prepare, "DEALLOCATE"};
      break;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      c = {with_inner(n->declare_cursor_stmt->query, SC::Cursor), "DECLARE CURSOR"};
      break;
    case PG_QUERY__NODE__NODE_FETCH_STMT:
      c = {SC::Cursor, n->fetch_stmt->ismove ? "MOVE" : "FETCH"};
      break;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: c = {SC::Cursor, "CLOSE CURSOR"}; break;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: {
      bool analyze = false;
      for (std::size_t i = 0; i < n->explain_stmt->n_options; ++i) {
        const auto* o = n->explain_stmt->options[i];
        if (o && o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            lower_ascii(str_or_empty(o->def_elem->defname)) == "analyze")
          analyze = true;
      }
      c = {with_inner(n->explain_stmt->query, SC::Explain), analyze ? "EXPLAIN ANALYZE" : "EXPLAIN"};
      break;
    }
    case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT:
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_CONTENTS_STMT:
      forbid("server-reaching DDL: extensions load code into the server (install them outside the proxy)");
      c = {SC::Forbidden, server_reaching_command(n->node_case)};
      break;
    case PG_QUERY__NODE__NODE_CREATE_FDW_STMT:
    case PG_QUERY__NODE__NODE_ALTER_FDW_STMT:
    case PG_QUERY__NODE__NODE_CREATE_FOREIGN_SERVER_STMT:
    case PG_QUERY__NODE__NODE_ALTER_FOREIGN_SERVER_STMT:
    case PG_QUERY__NODE__NODE_CREATE_USER_MAPPING_STMT:
    case PG_QUERY__NODE__NODE_ALTER_USER_MAPPING_STMT:
    case PG_QUERY__NODE__NODE_DROP_USER_MAPPING_STMT:
    case PG_QUERY__NODE__NODE_IMPORT_FOREIGN_SCHEMA_STMT:
    case PG_QUERY__NODE__NODE_CREATE_FOREIGN_TABLE_STMT:
      forbid("server-reaching DDL: foreign data wrappers, servers, user mappings and foreign tables reach other servers");
      c = {SC::Forbidden, server_reaching_command(n->node_case)};
      break;
    case PG_QUERY__NODE__NODE_CREATE_PLANG_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TRANSFORM_STMT:
      forbid("server-reaching DDL: procedural languages and transforms load code into the server");
      c = {SC::Forbidden, server_reaching_command(n->node_case)};
      break;
    case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
      forbid("ALTER SYSTEM changes the server configuration");
      c = {SC::Forbidden, "ALTER SYSTEM"};
      break;
    case PG_QUERY__NODE__NODE_LOAD_STMT:
      forbid("LOAD loads a shared library into the server");
      c = {SC::Forbidden, "LOAD"};
      break;
    case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_ROLE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT:
    case PG_QUERY__NODE__NODE_DROP_ROLE_STMT:
    case PG_QUERY__NODE__NODE_GRANT_ROLE_STMT:
      forbid("role management is never allowed through segproxy");
      c = {SC::Forbidden, "ROLE"};
      break;
    case PG_QUERY__NODE__NODE_GRANT_STMT: {
      OpScope op(*this, TableOp::Alter);
      walk_children(&n->grant_stmt->base);
      forbid("GRANT/REVOKE is never allowed through segproxy");
      c = {SC::Forbidden, n->grant_stmt->is_grant ? "GRANT" : "REVOKE"};
      break;
    }
    case PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT:
      forbid("ALTER DATABASE ... SET changes settings of future sessions");
      c = {SC::Forbidden, "ALTER DATABASE"};
      break;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
    case PG_QUERY__NODE__NODE_DROP_STMT:
    case PG_QUERY__NODE__NODE_INDEX_STMT:
    case PG_QUERY__NODE__NODE_VIEW_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
    case PG_QUERY__NODE__NODE_ALTER_SEQ_STMT:
    case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
    case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
    case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
    case PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT:
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
    case PG_QUERY__NODE__NODE_ALTER_FUNCTION_STMT:
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
    case PG_QUERY__NODE__NODE_COMMENT_STMT:
    case PG_QUERY__NODE__NODE_ALTER_OWNER_STMT:
    case PG_QUERY__NODE__NODE_RENAME_STMT:
    case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT:
    case PG_QUERY__NODE__NODE_DEFINE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
    case PG_QUERY__NODE__NODE_ALTER_POLICY_STMT:
    case PG_QUERY__NODE__NODE_CREATE_STATS_STMT:
    case PG_QUERY__NODE__NODE_ALTER_STATS_STMT:
    case PG_QUERY__NODE__NODE_REPLICA_IDENTITY_STMT:
    case PG_QUERY__NODE__NODE_DROPDB_STMT:
      c = ddl_statement(n);
      break;
    default:
      c = {SC::Unknown, node_type_name(n)};
      break;
  }
  if (c.klass == SC::Unknown)
    unknown("statement type " + node_type_name(n) + " is not supported by segproxy");
  if (c.klass == SC::Forbidden) forbid(c.command + " is never allowed through segproxy");
  return c;
}

}  // namespace segproxy::authz::sql::detail
