// The PostgreSQL write-ahead catalog: libpq on a loader thread (pg_wal_catalog_loader.hpp).
#include "daemon/catalog/pg_wal_catalog_loader.hpp"

#include <libpq-fe.h>

#include <memory>

#include "authz/credential_store.hpp"
#include "authz/wal/pg_catalog_facts.hpp"
#include "daemon/catalog/view_loader.hpp"  // kAttributeFunctionQuery, read_metadata_password
#include "daemon/credentials/libpq_login.hpp"

namespace segproxy::proxy {

#define SP_PG_CATALOG "'pg_catalog'::pg_catalog.regnamespace"

const char* const kPgWalRelationQuery =
    "SELECT n.nspname, c.relname, c.relkind::text, c.relrowsecurity,"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    "     AND t.typnamespace <> " SP_PG_CATALOG " AND t.typtype <> 'e'),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    "   LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype"
    "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    "     AND t.typnamespace <> " SP_PG_CATALOG " AND t.typtype <> 'e'"
    "     AND NOT (t.typtype = 'd' AND b.typnamespace = " SP_PG_CATALOG ")),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
    "   JOIN pg_catalog.pg_opclass o ON o.oid = ANY (i.indclass::pg_catalog.oid[])"
    "   WHERE i.indrelid = c.oid AND o.opcnamespace <> " SP_PG_CATALOG "),"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x"
    "   JOIN pg_catalog.pg_operator op ON op.oid = ANY (x.conexclop)"
    "   WHERE x.conrelid = c.oid AND x.contype = 'x' AND op.oprnamespace <> " SP_PG_CATALOG ")"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    " ORDER BY 1, 2";

const char* const kPgWalExpressionQuery =
    "SELECT e.nspname, e.relname, e.what, e.expr FROM ("
    " SELECT n.nspname, c.relname, 'default' AS what, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS expr"
    "  FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_class c ON c.oid = d.adrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " UNION ALL SELECT n.nspname, c.relname, 'check', pg_catalog.pg_get_expr(x.conbin, x.conrelid)"
    "  FROM pg_catalog.pg_constraint x JOIN pg_catalog.pg_class c ON c.oid = x.conrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE x.contype = 'c'"
    " UNION ALL SELECT n.nspname, c.relname, 'index', pg_catalog.pg_get_expr(i.indexprs, i.indrelid)"
    "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE i.indexprs IS NOT NULL"
    " UNION ALL SELECT n.nspname, c.relname, 'predicate', pg_catalog.pg_get_expr(i.indpred, i.indrelid)"
    "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE i.indpred IS NOT NULL"
    " UNION ALL SELECT n.nspname, c.relname, 'domain', pg_catalog.pg_get_expr(x.conbin, 0)"
    "  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  JOIN pg_catalog.pg_constraint x ON x.contypid = a.atttypid AND x.contype = 'c'"
    "  WHERE a.attnum > 0 AND NOT a.attisdropped"
    " UNION ALL SELECT n.nspname, c.relname, 'policy', pg_catalog.pg_get_expr(p.polqual, p.polrelid)"
    "  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE p.polqual IS NOT NULL"
    " UNION ALL SELECT n.nspname, c.relname, 'policy', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)"
    "  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE p.polwithcheck IS NOT NULL"
    ") e ORDER BY 1, 2, 3, 4";

const char* const kPgWalForeignKeyActionQuery =
    "SELECT rn.nspname, r.relname, fn.nspname, f.relname"
    " FROM pg_catalog.pg_constraint x"
    " JOIN pg_catalog.pg_class r ON r.oid = x.confrelid JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace"
    " JOIN pg_catalog.pg_class f ON f.oid = x.conrelid JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace"
    " WHERE x.contype = 'f' AND (x.confupdtype NOT IN ('a', 'r') OR x.confdeltype NOT IN ('a', 'r'))"
    " ORDER BY 1, 2, 3, 4";

const char* const kPgWalInheritanceQuery =
    "SELECT pn.nspname, p.relname, cn.nspname, c.relname"
    " FROM pg_catalog.pg_inherits i"
    " JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace"
    " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace"
    " ORDER BY 1, 2, 3, 4";

const char* const kPgWalViewQuery =
    "SELECT n.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid)"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind = 'v' ORDER BY 1, 2";

const char* const kPgWalUserFunctionQuery =
    "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p"
    " WHERE p.pronamespace NOT IN (" SP_PG_CATALOG ", 'information_schema'::pg_catalog.regnamespace)"
    " ORDER BY 1";

const char* const kPgWalUserOperatorQuery =
    "SELECT DISTINCT o.oprname FROM pg_catalog.pg_operator o"
    " WHERE o.oprnamespace NOT IN (" SP_PG_CATALOG ", 'information_schema'::pg_catalog.regnamespace)"
    " ORDER BY 1";

#undef SP_PG_CATALOG

namespace {

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;

// Runs `query` capped at kMaxWalCatalogRows; null + why on error, more rows or the
// wrong number of columns.
Result capped(PGconn* conn, const char* query, int columns, const char* what, std::string& why) {
  const std::string text = "SELECT * FROM (" + std::string(query) + ") q LIMIT " +
                           std::to_string(kMaxWalCatalogRows + 1);
  Result res(PQexecParams(conn, text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0));
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK || PQnfields(res.get()) != columns) {
    why = std::string(what) + " query: " + libpq_one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn));
    return nullptr;
  }
  if (PQntuples(res.get()) > kMaxWalCatalogRows) {
    why = std::string(what) + " query: more than " + std::to_string(kMaxWalCatalogRows) + " rows";
    return nullptr;
  }
  return res;
}

