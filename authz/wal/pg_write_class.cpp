// PostgreSQL write-ahead classes (pg_write_class.hpp): one case per statement kind, and
// an allow-list walk (pg_proof.cpp) for the statements that may be read-only or contained.
#include "authz/wal/pg_write_class.hpp"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "authz/sql/pg_walker.hpp"
#include "authz/wal/pg_proof.hpp"

namespace segproxy::authz::wal {
namespace {

using sql::detail::str_or_empty;

// EXPLAIN option list: ANALYZE unless given as false / off / 0.
bool explain_analyzes(const PgQuery__ExplainStmt* s) {
  for (std::size_t i = 0; i < s->n_options; ++i) {
    const auto* n = s->options[i];
    if (!n || n->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
    const auto* d = n->def_elem;
    if (sql::detail::lower_ascii(str_or_empty(d->defname)) != "analyze") continue;
    if (!d->arg) return true;
    if (d->arg->node_case == PG_QUERY__NODE__NODE_STRING) {
      const auto v = sql::detail::lower_ascii(str_or_empty(d->arg->string->sval));
      if (v == "false" || v == "off" || v == "0") continue;
      return true;
    }
    if (d->arg->node_case == PG_QUERY__NODE__NODE_INTEGER && d->arg->integer->ival == 0) continue;
    if (d->arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN && !d->arg->boolean->boolval) continue;
    return true;
  }
  return false;
}

bool has_option(std::size_t n, PgQuery__Node* const* options, std::string_view name) {
  for (std::size_t i = 0; i < n; ++i)
    if (options[i] && options[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
        sql::detail::lower_ascii(str_or_empty(options[i]->def_elem->defname)) == name)
      return true;
  return false;
}

MessageClass remembered_or_escaping(const std::map<std::string, MessageClass, std::less<>>* known,
                                    std::string_view name, const char* what) {
  if (known) {
    const auto it = known->find(name);
    if (it != known->end()) {
      MessageClass c = it->second;
      if (c.reason.empty()) c.reason = std::string(what) + " " + std::string(name);
      return c;
    }
  }
  return escaping(std::string(what) + " of an unknown name " + std::string(name));
}

MessageClass in_block_refused(const char* what) {
  return commit_point(std::string(what) + " cannot run inside a transaction block");
}

MessageClass transaction_statement(const PgQuery__TransactionStmt* s) {
  switch (s->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START: return transaction_control("BEGIN");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
      return commit_point(s->chain ? "COMMIT AND CHAIN" : "COMMIT", true);
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK: return transaction_control("ROLLBACK");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT: return transaction_control("SAVEPOINT");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE: return transaction_control("RELEASE");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO: return transaction_control("ROLLBACK TO");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE: return commit_point("PREPARE TRANSACTION");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED: return in_block_refused("COMMIT PREPARED");
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
      return in_block_refused("ROLLBACK PREPARED");
    default: return escaping("transaction statement of an unknown kind");
  }
}

PgStatementClass plain(MessageClass c) { return PgStatementClass{std::move(c), {}, {}, MessageClass::empty()}; }

PgStatementClass classify_statement(const PgQuery__Node* stmt, const ClassContext& ctx, int nesting) {
  if (!stmt) return plain(escaping("empty statement"));
  if (nesting > 8) return plain(escaping("statements nested too deeply"));
  switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
    case PG_QUERY__NODE__NODE_COPY_STMT:
    case PG_QUERY__NODE__NODE_LOCK_STMT: return plain(prove_pg(stmt, ctx));
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: return plain(read_only("SHOW"));
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: {
      const auto* s = stmt->explain_stmt;
      PgStatementClass inner = classify_statement(s->query, ctx, nesting + 1);
      if (!explain_analyzes(s)) {
        // Planning runs nothing but the immutable functions it folds: read-only when the
        // statement's code is all proven (its own writes do not happen).
        if (inner.klass.klass == WriteClass::ReadOnly || inner.klass.klass == WriteClass::Contained)
          return plain(read_only("EXPLAIN"));
        return plain(escaping("EXPLAIN plans (and may fold functions of) " + inner.klass.reason));
      }
      inner.klass.reason = "EXPLAIN ANALYZE runs " + inner.klass.reason;
      inner.prepares.clear();
      inner.declares_cursor.clear();
      return inner;
    }
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: return plain(transaction_statement(stmt->transaction_stmt));
    case PG_QUERY__NODE__NODE_PREPARE_STMT: {
      PgStatementClass out = plain(read_only("PREPARE"));
      out.prepares = str_or_empty(stmt->prepare_stmt->name);
      out.remembered = classify_statement(stmt->prepare_stmt->query, ctx, nesting + 1).klass;
      return out;
    }
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
      return plain(remembered_or_escaping(ctx.prepared, str_or_empty(stmt->execute_stmt->name), "EXECUTE"));
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT: return plain(read_only("DEALLOCATE"));
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT: {
      // DECLARE runs nothing yet; it is given its query's class all the same (a cursor
      // WITH HOLD runs its query at COMMIT).
      PgStatementClass out = plain(classify_statement(stmt->declare_cursor_stmt->query, ctx, nesting + 1).klass);
      out.declares_cursor = str_or_empty(stmt->declare_cursor_stmt->portalname);
      out.remembered = out.klass;
      return out;
    }
    case PG_QUERY__NODE__NODE_FETCH_STMT:
      return plain(remembered_or_escaping(ctx.cursors, str_or_empty(stmt->fetch_stmt->portalname),
                                          stmt->fetch_stmt->ismove ? "MOVE" : "FETCH"));
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: return plain(read_only("CLOSE"));
    case PG_QUERY__NODE__NODE_CALL_STMT: return plain(commit_point("CALL may commit inside the procedure"));
    case PG_QUERY__NODE__NODE_DO_STMT: return plain(commit_point("DO runs code the proxy cannot inspect"));
    case PG_QUERY__NODE__NODE_NOTIFY_STMT:
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
      // Delivered / registered at commit; "without a loaded catalog nothing is contained".
      if (ctx.usable_catalog()) return plain(contained("NOTIFY/LISTEN take effect at commit"));
      return plain(escaping("NOTIFY/LISTEN without a loaded catalog"));
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
      if (stmt->vacuum_stmt->is_vacuumcmd) return plain(in_block_refused("VACUUM"));
      return plain(escaping("ANALYZE"));
    case PG_QUERY__NODE__NODE_CREATEDB_STMT: return plain(in_block_refused("CREATE DATABASE"));
    case PG_QUERY__NODE__NODE_DROPDB_STMT: return plain(in_block_refused("DROP DATABASE"));
    case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT: return plain(in_block_refused("CREATE TABLESPACE"));
    case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT: return plain(in_block_refused("DROP TABLESPACE"));
    case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT: return plain(in_block_refused("ALTER SYSTEM"));
    case PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT: return plain(in_block_refused("CREATE SUBSCRIPTION"));
    case PG_QUERY__NODE__NODE_ALTER_SUBSCRIPTION_STMT: return plain(in_block_refused("ALTER SUBSCRIPTION"));
    case PG_QUERY__NODE__NODE_DROP_SUBSCRIPTION_STMT: return plain(in_block_refused("DROP SUBSCRIPTION"));
    case PG_QUERY__NODE__NODE_INDEX_STMT:
      if (stmt->index_stmt->concurrent) return plain(in_block_refused("CREATE INDEX CONCURRENTLY"));
      return plain(escaping("DDL (CREATE INDEX)"));
    case PG_QUERY__NODE__NODE_DROP_STMT:
      if (stmt->drop_stmt->concurrent) return plain(in_block_refused("DROP INDEX CONCURRENTLY"));
      return plain(escaping("DDL (DROP)"));
    case PG_QUERY__NODE__NODE_REINDEX_STMT: {
      const auto* s = stmt->reindex_stmt;
      if (s->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM ||
          s->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE ||
          has_option(s->n_params, s->params, "concurrently"))
        return plain(in_block_refused("REINDEX DATABASE/SYSTEM/CONCURRENTLY"));
      return plain(escaping("REINDEX"));
    }
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
      if (!stmt->cluster_stmt->relation) return plain(in_block_refused("CLUSTER without a table"));
      return plain(escaping("CLUSTER"));
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
      if (stmt->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) return plain(in_block_refused("DISCARD ALL"));
      return plain(escaping("DISCARD"));
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: return plain(escaping("SET changes the session"));
    default: return plain(escaping(sql::detail::node_type_name(stmt) + " is not proven read-only or contained"));
  }
}

}  // namespace

PgWriteClasses pg_write_classes(const PgQuery__ParseResult* tree, const ClassContext& ctx) {
  PgWriteClasses out;
  out.parse_ok = true;
  out.message = MessageClass::empty();
  out.statements.reserve(tree->n_stmts);
  for (std::size_t i = 0; i < tree->n_stmts; ++i) {
    const auto* raw = tree->stmts[i];
    PgStatementClass c = classify_statement(raw ? raw->stmt : nullptr, ctx, 0);
    out.message.add(c.klass);
    out.statements.push_back(std::move(c));
  }
  // Several statements in one Query run as one implicit transaction that commits at its
  // end: outside a transaction block that is a commit point (the forwarding rule applies
  // it); inside one it is not.
  return out;
}

PgWriteClasses pg_write_classes(std::string_view sql, const ClassContext& ctx) {
  PgWriteClasses out;
  sql::StatementInfo refusal;
  std::size_t depth = 0;
  if (!sql::detail::pg_text_within_limits(sql, sql::StatementLimits{}, refusal, depth) ||
      sql.find('\0') != std::string_view::npos) {
    out.message = escaping("text over the statement limits");
    return out;
  }
  if (depth > 64 && sql::detail::stack_room() < sql::detail::stack_needed(depth)) {
    out.message = escaping("text nested too deeply for this thread's stack");
    return out;
  }
  const std::string text(sql);
  PgQueryProtobufParseResult result = pg_query_parse_protobuf(text.c_str());
  if (result.error) {
    pg_query_free_protobuf_parse_result(result);
    out.message = escaping("not parsed");
    return out;
  }
  const auto* data = reinterpret_cast<const std::uint8_t*>(result.parse_tree.data);
  PgQuery__ParseResult* tree = nullptr;
  if (!sql::detail::wire_depth_exceeds(data, result.parse_tree.len, sql::detail::kMaxDepth))
    tree = pg_query__parse_result__unpack(nullptr, result.parse_tree.len, data);
  if (tree) {
    out = pg_write_classes(tree, ctx);
    pg_query__parse_result__free_unpacked(tree, nullptr);
  } else {
    out.message = escaping("parse tree too deep");
  }
  pg_query_free_protobuf_parse_result(result);
  return out;
}

}  // namespace segproxy::authz::wal
