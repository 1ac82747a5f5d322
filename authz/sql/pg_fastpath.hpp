#pragma once
// PostgreSQL's fast-path interface (FunctionCall, 'F') names the function by OID only.
// The proxy resolves the OIDs it can know for certain: built-in functions have OIDs
// fixed by the server's initial catalog (pg_proc.dat, below FirstGenbkiObjectId) and the
// large-object interface that libpq's lo_* API, psycopg2's lobject and pgjdbc's
// LargeObjectManager drive through fast-path has had the same OIDs since PostgreSQL 9.x.
// Any other OID (user functions, extensions, built-ins outside that list) is reported
// as not understood, so the engine denies it.
#include <cstdint>
#include <string_view>

#include "authz/sql/statement_info.hpp"

namespace segproxy::authz::sql {

// The built-in function a fast-path OID names, or empty when the proxy does not know it.
std::string_view pg_fastpath_function(std::int32_t oid);

// One statement part: a call of pg_catalog.<name> (class Dml, command "FUNCTION CALL"),
// or an Unknown part naming the OID.
StatementInfo classify_pg_function_call(std::int32_t oid);

}  // namespace segproxy::authz::sql
