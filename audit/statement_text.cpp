#include "audit/statement_text.hpp"

#include "audit/hash_chain.hpp"

namespace segproxy::audit {

bool statement_ident_char(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '$' || u >= 0x80;
}

std::size_t skip_quoted(std::string_view s, std::size_t i, char q, bool backslash) {
  ++i;
  while (i < s.size()) {
    if (backslash && s[i] == '\\') {
      i += 2;
      continue;
    }
    if (s[i] == q) {
      if (i + 1 < s.size() && s[i + 1] == q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return s.size();
}

bool escape_string_prefix(std::string_view before) {
  const std::size_t n = before.size();
  return n > 0 && (before[n - 1] == 'E' || before[n - 1] == 'e') && (n < 2 || !statement_ident_char(before[n - 2]));
}

std::size_t comment_end(std::string_view s, std::size_t i, bool hash) {
  const bool line = (s[i] == '-' && i + 1 < s.size() && s[i + 1] == '-') || (hash && s[i] == '#');
  if (line) {
    const std::size_t nl = s.find('\n', i);
    return nl == std::string_view::npos ? s.size() : nl;
  }
  if (s[i] == '/' && i + 1 < s.size() && s[i + 1] == '*') {
    const std::size_t end = s.find("*/", i + 2);
    return end == std::string_view::npos ? s.size() : end + 2;
  }
  return std::string_view::npos;
}

DollarToken scan_dollar(std::string_view s, std::size_t i) {
  // $tag$ ... $tag$ (tag: identifier characters without '$'); $1 is a parameter.
  std::size_t j = i + 1;
  while (j < s.size() && statement_ident_char(s[j]) && s[j] != '$') ++j;
  if (j > i + 1 && s[i + 1] >= '0' && s[i + 1] <= '9') return {DollarToken::Kind::Parameter, j};
  if (j < s.size() && s[j] == '$') {
    const std::string_view tag = s.substr(i, j - i + 1);
    const std::size_t end = s.find(tag, j + 1);
    return {DollarToken::Kind::Quoted, end == std::string_view::npos ? s.size() : end + tag.size()};
  }
  return {};
}


std::string normalize_statement(std::string_view s, std::string_view protocol) {
  std::string out;
  normalize_statement_into(out, s, protocol);
  return out;
}

void normalize_statement_into(std::string& out, std::string_view s, std::string_view protocol) {
  const bool mysql = protocol == "mysql";
  out.clear();
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    // Comments: -- to end of line, # (MySQL) to end of line, /* ... */ (nesting ignored).
    if (const std::size_t end = comment_end(s, i, mysql); end != std::string_view::npos) {
      i = end;
      out.push_back(' ');
      continue;
    }
    if (c == '\'') {
      // E'..' (PostgreSQL escape strings) take backslashes; MySQL always does.
      i = skip_quoted(s, i, '\'', mysql || escape_string_prefix(out));
      out.push_back('?');
      continue;
    }
    if (c == '"' || c == '`') {
      // MySQL: "..." is a string literal; otherwise (and `...`) a quoted identifier, kept.
      const bool literal = c == '"' && mysql;
      const std::size_t end = skip_quoted(s, i, c, literal);
      if (literal) {
        out.push_back('?');
      } else {
        out.append(s.substr(i, end - i));
      }
      i = end;
      continue;
    }
    if (c == '$' && !mysql && (out.empty() || !statement_ident_char(out.back()))) {
      const DollarToken d = scan_dollar(s, i);
      if (d.kind == DollarToken::Kind::Quoted) out.push_back('?');
      if (d.kind == DollarToken::Kind::Parameter) out.append(s.substr(i, d.end - i));  // positional parameter
      if (d.kind != DollarToken::Kind::None) {
        i = d.end;
        continue;
      }
    }
    if (c >= '0' && c <= '9' && (out.empty() || !statement_ident_char(out.back()))) {
      // Numeric literal (digits, '.', exponent, hex/binary prefixes, '_' separators).
      ++i;
      while (i < s.size()) {
        const char d = s[i];
        if (statement_ident_char(d) || d == '.') {
          ++i;
        } else if ((d == '+' || d == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E')) {
          ++i;
        } else {
          break;
        }
      }
      out.push_back('?');
      continue;
    }
    out.push_back(c);
    ++i;
  }
}

void apply_statement_text_into(std::string& out, StatementText mode, std::string_view sql,
                               std::string_view protocol) {
  switch (mode) {
    case StatementText::full: out.assign(sql); return;
    case StatementText::normalized: normalize_statement_into(out, sql, protocol); return;
    case StatementText::none: out.clear(); return;
  }
  out.clear();
}

std::string apply_statement_text(StatementText mode, std::string_view sql,
                                 std::string_view protocol) {
  switch (mode) {
    case StatementText::full: return std::string(sql);
    case StatementText::normalized: return normalize_statement(sql, protocol);
    case StatementText::none: return {};
  }
  return {};
}

void cap_statement_text(std::string& statement, std::optional<std::uint64_t>& statement_length,
                        std::string& statement_sha256, std::size_t max_bytes) {
  if (statement.size() <= max_bytes) return;
  statement_length = statement.size();
  statement_sha256 = sha256_hex(statement);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(statement[cut]) & 0xC0) == 0x80) --cut;
  statement.resize(cut);
  statement.shrink_to_fit();
}

}  // namespace segproxy::audit
