// The linear pre-scan of PostgreSQL text, before libpg_query sees it (issue 12, 4.1):
// statement length, statement count, estimated nesting depth and the work libpg_query's
// scanner would do. It lexes like libpg_query (standard_conforming_strings=on): '...'
// and "..." with doubled quotes, E'...' with backslash escapes (only when the E starts a
// token: after a number, not inside an identifier), $tag$ ... $tag$, -- comments, and
// nested /* ... */ comments.
//
// Depth: each open parenthesis/bracket/CASE level counts one (CASE ... END nests without
// parentheses), plus every operator (operator characters, `::`) and keyword operator
// (NOT, IS, ISNULL, NOTNULL, COLLATE, AT, OPERATOR) since the last comma, AND or OR at
// that level, plus every UNION / INTERSECT / EXCEPT / JOIN at that level since the
// statement began (set operations and joins build left-deep trees across commas:
// `SELECT 1, 2 UNION SELECT 1, 2 UNION ...`). AND and OR bind loosest and the grammar
// flattens them into one list, so `WHERE id = 1 OR id = 2 OR ...` stays shallow.
//
// Scanner work: flex's longest-match rules `{operator}` and `{xcstart}` (/\*{op_chars}*)
// read a whole run of operator characters and give back all but one token, so a run of
// length L is re-read once per token and per comment opener in it: `/*/*/*...` or
// `/**//**/...` (400 KB: minutes) and `+-+-+-...`. The cost counted here is
// sum(L * restarts) over every run (in code and in block comments), plus the dollar-quote
// bodies; it is refused above 32 bytes of work per byte of text (real SQL stays around
// 1-2).
//
// Tokens (limits.max_statement_tokens): a quoted string, quoted identifier, E'' / B'' /
// X'' literal, dollar-quoted body, -- comment or /* */ comment (nested or not) is one
// token however long; an identifier or keyword is one; a run of digits, dots and other
// characters is one; every punctuation and operator character is one (an upper bound on
// what libpg_query's scanner returns: `<>` counts two).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {
namespace {

bool ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool ident_cont(unsigned char c) { return ident_start(c) || std::isdigit(c) || c == '$'; }
bool pg_op_char(char c) { return c != '\0' && std::strchr("~!@#^&|`?+-*/%<>=", c) != nullptr; }
bool depth_op_char(char c) { return c != '\0' && std::strchr("+-*/<>=~!@#%^&|`?:", c) != nullptr; }

class TextScanner {
 public:
  explicit TextScanner(std::string_view s) : s_(s), n_(s.size()) {}

  TextScan run() {
    while (i_ < n_) {
      const char c = s_[i_];
      if (c == '\'' || c == '"') {
        token();
        ++out_.tokens;
        quoted(c, false);
      } else if (c == '-' && at(i_ + 1) == '-') {
        ++out_.tokens;
        feed_op('-', false);
        feed_op('-', false);
        end_run();
        while (i_ < n_ && s_[i_] != '\n') ++i_;
      } else if (c == '/' && at(i_ + 1) == '*') {
        ++out_.tokens;
        block_comment();
      } else if (c == '$') {
        token();
        ++out_.tokens;
        dollar();
      } else if (c == '(' || c == '[') {
        token();
        ++out_.tokens;
        open_level(false);
        ++i_;
      } else if (c == ')' || c == ']') {
        token();
        ++out_.tokens;
        // Closes the innermost bracket, and any CASE left open inside it (invalid SQL).
        while (levels_.size() > 1 && levels_.back().is_case) close_level();
        if (levels_.size() > 1) close_level();
        ++i_;
      } else if (c == ',') {
        token();
        ++out_.tokens;
        reset_ops();
        ++i_;
      } else if (c == ';') {
        end_run();
        ++out_.tokens;
        if (in_statement_) ++out_.statements;
        in_statement_ = false;
        sum_ -= levels_.back().ops + levels_.back().chains;
        levels_.back().ops = levels_.back().chains = 0;
        ++i_;
      } else if (pg_op_char(c) || c == ':') {
        in_statement_ = true;
        ++out_.tokens;
        if (depth_op_char(c)) add_op();
        if (pg_op_char(c)) feed_op(c, false);
        else end_run();
        ++i_;
      } else if (ident_start(static_cast<unsigned char>(c))) {
        token();
        ++out_.tokens;
        word();
      } else {
        if (!std::isspace(static_cast<unsigned char>(c))) {
          token();
          if (other_end_ != i_) ++out_.tokens;  // digits, '.', ...: one token per run
          other_end_ = i_ + 1;
        } else {
          end_run();
        }
        ++i_;
      }
      out_.depth = std::max(out_.depth, sum_);
    }
    end_run();
    if (in_statement_) ++out_.statements;
    return out_;
  }

