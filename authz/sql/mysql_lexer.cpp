// MySQL / MariaDB lexer; rules and rationale in mysql_lexer.hpp.
#include "authz/sql/mysql_lexer.hpp"

#include <algorithm>

#include <cstring>

namespace segproxy::authz::sql::mysql {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// my_isspace of the server's character sets.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
// Identifier characters: ASCII letters, digits, '_', '$' and every byte >= 0x80
// (multibyte characters of utf8mb4 / latin1 letters).
bool is_ident(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '$' ||
         u >= 0x80;
}

class Lexer {
 public:
  Lexer(std::string_view s, const LexOptions& o) : s_(s), o_(o) {}

  LexResult run() {
    // About one token per 4 bytes of SQL: one allocation instead of a growth series.
    res_.tokens.reserve(std::min<std::size_t>(s_.size() / 4 + 8, std::min<std::size_t>(o_.max_tokens, 1024)));
    std::size_t end = 0;
    if (lex(0, false, end)) res_.ok = true;
    return std::move(res_);
  }

 private:
  char at(std::size_t i) const { return i < s_.size() ? s_[i] : '\0'; }

  bool fail(std::string msg, bool syntax) {
    res_.ok = false;
    res_.syntax_error = syntax;
    res_.error = std::move(msg);
    return false;
  }

  bool push(TokKind k, std::string text, std::size_t b, std::size_t e, char quote = 0) {
    if (res_.tokens.size() >= o_.max_tokens) {
      res_.too_many_tokens = true;
      return fail("statement has too many tokens", false);
    }
    Token t;
    t.kind = k;
    t.text = std::move(text);
    t.offset = static_cast<std::uint32_t>(b);
    t.end = static_cast<std::uint32_t>(e);
    t.in_exec_comment = in_exec_;
    t.joined = !res_.tokens.empty() && res_.tokens.back().end == b;
    t.quote = quote;
    res_.tokens.push_back(std::move(t));
    return true;
  }

  // Server's consume_comment: from `p` (just after the opening "/*"), find the closing
  // "*/"; with nesting > 0 one level of "/* ... */" inside is allowed. Returns the
  // position after "*/", or npos when unterminated.
  std::size_t consume_comment(std::size_t p, int nesting) const {
    while (p < s_.size()) {
      const char c = s_[p++];
      if (nesting > 0 && c == '/' && at(p) == '*') {
        const std::size_t q = consume_comment(p + 1, nesting - 1);
        if (q == npos) return npos;
        p = q;
        continue;
      }
      if (c == '*' && at(p) == '/') return p + 1;
    }
    return npos;
  }

  // Quoted string or identifier starting at s_[p] == q. Returns the end or npos.
  std::size_t quoted(std::size_t p, char q, bool backslash, std::string& value) const {
    for (std::size_t i = p + 1; i < s_.size(); ++i) {
      const char c = s_[i];
      if (backslash && c == '\\') {
        if (i + 1 >= s_.size()) return npos;
        const char e = s_[++i];
        switch (e) {
          case '0': value.push_back('\0'); break;
          case 'b': value.push_back('\b'); break;
          case 'n': value.push_back('\n'); break;
          case 'r': value.push_back('\r'); break;
          case 't': value.push_back('\t'); break;
          case 'Z': value.push_back('\032'); break;
          case '%': case '_': value.push_back('\\'); value.push_back(e); break;
          default: value.push_back(e); break;
        }
        continue;
      }
      if (c == q) {
        if (at(i + 1) == q) {
          value.push_back(q);
          ++i;
          continue;
        }
        return i + 1;
      }
      value.push_back(c);
    }
    return npos;
  }

  bool string_token(std::size_t& p, char q, TokKind kind) {
    std::string v;
    const bool backslash = kind == TokKind::String && !o_.no_backslash_escapes;
    const std::size_t e = quoted(p, q, backslash, v);
    if (e == npos) {
      return fail(kind == TokKind::String ? "unterminated string literal" : "unterminated quoted identifier",
                  true);
    }
    if (kind == TokKind::QuotedIdent && !valid_name(v)) return false;
    if (!push(kind, std::move(v), p, e, q)) return false;
    p = e;
    return true;
  }

