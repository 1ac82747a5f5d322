// standard_conforming_strings=off followed by rewriting the classifier's copy of the text
// (pg_lexing.hpp). The scanner mirrors PostgreSQL 15's src/backend/parser/scan.l where
// it decides which quote starts which kind of string:
//  - identifiers [A-Za-z\200-\377_][A-Za-z\200-\377_0-9$]* are read whole, so a quote
//    after `xe` or `date` is a plain string start, and after a lone E/N/B/X/U& a prefix;
//  - numbers end before a letter (1e'x' is 1 then E'x', scan.l realfail1);
//  - `--` and nested `/* */` comments, "identifiers" (with ""), $tag$ dollar quotes (a $
//    after an identifier character belongs to the identifier; $1 is a parameter);
//  - strings: xe (E'' and, under off, plain '') ends at a quote not escaped by a
//    backslash or doubled; xb/xh (B'', X'') end at the first quote; a quote after
//    whitespace containing a newline (scan.l quotecontinue) continues the same string.
// Under off, scan.l's {xqstart} begins xe, and N'' is NCHAR followed by a plain string,
// so both become E strings here; U&'' is an error there (and refused here).
#include <cctype>

#include "authz/sql/pg_lexing.hpp"

namespace segproxy::authz::sql {
namespace {

bool ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool ident_cont(unsigned char c) { return ident_start(c) || std::isdigit(c) || c == '$'; }
bool horiz_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }
bool newline(char c) { return c == '\n' || c == '\r'; }
bool space(char c) { return horiz_space(c) || newline(c); }

class Rewriter {
 public:
  explicit Rewriter(std::string_view s) : s_(s) { out_.text.reserve(s.size() + 16); }