 private:
  struct Level {
    std::size_t ops = 0;     // operators since the last comma, AND or OR
    std::size_t chains = 0;  // set operations and joins since the statement began
    bool is_case = false;    // opened by CASE (closed by END), else by ( or [
  };

  void open_level(bool is_case) {
    levels_.push_back({0, 0, is_case});
    ++sum_;
  }
  void close_level() {
    sum_ -= levels_.back().ops + levels_.back().chains + 1;
    levels_.pop_back();
  }
  void reset_ops() {
    sum_ -= levels_.back().ops;
    levels_.back().ops = 0;
  }

  char at(std::size_t k) const { return k < n_ ? s_[k] : '\0'; }

  // A character that is not an operator character: ends the current run.
  void token() {
    end_run();
    in_statement_ = true;
  }

  void add_op() {
    ++levels_.back().ops;
    ++sum_;
  }

  // One operator character read by flex in code (in_comment false) or inside /* */.
  void feed_op(char c, bool in_comment) {
    if (run_len_ == 0) ++run_restarts_;
    if (!in_comment && (c == '+' || c == '-')) ++run_restarts_;  // {operator} strips trailing +/-
    if (c == '*' && run_len_ > 0 && prev_op_ == '/') ++run_restarts_;  // a comment opener
    prev_op_ = c;
    ++run_len_;
  }
  void end_run() {
    out_.rescan_cost += static_cast<std::uint64_t>(run_len_) * run_restarts_;
    run_len_ = run_restarts_ = 0;
    prev_op_ = '\0';
  }

  // '...' (escapes: E'...'), "..." : skipped to the closing quote (or the end).
  void quoted(char q, bool escapes) {
    for (++i_; i_ < n_; ++i_) {
      if (escapes && s_[i_] == '\\') {
        ++i_;
        continue;
      }
      if (s_[i_] == q) {
        if (at(i_ + 1) == q) {
          ++i_;
          continue;
        }
        break;
      }
    }
    ++i_;
  }

  // /* ... */ with nesting, as PostgreSQL's scanner reads it; its operator-character
  // runs count towards the scanner work (they continue a run from the code before).
  void block_comment() {
    std::size_t level = 0;
    bool in_comment = false;  // the opener itself is read by a code-state rule
    while (i_ < n_) {
      const char c = s_[i_];
      if (c == '/' && at(i_ + 1) == '*') {
        feed_op('/', in_comment);
        feed_op('*', in_comment);
        ++level;
        in_comment = true;
        i_ += 2;
      } else if (c == '*' && at(i_ + 1) == '/') {
        feed_op('*', true);
        feed_op('/', true);
        i_ += 2;
        if (--level == 0) return;
      } else {
        if (pg_op_char(c)) feed_op(c, true);
        else end_run();
        ++i_;
      }
    }
  }

