// Which sql_mode flags and character sets the MySQL analyzer follows
// (mysql_lexing_settings.hpp).
#include "authz/sql/mysql_lexing_settings.hpp"

#include <algorithm>
#include <initializer_list>

namespace segproxy::authz::sql {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lx = static_cast<char>(x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x);
           const auto ly = static_cast<char>(y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
           return lx == ly;
         });
}

bool in(std::string_view w, std::initializer_list<std::string_view> set) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view k) { return iequal(w, k); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_followable_sql_mode_flag(std::string_view m) {
  return m.empty() ||
         in(m, {// lexing, followed by the lexer
                "ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI",
                // expressions only: the same objects are named
                "PIPES_AS_CONCAT", "HIGH_NOT_PRECEDENCE", "IGNORE_SPACE", "REAL_AS_FLOAT", "EMPTY_STRING_IS_NULL",
                "MYSQL323", "MYSQL40",
                // data checks and DDL details
                "STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE", "NO_ZERO_DATE",
                "ERROR_FOR_DIVISION_BY_ZERO", "NO_ENGINE_SUBSTITUTION", "ONLY_FULL_GROUP_BY", "NO_AUTO_VALUE_ON_ZERO",
                "NO_AUTO_CREATE_USER", "TRADITIONAL", "NO_UNSIGNED_SUBTRACTION", "PAD_CHAR_TO_FULL_LENGTH",
                "ALLOW_INVALID_DATES", "TIME_TRUNCATE_FRACTIONAL", "TIME_ROUND_FRACTIONAL", "NO_DIR_IN_CREATE",
                "SIMULTANEOUS_ASSIGNMENT", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS",
                "IGNORE_BAD_TABLE_OPTIONS"});
}

MysqlSqlMode parse_mysql_sql_mode(std::string_view value) {
  MysqlSqlMode out;
  std::size_t p = 0;
  while (p <= value.size()) {
    const std::size_t c = std::min(value.find(',', p), value.size());
    const std::string_view flag = trim(value.substr(p, c - p));
    if (in(flag, {"ANSI_QUOTES", "ANSI"})) out.ansi_quotes = true;
    if (in(flag, {"NO_BACKSLASH_ESCAPES"})) out.no_backslash_escapes = true;
    if (out.unfollowable.empty() && !is_followable_sql_mode_flag(flag)) {
      out.unfollowable.assign(flag.substr(0, 64));
      for (char& ch : out.unfollowable) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    }
    p = c + 1;
  }
  return out;
}

bool is_sql_mode_recovery(std::string_view text) {
  std::size_t p = 0;
  const auto space = [&] {
    while (p < text.size() && (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r')) ++p;
  };
  const auto word = [&] {  // [A-Za-z_@.]+
    const std::size_t b = p;
    while (p < text.size() && ((text[p] >= 'a' && text[p] <= 'z') || (text[p] >= 'A' && text[p] <= 'Z') ||
                               text[p] == '_' || text[p] == '@' || text[p] == '.')) {
      ++p;
    }
    return text.substr(b, p - b);
  };
  space();
  if (!in(word(), {"SET"})) return false;
  space();
  std::string_view var = word();
  if (in(var, {"SESSION", "LOCAL"})) {
    space();
    var = word();
  }
  if (!in(var, {"sql_mode", "@@sql_mode", "@@session.sql_mode", "@@local.sql_mode"})) return false;
  space();
  if (p < text.size() && text[p] == ':') ++p;
  if (p >= text.size() || text[p] != '=') return false;
  ++p;
  space();
  if (p < text.size() && text[p] == '\'') {
    const std::size_t b = ++p;
    while (p < text.size() && ((text[p] >= 'a' && text[p] <= 'z') || (text[p] >= 'A' && text[p] <= 'Z') ||
                               text[p] == '_' || text[p] == ',')) {
      ++p;
    }
    if (p >= text.size() || text[p] != '\'') return false;
    if (!parse_mysql_sql_mode(text.substr(b, p - b)).unfollowable.empty()) return false;
    ++p;
  } else if (!in(word(), {"DEFAULT"})) {
    return false;
  }
  space();
  if (p < text.size() && text[p] == ';') ++p;
  space();
  return p == text.size();
}

bool has_ascii_trail_bytes(std::string_view cs) { return in(cs, {"sjis", "cp932", "big5", "gbk"}); }

bool is_followable_charset(std::string_view cs) { return is_lexing_neutral_charset(cs) || has_ascii_trail_bytes(cs); }

std::string mask_multibyte_trail_bytes(std::string_view text, std::string_view cs) {
  std::string out(text);
  if (!has_ascii_trail_bytes(cs)) return out;
  // Lead and trail byte ranges of MariaDB's strings/ctype-{sjis,cp932,big5,gbk}.c.
  const bool big5 = in(cs, {"big5"}), gbk = in(cs, {"gbk"});
  const auto lead = [&](unsigned char c) {
    if (big5) return c >= 0xa1 && c <= 0xf9;
    if (gbk) return c >= 0x81 && c <= 0xfe;
    return (c >= 0x81 && c <= 0x9f) || (c >= 0xe0 && c <= 0xfc);  // sjis, cp932
  };
  const auto trail = [&](unsigned char c) {
    if (c >= 0x40 && c <= 0x7e) return true;
    if (big5) return c >= 0xa1 && c <= 0xfe;
    if (gbk) return c >= 0x80 && c <= 0xfe;
    return c >= 0x80 && c <= 0xfc;
  };
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (!lead(c) || !trail(static_cast<unsigned char>(out[i + 1]))) continue;
    if (static_cast<unsigned char>(out[i + 1]) < 0x80) out[i + 1] = static_cast<char>(0x80);
    ++i;  // the pair is one character
  }
  return out;
}

bool is_lexing_neutral_charset(std::string_view cs) {
  return in(cs, {"utf8mb4", "utf8mb3", "utf8", "ascii", "binary", "latin1", "latin2", "latin5", "latin7", "cp1250",
                 "cp1251", "cp1256", "cp1257", "cp850", "cp852", "cp866", "dec8", "hp8", "koi8r", "koi8u", "greek",
                 "hebrew", "armscii8", "keybcs2", "macce", "macroman", "geostd8", "tis620", "ujis", "eucjpms", "euckr",
                 "gb2312"});
}

}  // namespace segproxy::authz::sql
