#pragma once
// The catalog facts the write-ahead classes need (docs/audit.md "Write-ahead
// forwarding"). Pure input data, built by whoever loads the backend catalog.
//
// Filled from the backend catalog by authz/wal/pg_catalog_facts and mysql_catalog_facts
// (rows read by daemon/catalog/pg_wal_catalog_loader, mysql_wal_catalog_loader) and
// published per (listener, database) in Runtime::wal_catalogs. Where none is loaded,
// sessions pass none: then no relation read is proven read-only and nothing is contained
// (every write waits for its record).
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "authz/wal/write_class.hpp"

namespace segproxy::authz::wal {

enum class RelationKind : std::uint8_t {
  Table,          // ordinary or partitioned table (PostgreSQL), base table (MySQL)
  View,           // its definition is judged by `view_read_only`
  MaterializedView,
  Foreign,        // foreign table: reads and writes reach another server
  Sequence,
  Other,
};

struct RelationFacts {
  RelationKind kind = RelationKind::Other;
  // Writes to it are held by the backend until commit (PostgreSQL: any table that is not
  // foreign; MySQL: a transactional engine such as InnoDB, not MyISAM/MEMORY/ARIA...).
  bool transactional = false;
  // Reading it runs only listed code: no row-level security policy, or every policy's
  // expression passes the read-only test; no column of a user-defined type (its casts,
  // operators and output function may run user code); for a view, its loaded definition
  // passes the read-only test (computed by the loader with the same module, over the
  // relations it reads).
  bool read_only_ok = false;
  // Writing it runs only listed code: no trigger, rule, row-level security policy,
  // column default, generated column, CHECK constraint, constraint of a domain column
  // type, index expression or predicate, exclusion operator, nor a foreign-key action
  // reaching a table with one of these, calls a function outside the fixed list.
  bool hooks_listed_only = false;
};

struct WalCatalog {
  // Keyed by schema (MySQL: database) and name, as the classifiers report them.
  std::map<std::pair<std::string, std::string>, RelationFacts, std::less<>> relations;
  // Names of functions and operators defined outside pg_catalog / information_schema
  // (MySQL: stored functions are always qualified, built-ins win over them): a call of a
  // listed name that one of these could shadow is not proven.
  std::set<std::string, std::less<>> user_function_names;
  std::set<std::string, std::less<>> user_operator_names;
  // Functions callable in attribute notation (`x.f` = f(x)), as ViewCatalog has them.
  std::set<std::string, std::less<>> attribute_functions;

  const RelationFacts* find(const std::string& schema, const std::string& name) const {
    const auto it = relations.find(std::pair<std::string, std::string>(schema, name));
    return it == relations.end() ? nullptr : &it->second;
  }
};

// Everything a statement's class depends on besides its text.
struct ClassContext {
  // nullptr: no catalog loaded (nothing relational is proven read-only, nothing contained).
  const WalCatalog* catalog = nullptr;
  // The catalog was loaded after the session's last DDL. When false, relations are not
  // trusted (as if no catalog was loaded).
  bool catalog_current = true;
  // Unqualified relation names resolve here (as the policy classifiers do).
  std::string default_schema = "public";
  // The class of a prepared statement / open cursor the session remembered when it was
  // PREPAREd / DECLAREd (EXECUTE and FETCH take the class of what they run); nullptr or
  // an unknown name: escaping.
  const std::map<std::string, MessageClass, std::less<>>* prepared = nullptr;
  const std::map<std::string, MessageClass, std::less<>>* cursors = nullptr;

  const WalCatalog* usable_catalog() const { return catalog_current ? catalog : nullptr; }
};

}  // namespace segproxy::authz::wal