  // /*! ... */, /*!NNNNN ... */ and /*M!NNNNNN ... */ are code whatever the version and
  // whatever the server: a server may run them (another version, another product behind
  // the same listener, a failover), so their content is judged as code (fail closed).
  bool executable_comment(std::size_t& p) {
    const bool maria = at(p + 2) == 'M';
    if (in_exec_) return fail("nested executable comment", false);
    std::size_t q = p + (maria ? 4 : 3);
    std::size_t digits = 0;
    while (digits < 7 && is_digit(at(q + digits))) ++digits;
    if (digits >= 5) {
      std::size_t len = 5;
      if (digits >= 6) {
        // /*M! is MariaDB-only syntax with 6-digit versions; /*!NNNNNN is read as a
        // 5-digit version followed by code by MySQL and as a 6-digit one by MariaDB.
        if (digits > 6 || (!maria && !(o_.server_is_mariadb && o_.server_version != 0))) {
          return fail("version comment with more than 5 digits is read differently by MySQL and MariaDB", false);
        }
        len = 6;
      }
      q += len;
    }
    // Both readings must agree on where the comment ends.
    const std::size_t as_comment = consume_comment(q, 1);
    in_exec_ = true;
    std::size_t as_code = npos;
    const bool ok = lex(q, true, as_code);
    in_exec_ = false;
    if (!ok) return false;
    if (as_code == npos || as_comment == npos) return fail("unterminated executable comment", true);
    if (as_code != as_comment) {
      return fail("executable comment ends at a different place when skipped than when executed", false);
    }
    p = as_code;
    return true;
  }

  bool number_or_word(std::size_t& p) {
    const std::size_t b = p;
    const char c0 = s_[p];
    if (c0 == '0' && (at(p + 1) == 'x' || at(p + 1) == 'b')) {
      const bool hex = at(p + 1) == 'x';
      std::size_t q = p + 2;
      while (q < s_.size() && (hex ? is_hex(s_[q]) : (s_[q] == '0' || s_[q] == '1'))) ++q;
      if (q > p + 2 && !is_ident(at(q))) {
        p = q;
        return push(TokKind::BitHex, std::string(s_.substr(b, q - b)), b, q);
      }
    }
    // As the server (MY_LEX_NUMBER_IDENT / MY_LEX_REAL): digits with a fraction or an
    // exponent are a number even when letters follow ("1e1FROM t" is 1e1 FROM t); digits
    // followed by other identifier characters are an identifier ("1abc").
    const auto exponent = [&](std::size_t r) {
      if (at(r) != 'e' && at(r) != 'E') return r;
      std::size_t k = r + 1;
      if (at(k) == '+' || at(k) == '-') ++k;
      if (!is_digit(at(k))) return r;
      while (k < s_.size() && is_digit(s_[k])) ++k;
      return k;
    };
    std::size_t q = p;
    while (q < s_.size() && is_digit(s_[q])) ++q;
    if (at(q) == '.') {  // real: digits '.' digits [exponent]
      ++q;
      while (q < s_.size() && is_digit(s_[q])) ++q;
      q = exponent(q);
    } else if (is_ident(at(q))) {
      const std::size_t e = exponent(q);
      if (e == q) {  // identifier starting with digits
        while (q < s_.size() && is_ident(s_[q])) ++q;
        p = q;
        return word(b, q);
      }
      q = e;
    }
    p = q;
    return push(TokKind::Number, std::string(s_.substr(b, q - b)), b, q);
  }

  // A Word token; identifiers with bytes >= 0x80 must be valid UTF-8 under a utf8
  // character set (the server ends an identifier at an invalid sequence) and are refused
  // under single-byte character sets (not every high byte is a letter there).
  bool word(std::size_t b, std::size_t e) {
    if (!valid_name(s_.substr(b, e - b))) return false;
    return push(TokKind::Word, std::string(s_.substr(b, e - b)), b, e);
  }