  // $tag$ ... $tag$, $$ ... $$, or a $n parameter. Reached only at a token start (a `$`
  // inside an identifier is consumed by word()).
  void dollar() {
    std::size_t j = i_ + 1;
    if (j < n_ && ident_start(static_cast<unsigned char>(s_[j]))) {
      while (j < n_ && ident_cont(static_cast<unsigned char>(s_[j])) && s_[j] != '$') ++j;
    }
    if (j < n_ && s_[j] == '$') {
      const std::string_view tag = s_.substr(i_, j - i_ + 1);
      const auto end = s_.find(tag, j + 1);
      const std::size_t stop = end == std::string_view::npos ? n_ : end + tag.size();
      // The search is linear: a partial match cannot extend past the next '$' (tags hold
      // no '$'), so each byte is compared about once.
      out_.rescan_cost += stop - j;
      i_ = stop;
      return;
    }
    ++i_;
    while (i_ < n_ && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
  }

  void word() {
    const std::size_t start = i_;
    while (i_ < n_ && ident_cont(static_cast<unsigned char>(s_[i_]))) ++i_;
    const std::string_view w = s_.substr(start, i_ - start);
    if (at(i_) == '\'') {  // E'...' takes backslash escapes; B'', X'', N'', name'' do not
      const bool escapes = w.size() == 1 && (w[0] == 'e' || w[0] == 'E');
      quoted('\'', escapes);
      return;
    }
    if (w.size() > 9) return;
    const std::string lw = lower_ascii(w);
    if (lw == "case") return open_level(true);
    if (lw == "end") {
      if (levels_.size() > 1 && levels_.back().is_case) close_level();
      return;
    }
    if (lw == "and" || lw == "or") return reset_ops();
    static constexpr const char* kOps[] = {"not", "is", "isnull", "notnull", "collate", "at", "operator"};
    static constexpr const char* kChains[] = {"union", "intersect", "except", "join"};
    for (const char* k : kOps) {
      if (lw == k) {
        add_op();
        return;
      }
    }
    for (const char* k : kChains) {
      if (lw == k) {
        ++levels_.back().chains;
        ++sum_;
        return;
      }
    }
  }

  std::string_view s_;
  std::size_t n_;
  std::size_t i_ = 0;
  std::vector<Level> levels_{Level{}};
  std::size_t sum_ = 0;  // over levels: 1 per nested level + ops + chains
  bool in_statement_ = false;
  std::size_t run_len_ = 0, run_restarts_ = 0;
  char prev_op_ = '\0';
  std::size_t other_end_ = static_cast<std::size_t>(-1);  // just past the last "other" character
  TextScan out_;
};

}  // namespace

TextScan scan_pg_text(std::string_view sql) { return TextScanner(sql).run(); }

bool pg_text_within_limits(std::string_view sql, const StatementLimits& limits, StatementInfo& info,
                           std::size_t& depth) {
  if (sql.size() > limits.max_statement_length) {
    refuse_over_limit(info, kSqlstateProgramLimitExceeded,
                      "segproxy: statement exceeds limits.max_statement_length (" + std::to_string(sql.size()) +
                          " bytes, at most " + std::to_string(limits.max_statement_length) + ")");
    return false;
  }
  const TextScan scan = scan_pg_text(sql);
  if (scan.statements > limits.max_statements_per_message) {
    refuse_over_limit(info, kSqlstateProgramLimitExceeded,
                      "segproxy: statement text exceeds limits.max_statements_per_message (" +
                          std::to_string(scan.statements) + " statements, at most " +
                          std::to_string(limits.max_statements_per_message) + ")");
    return false;
  }
  if (scan.depth > limits.max_parse_depth) {
    refuse_over_limit(info, kSqlstateStatementTooComplex,
                      "segproxy: statement exceeds limits.max_parse_depth (nesting estimated at " +
                          std::to_string(scan.depth) + ", at most " + std::to_string(limits.max_parse_depth) + ")");
    return false;
  }
  if (scan.tokens > limits.max_statement_tokens) {
    refuse_over_limit(info, kSqlstateStatementTooComplex,
                      "segproxy: statement exceeds limits.max_statement_tokens (" + std::to_string(scan.tokens) +
                          " tokens, at most " + std::to_string(limits.max_statement_tokens) + ")");
    return false;
  }
  if (scan.rescan_cost > kScannerWorkPerByte * sql.size() + kScannerWorkSlack) {
    refuse_over_limit(info, kSqlstateStatementTooComplex,
                      "segproxy: statement is too complex to classify (long runs of operator or comment "
                      "characters would make the SQL scanner re-read them quadratically)");
    return false;
  }
  depth = scan.depth;
  return true;
}

}  // namespace segproxy::authz::sql::detail