bool command(PGconn* conn, const char* sql, std::string& why) {
  Result res(PQexec(conn, sql));
  if (res && PQresultStatus(res.get()) == PGRES_COMMAND_OK) return true;
  why = std::string(sql) + ": " + libpq_one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn));
  return false;
}

std::string value(const PGresult* r, int row, int col) { return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col)); }
bool flag(const PGresult* r, int row, int col) { return PQgetvalue(r, row, col)[0] == 't'; }

std::vector<authz::wal::PgRelationEdge> edges(const PGresult* r) {
  std::vector<authz::wal::PgRelationEdge> out;
  for (int i = 0; i < PQntuples(r); ++i) out.push_back({value(r, i, 0), value(r, i, 1), value(r, i, 2), value(r, i, 3)});
  return out;
}

std::vector<std::string> names(const PGresult* r) {
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(value(r, i, 0));
  return out;
}

authz::wal::PgExpressionKind expression_kind(const std::string& what) {
  using K = authz::wal::PgExpressionKind;
  if (what == "default") return K::Default;
  if (what == "index") return K::Index;
  if (what == "predicate") return K::IndexPredicate;
  if (what == "domain") return K::DomainCheck;
  if (what == "policy") return K::Policy;
  return K::Check;
}

std::optional<authz::wal::PgCatalogRows> read_rows(PGconn* conn, std::string& why) {
  authz::wal::PgCatalogRows rows;
  auto r = capped(conn, kPgWalRelationQuery, 10, "relation", why);
  if (!r) return std::nullopt;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    authz::wal::PgRelationRow row;
    row.schema = value(r.get(), i, 0);
    row.name = value(r.get(), i, 1);
    row.relkind = PQgetvalue(r.get(), i, 2)[0];
    row.row_security = flag(r.get(), i, 3);
    row.user_type_column = flag(r.get(), i, 4);
    row.user_write_type_column = flag(r.get(), i, 5);
    row.user_trigger = flag(r.get(), i, 6);
    row.rule = flag(r.get(), i, 7);
    row.user_index_opclass = flag(r.get(), i, 8);
    row.user_exclusion_operator = flag(r.get(), i, 9);
    rows.relations.push_back(std::move(row));
  }
  if (!(r = capped(conn, kPgWalExpressionQuery, 4, "expression", why))) return std::nullopt;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    // A NULL text (an expression pg_get_expr cannot print) is "" and does not pass.
    rows.expressions.push_back({value(r.get(), i, 0), value(r.get(), i, 1), expression_kind(value(r.get(), i, 2)),
                                value(r.get(), i, 3)});
  }
  if (!(r = capped(conn, kPgWalForeignKeyActionQuery, 4, "foreign key", why))) return std::nullopt;
  rows.fk_actions = edges(r.get());
  if (!(r = capped(conn, kPgWalInheritanceQuery, 4, "inheritance", why))) return std::nullopt;
  rows.inherits = edges(r.get());
  if (!(r = capped(conn, kPgWalViewQuery, 3, "view", why))) return std::nullopt;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    rows.views.push_back({value(r.get(), i, 0), value(r.get(), i, 1), value(r.get(), i, 2)});
  if (!(r = capped(conn, kPgWalUserFunctionQuery, 1, "function", why))) return std::nullopt;
  rows.user_functions = names(r.get());
  if (!(r = capped(conn, kPgWalUserOperatorQuery, 1, "operator", why))) return std::nullopt;
  rows.user_operators = names(r.get());
  if (!(r = capped(conn, kAttributeFunctionQuery, 1, "attribute function", why))) return std::nullopt;
  rows.attribute_functions = names(r.get());
  return rows;
}

}  // namespace

std::optional<authz::wal::WalCatalog> load_pg_wal_catalog(const config::Listener& l, const std::string& database,
                                                          std::chrono::milliseconds connect_timeout,
                                                          const authz::EnvironmentLookup& environment,
                                                          std::chrono::steady_clock::time_point& loaded_at,
                                                          std::string& why) {
  if (!l.backend.metadata) {
    why = "no backend.metadata";
    return std::nullopt;
  }
  authz::Secret password;
  if (!read_metadata_password(*l.backend.metadata, environment, password, why)) return std::nullopt;
  LibpqLogin login;
  login.database = database;
  login.user = l.backend.metadata->user;
  login.connect_timeout = connect_timeout;
  login.application_name = "segproxy-wal-catalog";
  login.options = "-c statement_timeout=30000 -c default_transaction_read_only=on -c search_path=pg_catalog";
  auto conn = libpq_connect(l, login, password, why);
  if (!conn) {
    why = "connect: " + why;
    return std::nullopt;
  }
  loaded_at = std::chrono::steady_clock::now();
  if (!command(conn.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", why)) return std::nullopt;
  auto rows = read_rows(conn.get(), why);
  if (!rows) return std::nullopt;
  if (!command(conn.get(), "COMMIT", why)) return std::nullopt;
  return authz::wal::build_pg_wal_catalog(*rows);
}

}  // namespace segproxy::proxy
