#pragma once
// The catalog the write-ahead class tests run against (schema "public" for PostgreSQL,
// database "shop" for MySQL):
//   accounts     transactional table, reads and writes run only listed code
//   history      transactional table with a trigger calling an unlisted function
//   log_myisam   non-transactional table (MyISAM)
//   remote       foreign table
//   v_ok / v_bad views whose definitions pass / fail the read-only test
//   secured      table with a row-level security policy calling an unlisted function
// User-defined: function lower2, operator ===; attribute function `total`.
#include <string>

#include "authz/wal/wal_catalog.hpp"

namespace segproxy::authz::wal::test {

inline WalCatalog test_catalog(const std::string& schema) {
  WalCatalog c;
  c.relations[{schema, "accounts"}] = RelationFacts{RelationKind::Table, true, true, true};
  c.relations[{schema, "history"}] = RelationFacts{RelationKind::Table, true, true, false};
  c.relations[{schema, "log_myisam"}] = RelationFacts{RelationKind::Table, false, true, true};
  c.relations[{schema, "remote"}] = RelationFacts{RelationKind::Foreign, false, true, true};
  c.relations[{schema, "v_ok"}] = RelationFacts{RelationKind::View, false, true, false};
  c.relations[{schema, "v_bad"}] = RelationFacts{RelationKind::View, false, false, false};
  c.relations[{schema, "secured"}] = RelationFacts{RelationKind::Table, true, false, false};
  c.relations[{"pg_catalog", "pg_class"}] = RelationFacts{RelationKind::Table, true, true, false};
  c.user_function_names.insert("lower2");
  c.user_operator_names.insert("===");
  c.attribute_functions.insert("total");
  return c;
}

inline ClassContext context(const WalCatalog& catalog, const std::string& schema) {
  ClassContext ctx;
  ctx.catalog = &catalog;
  ctx.default_schema = schema;
  return ctx;
}

}  // namespace segproxy::authz::wal::test