  ScsOffRewrite run() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '-' && at(i_ + 1) == '-') {
        while (i_ < s_.size() && !newline(s_[i_])) copy();
      } else if (c == '/' && at(i_ + 1) == '*') {
        block_comment();
      } else if (c == '\'') {
        insert(" E");
        string_body(true);
      } else if (c == '"') {
        quoted_identifier();
      } else if (c == '$') {
        dollar();
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        number();
      } else if (ident_start(static_cast<unsigned char>(c))) {
        if (!identifier()) return std::move(out_);
      } else {
        copy();
      }
    }
    out_.ok = true;
    return std::move(out_);
  }

 private:
  char at(std::size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  void copy() {
    const auto b = static_cast<unsigned char>(s_[i_++]);
    out_.text.push_back(static_cast<char>(b));
    if ((b & 0xC0) != 0x80) ++chars_;
  }
  void insert(std::string_view what) {
    out_.inserted.emplace_back(chars_ + 1, static_cast<int>(what.size()));
    out_.text.append(what);
    chars_ += static_cast<int>(what.size());
  }

  void block_comment() {
    int depth = 0;
    while (i_ < s_.size()) {
      if (s_[i_] == '/' && at(i_ + 1) == '*') {
        ++depth;
        copy();
        copy();
      } else if (s_[i_] == '*' && at(i_ + 1) == '/') {
        copy();
        copy();
        if (--depth == 0) return;
      } else {
        copy();
      }
    }
  }

  void quoted_identifier() {
    copy();  // opening "
    while (i_ < s_.size()) {
      if (s_[i_] == '"') {
        copy();
        if (at(i_) != '"') return;
        copy();  // "" inside
      } else {
        copy();
      }
    }
  }

  // At a quote: the string continues after whitespace with a newline (scan.l
  // quotecontinue); returns the index of the continuing quote, or npos.
  std::size_t continuation(std::size_t k) const {
    while (k < s_.size()) {
      if (horiz_space(s_[k])) {
        ++k;
      } else if (s_[k] == '-' && at(k + 1) == '-') {
        while (k < s_.size() && !newline(s_[k])) ++k;
      } else {
        break;
      }
    }
    if (k >= s_.size() || !newline(s_[k])) return std::string_view::npos;
    ++k;
    while (k < s_.size()) {
      if (space(s_[k])) {
        ++k;
      } else if (s_[k] == '-' && at(k + 1) == '-') {
        while (k < s_.size() && !newline(s_[k])) ++k;
        if (k >= s_.size()) return std::string_view::npos;
        ++k;  // {comment}{newline}
      } else {
        break;
      }
    }
    return at(k) == '\'' ? k : std::string_view::npos;
  }

  // At the opening quote. escapes: xe (backslash escapes, '' doubled); else xb/xh.
  void string_body(bool escapes) {
    copy();  // opening '
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (escapes && c == '\\') {
        copy();
        if (i_ < s_.size()) copy();
      } else if (c == '\'') {
        copy();
        if (escapes && at(i_) == '\'') {
          copy();  // '' inside
          continue;
        }
        const std::size_t next = continuation(i_);
        if (next == std::string_view::npos) return;
        while (i_ < next) copy();
        copy();  // the continuing quote: same string, same kind
      } else {
        copy();
      }
    }
  }

  void dollar() {
    // $n parameter
    if (std::isdigit(static_cast<unsigned char>(at(i_ + 1)))) {
      copy();
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) copy();
      return;
    }
    // $tag$ with tag [A-Za-z\200-\377_][A-Za-z\200-\377_0-9]* or empty
    std::size_t k = i_ + 1;
    if (k < s_.size() && ident_start(static_cast<unsigned char>(s_[k]))) {
      ++k;
      while (k < s_.size() && ident_cont(static_cast<unsigned char>(s_[k])) && s_[k] != '$') ++k;
    }
    if (at(k) != '$') {  // scan.l dolqfailed: a lone '$'
      copy();
      return;
    }
    const std::string_view delim = s_.substr(i_, k + 1 - i_);
    const std::size_t end = s_.find(delim, k + 1);
    const std::size_t stop = end == std::string_view::npos ? s_.size() : end + delim.size();
    while (i_ < stop) copy();
  }

  void number() {
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) copy();
    // exponent only when digits follow; else the letter begins the next token
    if ((at(i_) == 'e' || at(i_) == 'E')) {
      std::size_t k = i_ + 1;
      if (at(k) == '+' || at(k) == '-') ++k;
      if (std::isdigit(static_cast<unsigned char>(at(k)))) {
        while (i_ < k) copy();
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) copy();
      }
    }
  }

  // An identifier or keyword, read whole; a one-letter E/N/B/X/U& before a quote is a
  // string prefix. false: refused (out_.error set).
  bool identifier() {
    const std::size_t start = i_;
    std::size_t k = i_;
    while (k < s_.size() && ident_cont(static_cast<unsigned char>(s_[k]))) ++k;
    if (k - start == 1) {
      const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[start])));
      if (at(k) == '\'') {
        if (p == 'e' || p == 'b' || p == 'x') {
          copy();
          string_body(p == 'e');
          return true;
        }
        if (p == 'n') {  // NCHAR followed by a plain string: NCHAR E'...'
          copy();
          insert("CHAR E");
          string_body(true);
          return true;
        }
      }
      if (p == 'u' && at(k) == '&' && at(k + 1) == '\'') {
        out_.error =
            "segproxy: U&'' strings are not accepted while standard_conforming_strings is off (PostgreSQL rejects "
            "them as an unsafe use of a string constant with Unicode escapes)";
        return false;
      }
    }
    while (i_ < k) copy();
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int chars_ = 0;
  ScsOffRewrite out_;
};

}  // namespace

ScsOffRewrite pg_rewrite_scs_off(std::string_view utf8) { return Rewriter(utf8).run(); }

int pg_position_before_rewrite(int position, const std::vector<std::pair<int, int>>& inserted) {
  int shift = 0;
  for (const auto& [at, count] : inserted) {
    if (at >= position) break;
    shift += position >= at + count ? count : position - at;
  }
  return position - shift;
}

}  // namespace segproxy::authz::sql