  bool valid_name(std::string_view v) {
    bool high = false;
    for (const char c : v) high = high || static_cast<unsigned char>(c) >= 0x80;
    if (!high) return true;
    if (!o_.utf8) return fail("non-ASCII identifier under a single-byte character set", false);
    for (std::size_t i = 0; i < v.size();) {
      const auto u = static_cast<unsigned char>(v[i]);
      std::size_t n = u < 0x80 ? 1 : (u >> 5) == 6 ? 2 : (u >> 4) == 14 ? 3 : (u >> 3) == 30 ? 4 : 0;
      if (n == 0 || i + n > v.size() || (n == 2 && u < 0xc2)) return fail("invalid UTF-8 in an identifier", false);
      for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(v[i + k]) & 0xc0) != 0x80) return fail("invalid UTF-8 in an identifier", false);
      }
      i += n;
    }
    return true;
  }

  bool variable(std::size_t& p) {
    const std::size_t b = p;
    if (at(p + 1) == '@') {
      std::size_t q = p + 2;
      std::string name;
      for (;;) {
        if (at(q) == '`') {
          std::string v;
          const std::size_t e = quoted(q, '`', false, v);
          if (e == npos) return fail("unterminated quoted identifier", true);
          name += v;
          q = e;
        } else {
          const std::size_t s = q;
          while (q < s_.size() && is_ident(s_[q])) ++q;
          if (q == s) return fail("system variable name expected after @@", true);
          name += s_.substr(s, q - s);
        }
        if (at(q) == '.' && (is_ident(at(q + 1)) || at(q + 1) == '`')) {
          name.push_back('.');
          ++q;
          continue;
        }
        break;
      }
      p = q;
      return push(TokKind::SysVar, ascii_lower(name), b, q);
    }
    const char c = at(p + 1);
    if (c == '\'' || c == '"' || c == '`') {
      std::string v;
      const std::size_t e = quoted(p + 1, c, c != '`' && !o_.no_backslash_escapes, v);
      if (e == npos) return fail("unterminated quoted variable name", true);
      p = e;
      return push(TokKind::UserVar, std::move(v), b, e, c);
    }
    std::size_t q = p + 1;
    while (q < s_.size() && (is_ident(s_[q]) || s_[q] == '.')) ++q;
    if (q == p + 1) {
      p = q;
      return push(TokKind::Op, "@", b, q);
    }
    p = q;
    return push(TokKind::UserVar, std::string(s_.substr(b + 1, q - b - 1)), b, q);
  }

  bool op(std::size_t& p) {
    static constexpr std::string_view kMulti[] = {"->>", "<=>", "<<", ">>", "<=", ">=", "<>", "!=",
                                                  "||",  "&&",  ":=", "->"};
    for (const auto m : kMulti) {
      if (s_.substr(p, m.size()) == m) {
        p += m.size();
        return push(TokKind::Op, std::string(m), p - m.size(), p);
      }
    }
    const char c = s_[p];
    if (std::strchr("+-*/%=<>!~^&|:{}[]", c) == nullptr || c == '\0') {
      return fail(std::string("unexpected character '") + c + "'", true);
    }
    ++p;
    return push(TokKind::Op, std::string(1, c), p - 1, p);
  }

  // Lexes from p. In an executable comment, stops after its closing "*/" (end = position
  // after it); at top level, runs to the end of the text.
  bool lex(std::size_t p, bool exec, std::size_t& end) {
    const std::size_t n = s_.size();
    while (p < n) {
      const char c = s_[p];
      const char d = at(p + 1);
      if (is_space(c)) { ++p; continue; }
      if (c == '\0') return fail("NUL byte in statement", false);
      if (c == '#' || (c == '-' && d == '-' && (p + 2 >= n || static_cast<unsigned char>(at(p + 2)) <= ' ' ||
                                                at(p + 2) == '\x7f'))) {
        while (p < n && s_[p] != '\n') {
          if (s_[p] == '\0') return fail("NUL byte in comment", false);
          ++p;
        }
        continue;
      }
      if (c == '-' && d == '-' && static_cast<unsigned char>(at(p + 2)) >= 0x80) {
        return fail("'--' followed by a non-ASCII byte (comment or not depends on the server's ctype)", false);
      }
      if (c == '/' && d == '*') {
        if (at(p + 2) == '!' || (at(p + 2) == 'M' && at(p + 3) == '!')) {
          if (!executable_comment(p)) return false;
          continue;
        }
        const std::size_t e = consume_comment(p + 2, 0);
        if (e == npos) return fail("unterminated comment", true);
        if (at(p + 2) == '+') {
          const std::string_view body = s_.substr(p + 3, e - p - 5);
          if (body.find_first_of("'\"`") != npos) return fail("quote inside an optimizer hint comment", false);
        }
        if (s_.substr(p, e - p).find('\0') != npos) return fail("NUL byte in comment", false);
        p = e;
        continue;
      }
      if (exec && c == '*' && d == '/') {
        end = p + 2;
        return true;
      }
      if (c == '\'') { if (!string_token(p, '\'', TokKind::String)) return false; continue; }
      if (c == '"') {
        if (!string_token(p, '"', o_.ansi_quotes ? TokKind::QuotedIdent : TokKind::String)) return false;
        continue;
      }
      if (c == '`') { if (!string_token(p, '`', TokKind::QuotedIdent)) return false; continue; }
      if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && d == '\'') {
        const std::size_t b = p;
        const std::size_t e = s_.find('\'', p + 2);
        if (e == npos) return fail("unterminated bit/hex literal", true);
        p = e + 1;
        if (!push(TokKind::BitHex, std::string(s_.substr(b, p - b)), b, p)) return false;
        continue;
      }
      if ((c == 'n' || c == 'N') && d == '\'') {  // national string: same lexing as '...'
        ++p;
        if (!string_token(p, '\'', TokKind::String)) return false;
        res_.tokens.back().offset -= 1;
        continue;
      }
      if (is_digit(c) || (c == '.' && is_digit(d) && !(res_.tokens.size() && res_.tokens.back().end == p &&
                                                        (res_.tokens.back().kind == TokKind::Word ||
                                                         res_.tokens.back().kind == TokKind::QuotedIdent)))) {
        if (!number_or_word(p)) return false;
        continue;
      }
      if (c == '$' && !o_.server_is_mariadb) {
        // MySQL 8 reads $tag$...$tag$ as a dollar-quoted string where older servers read
        // an identifier; identifiers starting with '$' are deprecated there anyway.
        return fail("identifier starting with '$' (dollar-quoted text on MySQL 8)", false);
      }
      if (is_ident(c)) {
        const std::size_t b = p;
        while (p < n && is_ident(s_[p])) ++p;
        if (!word(b, p)) return false;
        continue;
      }
      if (c == '@') { if (!variable(p)) return false; continue; }
      if (c == '\\') return fail("backslash outside a string", true);
      TokKind k = TokKind::Op;
      switch (c) {
        case '(': k = TokKind::LParen; break;
        case ')': k = TokKind::RParen; break;
        case ',': k = TokKind::Comma; break;
        case '.': k = TokKind::Dot; break;
        case ';': k = TokKind::Semicolon; break;
        case '?': k = TokKind::Param; break;
        default: break;
      }
      if (k != TokKind::Op) {
        if (!push(k, std::string(1, c), p, p + 1)) return false;
        ++p;
        continue;
      }
      if (!op(p)) return false;
    }
    end = std::string_view::npos;
    return true;
  }

  std::string_view s_;
  const LexOptions& o_;
  LexResult res_;
  bool in_exec_ = false;
};

}  // namespace

LexResult lex_mysql(std::string_view sql, const LexOptions& opts) { return Lexer(sql, opts).run(); }

}  // namespace segproxy::authz::sql::mysql
