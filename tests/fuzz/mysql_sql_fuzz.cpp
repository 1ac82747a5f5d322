// Fuzz target: the MySQL SQL analyzer (authz/sql/mysql_classifier). Input layout:
//   byte 0 : option flags (ANSI_QUOTES, NO_BACKSLASH_ESCAPES, lower_case_table_names,
//            MariaDB, known server version, no current database)
//   rest   : the SQL text
// Checked: no crash or sanitizer report on any input (deep nesting included);
// classification is deterministic (same parts, same fingerprint, equal to the lex-only
// fingerprint_mysql); a parse error has no parts; a syntax error has fingerprint 0 and
// normalizes to nothing, while a limit refusal (54000/54001: statement count, nesting)
// keeps its token fingerprint (0 only over the length / token limits); anything parsed
// has a non-zero fingerprint; every Forbidden/Unknown part carries a reason; every table
// has a database and a name.
#include <cstdint>
#include <string_view>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/mysql_lexer.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace segproxy::authz::sql;

bool same(const StatementInfo& a, const StatementInfo& b) {
  if (a.parse_ok != b.parse_ok || a.fingerprint != b.fingerprint || a.statements.size() != b.statements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.statements.size(); ++i) {
    const auto& x = a.statements[i];
    const auto& y = b.statements[i];
    if (x.klass != y.klass || x.tables != y.tables || x.functions != y.functions || x.locks_rows != y.locks_rows ||
        x.prepared_name != y.prepared_name || x.database != y.database) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view sql(reinterpret_cast<const char*>(data + 1), size - 1);
  MysqlClassifierOptions o;
  o.hash_key = SipKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};  // the daemon's is random per process
  o.ansi_quotes = (flags & 1) != 0;
  o.no_backslash_escapes = (flags & 2) != 0;
  o.lower_case_table_names = (flags >> 2) & 1;
  o.server_is_mariadb = (flags & 8) != 0;
  o.server_version = (flags & 16) != 0 ? (o.server_is_mariadb ? 100611u : 80036u) : 0u;
  o.current_database = (flags & 32) != 0 ? "" : "shop";
  static constexpr const char* kCharsets[] = {"utf8mb4", "gbk", "sjis", "big5"};  // masking of trail bytes
  o.charset = kCharsets[(flags >> 6) & 3];

  const StatementInfo a = classify_mysql(sql, o);
  const StatementInfo b = classify_mysql(sql, o);
  FUZZ_CHECK(same(a, b));
  FUZZ_CHECK(fingerprint_mysql(sql, o) == a.fingerprint);
  if (!a.parse_ok) {
    FUZZ_CHECK(a.statements.empty());
    FUZZ_CHECK(!a.parse_error.empty());
    if (a.parse_error_sqlstate.empty()) FUZZ_CHECK(a.fingerprint == 0);
  } else {
    FUZZ_CHECK(a.fingerprint != 0);
  }
  for (const auto& p : a.statements) {
    if (p.klass == StatementClass::Forbidden || p.klass == StatementClass::Unknown) {
      FUZZ_CHECK(!p.forbidden_reason.empty());
    }
    for (const auto& t : p.tables) FUZZ_CHECK(!t.schema.empty() && !t.name.empty());
    for (const auto& f : p.functions) FUZZ_CHECK(!f.name.empty());
  }
  const std::string n = normalize_mysql(sql, o);
  if (!a.parse_ok && a.parse_error_sqlstate.empty()) FUZZ_CHECK(n.empty());  // limit refusals lex fine

  // Cache soundness: change every literal's digits/letters (lexing stays the same); when
  // the fingerprint stays equal, the classification must too.
  if (a.parse_ok) {
    mysql::LexOptions lo;
    lo.ansi_quotes = o.ansi_quotes;
    lo.no_backslash_escapes = o.no_backslash_escapes;
    lo.server_is_mariadb = o.server_is_mariadb;
    lo.server_version = o.server_version;
    const auto lex = mysql::lex_mysql(sql, lo);
    if (lex.ok) {
      std::string changed(sql);
      for (const auto& t : lex.tokens) {
        if (t.kind == mysql::TokKind::Number) {
          for (std::size_t k = t.offset; k < t.end; ++k) if (changed[k] >= '0' && changed[k] <= '9') changed[k] = '7';
        } else if (t.kind == mysql::TokKind::String && t.end > t.offset + 1) {
          for (std::size_t k = t.offset + 1; k + 1 < t.end; ++k) {
            const char ch = changed[k];
            if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) changed[k] = 'q';
          }
        }
      }
      const StatementInfo c = classify_mysql(changed, o);
      if (c.fingerprint == a.fingerprint) {
        StatementInfo a2 = a;
        a2.fingerprint = c.fingerprint;
        FUZZ_CHECK(same(a2, c));
      }
    }
  }
  return 0;
}
