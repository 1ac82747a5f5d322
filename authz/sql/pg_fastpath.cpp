#include "authz/sql/pg_fastpath.hpp"

#include <iterator>
#include <string>

namespace segproxy::authz::sql {

namespace {
struct BuiltinOid {
  std::int32_t oid;
  std::string_view name;
};
// From PostgreSQL's src/include/catalog/pg_proc.dat (unchanged from 9.4 to 17); checked
// against the live server by integration.pg.FastPath.BuiltinOidTableMatchesTheServer.
// lo_import / lo_export (server files) are deliberately absent.
constexpr BuiltinOid kBuiltins[] = {
    {715, "lo_create"},    {952, "lo_open"},     {953, "lo_close"},       {954, "loread"},
    {955, "lowrite"},      {956, "lo_lseek"},    {957, "lo_creat"},       {958, "lo_tell"},
    {964, "lo_unlink"},    {1004, "lo_truncate"}, {3170, "lo_lseek64"},   {3171, "lo_tell64"},
    {3172, "lo_truncate64"}, {3457, "lo_from_bytea"}, {3458, "lo_get"},   {3459, "lo_get"},
    {3460, "lo_put"},
};
}  // namespace

std::string_view pg_fastpath_function(std::int32_t oid) {
  for (const auto& b : kBuiltins) {
    if (b.oid == oid) return b.name;
  }
  return {};
}

StatementInfo classify_pg_function_call(std::int32_t oid) {
  StatementInfo info;
  info.parse_ok = true;
  StatementPart part;
  part.command = "FUNCTION CALL";
  const std::string_view name = pg_fastpath_function(oid);
  if (name.empty()) {
    part.klass = StatementClass::Unknown;
    part.forbidden_reason = "fast-path call of function OID " + std::to_string(oid) +
                            ": only the built-in large-object functions are known by OID";
  } else {
    part.klass = StatementClass::Dml;
    part.functions.push_back(FunctionRef{"pg_catalog", std::string(name), false});
  }
  info.statements.push_back(std::move(part));
  return info;
}

}  // namespace segproxy::authz::sql
