#include "audit/statement_text.hpp"

#include "audit/hash_chain.hpp"

namespace segproxy::audit {
namespace {

bool ident_char(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '$' || u >= 0x80;
}

// Index just past a quoted literal starting at `i` (the opening quote), or s.size().
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

}  // namespace

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
    if ((c == '-' && i + 1 < s.size() && s[i + 1] == '-') || (mysql && c == '#')) {
      while (i < s.size() && s[i] != '\n') ++i;
      out.push_back(' ');
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const std::size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
      out.push_back(' ');
      continue;
    }
    if (c == '\'') {
      // E'..' (PostgreSQL escape strings) take backslashes; MySQL always does.
      const bool esc = mysql || (!out.empty() && (out.back() == 'E' || out.back() == 'e') &&
                                 (out.size() < 2 || !ident_char(out[out.size() - 2])));
      i = skip_quoted(s, i, '\'', esc);
      out.push_back('?');
      continue;
    }
    if (c == '"') {
      if (mysql) {
        i = skip_quoted(s, i, '"', true);
        out.push_back('?');
      } else {
        const std::size_t end = skip_quoted(s, i, '"', false);
        out.append(s.substr(i, end - i));
        i = end;
      }
      continue;
    }
    if (c == '`') {
      const std::size_t end = skip_quoted(s, i, '`', false);
      out.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '$' && !mysql && (out.empty() || !ident_char(out.back()))) {
      // $tag$ ... $tag$ (tag: identifier chars without '$'); $1 is a parameter.
      std::size_t j = i + 1;
      while (j < s.size() && ident_char(s[j]) && s[j] != '$') ++j;
      if (j < s.size() && s[j] == '$' && !(j > i + 1 && s[i + 1] >= '0' && s[i + 1] <= '9')) {
        const std::string_view tag = s.substr(i, j - i + 1);
        const std::size_t end = s.find(tag, j + 1);
        i = end == std::string_view::npos ? s.size() : end + tag.size();
        out.push_back('?');
        continue;
      }
      if (j > i + 1 && s[i + 1] >= '0' && s[i + 1] <= '9') {
        out.append(s.substr(i, j - i));  // positional parameter
        i = j;
        continue;
      }
    }
    if (c >= '0' && c <= '9' && (out.empty() || !ident_char(out.back()))) {
      // Numeric literal (digits, '.', exponent, hex/binary prefixes, '_' separators).
      ++i;
      while (i < s.size()) {
        const char d = s[i];
        if (ident_char(d) || d == '.') {
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
