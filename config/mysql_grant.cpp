// MySQL grant clauses of dynamic credentials: parse and render (no I/O).
#include "config/mysql_grant.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace segproxy::config {
namespace {

constexpr std::size_t kMaxIdentifier = 64;

// Object-level privileges a minted user may get (multi-word names as word lists).
constexpr std::array<std::string_view, 21> kPrivileges = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "REFERENCES",
    "CREATE VIEW", "SHOW VIEW", "TRIGGER", "EXECUTE", "ALTER ROUTINE", "CREATE ROUTINE",
    "CREATE TEMPORARY TABLES", "LOCK TABLES", "EVENT", "DELETE HISTORY", "ALL", "ALL PRIVILEGES"};

bool column_privilege(std::string_view p) {
  return p == "SELECT" || p == "INSERT" || p == "UPDATE" || p == "REFERENCES";
}

struct Lexer {
  std::string_view s;
  std::size_t i = 0;
  void skip_space() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool at_end() {
    skip_space();
    return i >= s.size();
  }
  bool peek(char c) {
    skip_space();
    return i < s.size() && s[i] == c;
  }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++i;
    return true;
  }
  // An upper-cased keyword ([A-Za-z]+), or "" when none is next.
  std::string word() {
    skip_space();
    std::size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    std::string w(s.substr(i, j - i));
    for (auto& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return w;
  }
  void take(const std::string& w) { i += w.size(); }
  // An identifier: plain [A-Za-z0-9_$]+ (not all digits) or `quoted` (`` = `).
  std::optional<std::string> ident(std::string& why) {
    skip_space();
    std::string out;
    if (i < s.size() && s[i] == '`') {
      ++i;
      for (;;) {
        if (i >= s.size()) {
          why = "unterminated ` quoted name";
          return std::nullopt;
        }
        if (s[i] == '`') {
          if (i + 1 < s.size() && s[i + 1] == '`') {
            out.push_back('`');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        out.push_back(s[i++]);
      }
    } else {
      bool digits_only = true;
      while (i < s.size()) {
        const char c = s[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$')) break;
        if (!std::isdigit(static_cast<unsigned char>(c))) digits_only = false;
        out.push_back(c);
        ++i;
      }
      if (out.empty()) {
        why = "expected a name";
        return std::nullopt;
      }
      if (digits_only) {
        why = "a name cannot be only digits";
        return std::nullopt;
      }
    }
    if (out.empty() || out.size() > kMaxIdentifier || out.find('\0') != std::string::npos) {
      why = "names must be 1 to 64 bytes";
      return std::nullopt;
    }
    return out;
  }
};

// One privilege at the lexer's position (longest match of the known names).
std::optional<std::string> privilege(Lexer& lx, std::string& why) {
  const std::size_t start = lx.i;
  std::string best;
  std::size_t best_end = start;
  std::string name;
  for (int words = 0; words < 3; ++words) {
    const std::string w = lx.word();
    if (w.empty()) break;
    lx.take(w);
    name += (name.empty() ? "" : " ") + w;
    if (std::find(kPrivileges.begin(), kPrivileges.end(), name) != kPrivileges.end()) {
      best = name;
      best_end = lx.i;
    }
  }
  lx.i = best_end;
  if (best.empty()) {
    lx.i = start;
    const std::string w = lx.word();
    why = w.empty() ? "expected a privilege" : "privilege \"" + name + "\" is not allowed for a minted user";
    if (w == "GRANT") why = "GRANT OPTION is not allowed for a minted user";
    return std::nullopt;
  }
  return best;
}

}  // namespace

std::optional<MysqlGrant> parse_mysql_grant(std::string_view text, std::string& why) {
  Lexer lx{text};
  MysqlGrant g;
  for (;;) {
    MysqlPrivilege p;
    const auto name = privilege(lx, why);
    if (!name) return std::nullopt;
    p.name = *name;
    if (lx.eat('(')) {
      if (!column_privilege(p.name)) {
        why = "privilege " + p.name + " takes no column list";
        return std::nullopt;
      }
      do {
        auto c = lx.ident(why);
        if (!c) return std::nullopt;
        p.columns.push_back(std::move(*c));
      } while (lx.eat(','));
      if (!lx.eat(')')) {
        why = "expected ')' after the column list";
        return std::nullopt;
      }
    }
    g.privileges.push_back(std::move(p));
    if (!lx.eat(',')) break;
  }
  if (lx.word() != "ON") {
    why = "expected ON after the privileges";
    return std::nullopt;
  }
  lx.take("ON");
  const std::string type = lx.word();
  if (type == "TABLE" || type == "FUNCTION" || type == "PROCEDURE") {
    // "TABLE" could also be a database named table: only a keyword when a name follows.
    Lexer probe = lx;
    probe.take(type);
    probe.skip_space();
    if (probe.i < probe.s.size() && probe.s[probe.i] != '.') {
      g.object_type = type;
      lx = probe;
    }
  }
  if (lx.peek('*')) {
    why = "the database must be named (no *.* or bare *: global grants are not allowed)";
    return std::nullopt;
  }
  auto db = lx.ident(why);
  if (!db) return std::nullopt;
  if (!lx.eat('.')) {
    why = "the object must be db.table or db.* (the database must be named)";
    return std::nullopt;
  }
  {
    // The server's own schemas: a grant there (INSERT ON mysql.*, ...) is a path to every
    // privilege; a backslash would change the meaning of the escaped db.* pattern.
    std::string lower = *db;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "mysql" || lower == "sys" || lower == "performance_schema" || lower == "information_schema") {
      why = "grants on the system schema " + *db + " are not allowed";
      return std::nullopt;
    }
    if (db->find('\\') != std::string::npos) {
      why = "a backslash in a database name is not allowed";
      return std::nullopt;
    }
  }
  g.database = std::move(*db);
  if (lx.eat('*')) {
    g.object = "*";
    if (!g.object_type.empty() && g.object_type != "TABLE") {
      why = g.object_type + " needs a named routine, not db.*";
      return std::nullopt;
    }
  } else {
    auto obj = lx.ident(why);
    if (!obj) return std::nullopt;
    g.object = std::move(*obj);
  }
  if (!lx.at_end()) {
    why = "unexpected text after the object (only \"PRIVILEGES ON db.object\" is accepted)";
    return std::nullopt;
  }
  for (const auto& p : g.privileges) {
    if (!p.columns.empty() && g.object == "*") {
      why = "column privileges need a named table";
      return std::nullopt;
    }
    if ((g.object_type == "FUNCTION" || g.object_type == "PROCEDURE") && p.name != "EXECUTE" &&
        p.name != "ALTER ROUTINE" && p.name != "ALL" && p.name != "ALL PRIVILEGES") {
      why = "privilege " + p.name + " does not apply to a " + g.object_type;
      return std::nullopt;
    }
  }
  return g;
}

namespace {
// `name` with backticks doubled (no checks: an escaped db.* pattern may exceed 64 bytes).
std::string backquote(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}
}  // namespace

std::optional<std::string> quote_mysql_identifier(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdentifier || name.find('\0') != std::string_view::npos) return std::nullopt;
  return backquote(name);
}

std::string render_mysql_grant(const MysqlGrant& g) {
  std::string out;
  for (const auto& p : g.privileges) {
    if (!out.empty()) out += ", ";
    out += p.name;
    if (!p.columns.empty()) {
      out += " (";
      for (std::size_t i = 0; i < p.columns.size(); ++i) {
        out += (i ? ", " : "") + backquote(p.columns[i]);
      }
      out += ")";
    }
  }
  out += " ON ";
  if (!g.object_type.empty()) out += g.object_type + " ";
  std::string db = g.database;
  if (g.object == "*") {
    std::string escaped;
    for (char c : db) {
      if (c == '_' || c == '%') escaped.push_back('\\');
      escaped.push_back(c);
    }
    db = std::move(escaped);
  }
  out += backquote(db) + ".";
  out += g.object == "*" ? std::string("*") : backquote(g.object);
  return out;
}

}  // namespace segproxy::config
