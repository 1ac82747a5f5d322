// Catalog expressions judged as `SELECT <expression>` (expression_judge.hpp).
#include "authz/wal/expression_judge.hpp"

#include "authz/wal/mysql_write_class.hpp"
#include "authz/wal/pg_write_class.hpp"

namespace segproxy::authz::wal {
namespace {

// Too long, or blank (`SELECT ` alone is a valid statement: an empty target list).
bool unjudged(std::string_view expr, std::string& why) {
  if (expr.size() > kMaxExpressionText) {
    why = "expression longer than " + std::to_string(kMaxExpressionText) + " bytes";
    return true;
  }
  if (expr.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    why = "empty expression";
    return true;
  }
  return false;
}

// Exactly nextval('<text without quotes or backslashes, '' allowed>'::regclass).
bool is_serial_nextval(std::string_view e) {
  constexpr std::string_view kHead = "nextval('";
  constexpr std::string_view kTail = "'::regclass)";
  if (e.size() <= kHead.size() + kTail.size() || e.substr(0, kHead.size()) != kHead ||
      e.substr(e.size() - kTail.size()) != kTail)
    return false;
  const std::string_view body = e.substr(kHead.size(), e.size() - kHead.size() - kTail.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\') return false;
    if (body[i] != '\'') continue;
    if (i + 1 < body.size() && body[i + 1] == '\'') {
      ++i;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

bool pg_expression_listed(std::string_view expr, const WalCatalog& catalog, std::string& why) {
  why.clear();
  if (unjudged(expr, why)) return false;
  ClassContext ctx;
  ctx.catalog = &catalog;
  ctx.default_schema = "pg_catalog";
  std::string text = "SELECT ";
  text.append(expr);
  const PgWriteClasses c = pg_write_classes(text, ctx);
  if (!c.parse_ok || c.statements.size() != 1) {
    why = "expression not parsed as one expression";
    return false;
  }
  if (c.message.klass != WriteClass::ReadOnly) {
    why = c.message.reason;
    return false;
  }
  return true;
}

bool pg_default_listed(std::string_view expr, const WalCatalog& catalog, std::string& why) {
  if (is_serial_nextval(expr)) {
    why.clear();
    return true;
  }
  return pg_expression_listed(expr, catalog, why);
}

bool mysql_expression_listed(std::string_view expr, const sql::MysqlClassifierOptions& opts, std::string& why) {
  why.clear();
  if (unjudged(expr, why)) return false;
  const WalCatalog none;
  ClassContext ctx;
  ctx.catalog = &none;
  std::string text = "SELECT ";
  text.append(expr);
  const MysqlWriteClasses c = mysql_write_classes(text, opts, ctx);
  if (c.statements.size() != 1) {
    why = "expression not analysed as one expression";
    return false;
  }
  if (c.message.klass != WriteClass::ReadOnly) {
    why = c.message.reason;
    return false;
  }
  return true;
}

}  // namespace segproxy::authz::wal
