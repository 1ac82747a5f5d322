#include "authz/sql/pg_cache_key.hpp"

namespace segproxy::authz::sql {
namespace {

bool ident_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}
bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

// Case-insensitive: does `s` contain `word` (lower case)?
bool contains_word(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i + word.size() <= s.size(); ++i) {
    std::size_t k = 0;
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    while (k < word.size() && lower(s[i + k]) == word[k]) ++k;
    if (k == word.size()) return true;
  }
  return false;
}

}  // namespace

namespace {
// The key of `s` appended to `out` (cleared first); false: no key by shape.
template <class Out>
bool key_into(Out& out, std::string_view s, bool standard_conforming_strings) {
  out.clear();
  if (!standard_conforming_strings) return false;
  // The one literal-dependent classification: only the empty search_path may be set
  // (SET search_path = '', set_config('search_path', '', false)); such text is keyed
  // exactly, never by its shape.
  if (contains_word(s, "search_path") || contains_word(s, "set_config")) return false;
  out.reserve(s.size() + 3);
  out += "\x01N:";  // never equal to an exact-text key (statement text cannot start with \x01 legitimately)
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto prev_is_ident = [&](std::size_t at) {
    return at > 0 && (ident_char(static_cast<unsigned char>(s[at - 1])) || s[at - 1] == '.');
  };
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 || c == 0 || c == '\\') return false;
    if (c == '-' && i + 1 < n && s[i + 1] == '-') return false;  // comment
    if (c == '/' && i + 1 < n && s[i + 1] == '*') return false;  // comment
    if (c == '$') {
      // $n parameters are kept; anything else may be a dollar quote.
      if (i + 1 < n && digit(static_cast<unsigned char>(s[i + 1])) && !prev_is_ident(i)) {
        out.push_back('$');
        ++i;
        while (i < n && digit(static_cast<unsigned char>(s[i]))) out.push_back(s[i++]);
        if (i < n && ident_char(static_cast<unsigned char>(s[i]))) return false;
        continue;
      }
      return false;
    }
    if (c == '"') {  // quoted identifier: copied as is
      std::size_t j = i + 1;
      for (;;) {
        if (j >= n) return false;
        if (s[j] == '"') {
          if (j + 1 < n && s[j + 1] == '"') {
            j += 2;
            continue;
          }
          break;
        }
        if (static_cast<unsigned char>(s[j]) >= 0x80 || s[j] == 0) return false;
        ++j;
      }
      out.append(s.substr(i, j + 1 - i));
      i = j + 1;
      continue;
    }
    if (c == '\'') {
      if (prev_is_ident(i) || (i > 0 && s[i - 1] == '&')) return false;  // E'', U&'', B'', X'', N''
      std::size_t j = i + 1;
      for (;;) {
        if (j >= n) return false;
        unsigned char d = static_cast<unsigned char>(s[j]);
        if (d >= 0x80 || d == 0) return false;
        if (d == '\'') {
          if (j + 1 < n && s[j + 1] == '\'') {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      // Adjacent string constants separated only by whitespace with a newline are
      // concatenated by PostgreSQL; give up rather than model that.
      std::size_t k = j + 1;
      while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r' || s[k] == '\f')) ++k;
      if (k < n && s[k] == '\'') return false;
      out += "'?'";
      i = j + 1;
      continue;
    }
    if (digit(c) && !prev_is_ident(i)) {
      std::size_t j = i;
      while (j < n && digit(static_cast<unsigned char>(s[j]))) ++j;
      if (j < n && s[j] == '.') {
        ++j;
        while (j < n && digit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < n && (ident_char(static_cast<unsigned char>(s[j])) || s[j] == '.')) {
        // 1e5, 0x1F, 1_000, 123abc: let the exact text decide.
        return false;
      }
      out.push_back('?');
      i = j;
      continue;
    }
    out.push_back(static_cast<char>(c));
    ++i;
  }
  return true;
}
}  // namespace

std::optional<std::string> pg_cache_key(std::string_view s, bool standard_conforming_strings) {
  std::string out;
  if (!key_into(out, s, standard_conforming_strings)) return std::nullopt;
  return out;
}

bool pg_cache_key_into(std::pmr::string& out, std::string_view s, bool standard_conforming_strings) {
  return key_into(out, s, standard_conforming_strings);
}

}  // namespace segproxy::authz::sql
