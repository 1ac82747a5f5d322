#pragma once
// Compact rendering of StatementInfo for table-driven classifier tests:
//   "<Class> <Op>:<schema>.<name> ... fn:<schema>.<name> ..." per statement, joined by " ; ".
// An unqualified relation (schema filled in from default_schema) is written "~schema.name".
#include <algorithm>
#include <string>
#include <vector>

#include "authz/sql/pg_classifier.hpp"

namespace segproxy::authz::sql::test {

inline const char* class_name(StatementClass c) {
  switch (c) {
    case StatementClass::Dml: return "Dml";
    case StatementClass::Transaction: return "Transaction";
    case StatementClass::SessionSafe: return "SessionSafe";
    case StatementClass::Ddl: return "Ddl";
    case StatementClass::Admin: return "Admin";
    case StatementClass::Procedural: return "Procedural";
    case StatementClass::AnonymousCode: return "AnonymousCode";
    case StatementClass::Notify: return "Notify";
    case StatementClass::Prepare: return "Prepare";
    case StatementClass::Cursor: return "Cursor";
    case StatementClass::Explain: return "Explain";
    case StatementClass::Forbidden: return "Forbidden";
    case StatementClass::Unknown: return "Unknown";
  }
  return "?";
}

inline const char* op_name(TableOp op) {
  switch (op) {
    case TableOp::Select: return "Select";
    case TableOp::Insert: return "Insert";
    case TableOp::Update: return "Update";
    case TableOp::Delete: return "Delete";
    case TableOp::Truncate: return "Truncate";
    case TableOp::CopyTo: return "CopyTo";
    case TableOp::CopyFrom: return "CopyFrom";
    case TableOp::References: return "References";
    case TableOp::Lock: return "Lock";
    case TableOp::Alter: return "Alter";
    case TableOp::Maintain: return "Maintain";
  }
  return "?";
}

inline std::string describe_part(const StatementPart& p) {
  std::vector<std::string> tables, fns;
  for (const auto& t : p.tables)
    tables.push_back(std::string(op_name(t.op)) + ":" + (t.schema_given ? "" : "~") + t.schema + "." + t.name);
  for (const auto& f : p.functions) fns.push_back("fn:" + (f.schema.empty() ? "" : f.schema + ".") + f.name);
  std::sort(tables.begin(), tables.end());
  std::sort(fns.begin(), fns.end());
  std::string out = class_name(p.klass);
  for (const auto& t : tables) out += " " + t;
  for (const auto& f : fns) out += " " + f;
  return out;
}

inline std::string describe(const StatementInfo& info) {
  if (!info.parse_ok) return "ParseError";
  std::string out;
  for (std::size_t i = 0; i < info.statements.size(); ++i) {
    if (i) out += " ; ";
    out += describe_part(info.statements[i]);
  }
  return out;
}

inline std::string describe(std::string_view sql) { return describe(classify_pg(sql, ClassifierOptions{})); }

}  // namespace segproxy::authz::sql::test
