// MySQL classifier entry points: lexing, statement split, fingerprint, normalisation.
// The analysis itself is in mysql_queries.cpp / mysql_statements.cpp /
// mysql_session_ddl.cpp (see mysql_analyzer.hpp).
#include "authz/sql/mysql_classifier.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "authz/sql/mysql_analyzer.hpp"
#include "authz/sql/mysql_lexing_settings.hpp"
#include "authz/sql/mysql_literal_bytes.hpp"
#include "authz/sql/statement_hash.hpp"
#include "protocols/common/utf8.hpp"

namespace segproxy::authz::sql {
namespace mysql {
namespace {

bool charset_ok(const std::string& cs) { return is_followable_charset(cs); }

StatementPart unknown_part(std::string reason) {
  StatementPart p;
  p.klass = StatementClass::Unknown;
  p.command = "statement";
  p.forbidden_reason = std::move(reason);
  return p;
}

LexOptions lex_options(const MysqlClassifierOptions& o) {
  LexOptions l;
  l.ansi_quotes = o.ansi_quotes;
  l.no_backslash_escapes = o.no_backslash_escapes;
  l.server_is_mariadb = o.server_is_mariadb;
  l.server_version = o.server_version;
  l.utf8 = iequals(o.charset, "utf8mb4") || iequals(o.charset, "utf8mb3") || iequals(o.charset, "utf8");
  l.max_tokens = std::min(o.max_tokens, o.limits.max_statement_tokens);  // more: refused (54001)
  return l;
}

void put(std::string& out, std::string_view s) {
  const std::uint64_t n = s.size();
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((n >> (8 * k)) & 0xff));
  out.append(s);
}

bool is_literal(TokKind k) { return k == TokKind::String || k == TokKind::Number || k == TokKind::BitHex; }

// Statements whose classification depends on literal values (SET values, PREPARE and
// EXECUTE IMMEDIATE texts) keep them in the fingerprint; every other literal is left out.
// The analyzer reports when it read a literal's value, and a statement outside this rule
// that did is refused (see analyse_text), so the rule cannot silently fall out of date.
bool values_matter(const std::vector<Token>& toks, std::size_t b, std::size_t e) {
  if (b >= e || toks[b].kind != TokKind::Word) return false;
  const std::string& w = toks[b].text;
  return iequals(w, "SET") || iequals(w, "PREPARE") ||
         (iequals(w, "EXECUTE") && b + 1 < e && toks[b + 1].kind == TokKind::Word && iequals(toks[b + 1].text, "IMMEDIATE"));
}

// Statement ranges [b, e) between ';' tokens, empty ones skipped. A compound statement
// (is_compound_start) holds ';' of its own: it runs to the end of the text.
std::vector<std::pair<std::size_t, std::size_t>> split(const std::vector<Token>& toks) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t b = 0;
  while (b <= toks.size()) {
    std::size_t e = b;
    if (is_compound_start(toks, b)) e = toks.size();
    while (e < toks.size() && toks[e].kind != TokKind::Semicolon) ++e;
    if (e > b) out.emplace_back(b, e);
    b = e + 1;
  }
  return out;
}

using Parts = std::vector<std::pair<std::size_t, std::size_t>>;

// Issue 12: the first statement of lexed text that nothing the server knows can start
// makes the whole text a syntax error (ERROR 1064), as the server answers it; its index
// and why. After a label, the rest of the text is the labelled compound statement's
// inside, and after a stored program definition its body: left to the analyzer (which
// refuses the definition as a stored program, not as a syntax error in its body). Both classify_mysql and fingerprint_mysql ask it, so that
// such text has no fingerprint either way.
std::optional<std::pair<std::size_t, StatementStart>> first_unparseable(const std::vector<Token>& toks,
                                                                        const Parts& parts) {
  for (std::size_t k = 0; k < parts.size(); ++k) {
    StatementStart start = statement_start(toks, parts[k].first, parts[k].second);
    if (start.kind == StatementStart::label || start.kind == StatementStart::stored_program) break;
    if (start.kind == StatementStart::unparseable) return std::make_pair(k, std::move(start));
  }
  return std::nullopt;
}

// Whether the unparseable-text check applies: the text was lexed whole (not over a length
// or token limit, no lexing error).
bool lexed_whole(std::string_view sql, const LexResult& lex, const MysqlClassifierOptions& opts) {
  return lex.ok && !lex.too_many_tokens && sql.size() <= opts.max_length &&
         sql.size() <= opts.limits.max_statement_length;
}

std::string options_key(const MysqlClassifierOptions& opts) {
  std::string canon;
  put(canon, "mysql/1");
  put(canon, opts.current_database);
  put(canon, ascii_lower(opts.charset));
  put(canon, opts.unfollowable_sql_mode);
  canon.push_back(static_cast<char>((opts.ansi_quotes ? 1 : 0) | (opts.no_backslash_escapes ? 2 : 0) |
                                    (opts.server_is_mariadb ? 4 : 0)));
  canon.push_back(static_cast<char>(opts.lower_case_table_names));
  put(canon, std::to_string(opts.server_version));
  put(canon, std::to_string(opts.max_length) + "/" + std::to_string(opts.max_tokens) + "/" +
                 std::to_string(opts.limits.max_statement_length) + "/" +
                 std::to_string(opts.limits.max_statements_per_message) + "/" +
                 std::to_string(opts.limits.max_parse_depth) + "/" +
                 std::to_string(opts.limits.max_statement_tokens));
  return canon;
}

// The fingerprint of an already lexed text (0 for syntax errors and without a key).
std::uint64_t fingerprint_of(std::string_view sql, const LexResult& lex, const MysqlClassifierOptions& opts) {
  // Over the length limit: no key, so each such text is judged (cheaply: unlexed) and
  // its refusal names its own length.
  if (sql.size() > opts.limits.max_statement_length || lex.too_many_tokens || !opts.hash_key) return 0;
  std::string canon = options_key(opts);
  if (sql.size() > opts.max_length) {
    put(canon, "too-long");
  } else if (!lex.ok) {
    if (lex.syntax_error) return 0;
    put(canon, "lex-error");
    put(canon, sql);
  } else {
    const Parts parts = split(lex.tokens);
    if (lexed_whole(sql, lex, opts) && first_unparseable(lex.tokens, parts)) return 0;  // a syntax error
    for (const auto& [b, e] : parts) {
      const bool values = values_matter(lex.tokens, b, e);
      std::string part;
      const std::uint32_t first = lex.tokens[b].offset, last = lex.tokens[e - 1].end;
      part.reserve(12 * (e - b) + (last > first ? std::min<std::size_t>(last - first, 4096) : 0));
      for (std::size_t k = b; k < e; ++k) {
        const Token& t = lex.tokens[k];
        part.push_back(static_cast<char>(t.kind));
        part.push_back(t.in_exec_comment ? 'x' : '-');
        if (!is_literal(t.kind) || values) put(part, t.text);
      }
      put(canon, part);
    }
    // ';' tokens themselves (an executable comment's ';' is refused).
    for (const auto& t : lex.tokens) {
      if (t.kind == TokKind::Semicolon) canon.push_back(t.in_exec_comment ? 'X' : ';');
    }
  }
  return statement_hash(*opts.hash_key, canon);  // never 0: 0 means "no fingerprint"
}

// Statement count and parenthesis depth of lexed text over opts.limits: the refusal
// message (empty: within). Linear, before any analysis.
std::pair<const char*, std::string> over_token_limits(const std::vector<Token>& toks, const StatementLimits& limits) {
  std::size_t statements = 0, depth = 0, worst = 0;
  bool in_statement = false;
  for (const Token& t : toks) {
    if (t.kind == TokKind::Semicolon) {
      statements += in_statement ? 1 : 0;
      in_statement = false;
      continue;
    }
    in_statement = true;
    if (t.kind == TokKind::LParen) worst = std::max(worst, ++depth);
    else if (t.kind == TokKind::RParen && depth > 0) --depth;
  }
  statements += in_statement ? 1 : 0;
  if (statements > limits.max_statements_per_message) {
    return {kSqlstateProgramLimitExceeded, "segproxy: statement text exceeds limits.max_statements_per_message (" +
                                               std::to_string(statements) + " statements, at most " +
                                               std::to_string(limits.max_statements_per_message) + ")"};
  }
  if (worst > limits.max_parse_depth) {
    return {kSqlstateStatementTooComplex, "segproxy: statement exceeds limits.max_parse_depth (" +
                                              std::to_string(worst) + " nested parentheses, at most " +
                                              std::to_string(limits.max_parse_depth) + ")"};
  }
  return {nullptr, {}};
}

std::string over_length_message(std::size_t size, const StatementLimits& limits) {
  return "segproxy: statement exceeds limits.max_statement_length (" + std::to_string(size) + " bytes, at most " +
         std::to_string(limits.max_statement_length) + ")";
}

// Lexes `sql` as the server will: under sjis / cp932 / big5 / gbk, ASCII trail bytes of
// two-byte characters are masked first (mask_multibyte_trail_bytes).
LexResult lex_as_server(std::string_view sql, const MysqlClassifierOptions& opts) {
  if (has_ascii_trail_bytes(opts.charset)) return lex_mysql(mask_multibyte_trail_bytes(sql, opts.charset), lex_options(opts));
  return lex_mysql(sql, lex_options(opts));
}

LexResult lex_checked(std::string_view sql, const MysqlClassifierOptions& opts) {
  if (sql.size() > opts.max_length || sql.size() > opts.limits.max_statement_length) return {};
  return lex_as_server(sql, opts);
}

// MysqlText::invalid_bytes of `lex`, the lexing of `sql` under `opts`. Text over the
// limits is not lexed (it is refused for its length / token count); text that is UTF-8
// as a whole (nearly all) costs one validation pass.
bool invalid_bytes(std::string_view sql, const LexResult& lex, const MysqlClassifierOptions& opts) {
  return lex_options(opts).utf8 && sql.size() <= opts.max_length && sql.size() <= opts.limits.max_statement_length &&
         !lex.too_many_tokens && !protocols::is_valid_utf8(sql) &&
         (!lex.ok || !non_utf8_bytes_only_in_string_literals(sql, lex.tokens));
}

StatementInfo analyse_lexed(std::string_view sql, const LexResult& lex, const MysqlClassifierOptions& opts,
                            int nesting) {
  StatementInfo info;
  if (sql.size() > opts.limits.max_statement_length) {
    refuse_over_limit(info, kSqlstateProgramLimitExceeded, over_length_message(sql.size(), opts.limits));
    return info;
  }
  info.parse_ok = true;
  if (lexed_whole(sql, lex, opts)) {
    const Parts parts = split(lex.tokens);
    if (const auto bad = first_unparseable(lex.tokens, parts)) {
      // The message names the statement, not its text (the audit record keeps the text
      // as statement_text says) nor a byte offset (gates cache verdicts by the
      // literal-free fingerprint, under which offsets vary).
      const auto& [k, start] = *bad;
      info.parse_ok = false;
      info.parse_error = "syntax error in statement " + std::to_string(k + 1) + " of the text: " + start.reason;
      info.parse_error_position = static_cast<int>(lex.tokens[parts[k].first].offset) + 1;
      return info;
    }
  }
  if (sql.size() > opts.max_length) {
    info.statements.push_back(unknown_part("statement longer than " + std::to_string(opts.max_length) + " bytes"));
    return info;
  }
  if (!charset_ok(opts.charset)) {
    info.statements.push_back(unknown_part("the session character set " + opts.charset +
                                           " is not supported by the analyzer (multibyte characters may hide quotes)"));
    return info;
  }
  // Under a mode the analyzer cannot follow, only a SET sql_mode back to a followable one
  // that every mode lexes the same way (is_sql_mode_recovery) is analysed.
  if (!opts.unfollowable_sql_mode.empty() && !is_sql_mode_recovery(sql)) {
    info.statements.push_back(unknown_part("the session's sql_mode includes " + opts.unfollowable_sql_mode +
                                           ", which segproxy's analyzer cannot follow; reset the connection or "
                                           "reconnect"));
    return info;
  }
  if (opts.lower_case_table_names < 0 || opts.lower_case_table_names > 2) {
    info.statements.push_back(unknown_part("lower_case_table_names must be 0, 1 or 2"));
    return info;
  }
  if (lex.too_many_tokens) {  // the lexer stopped there: memory and analysis stay bounded
    refuse_over_limit(info, kSqlstateStatementTooComplex,
                      "segproxy: statement exceeds limits.max_statement_tokens (more than " +
                          std::to_string(lex_options(opts).max_tokens) + " tokens)");
    return info;
  }
  if (!lex.ok) {
    if (lex.syntax_error) {
      info.parse_ok = false;
      info.parse_error = "syntax error: " + lex.error;
    } else {
      info.statements.push_back(unknown_part(lex.error));
    }
    return info;
  }
  for (const auto& t : lex.tokens) {
    if (t.kind == TokKind::Semicolon && t.in_exec_comment) {
      info.statements.push_back(unknown_part("';' inside an executable comment"));
      return info;
    }
  }
  if (auto [state, message] = over_token_limits(lex.tokens, opts.limits); state != nullptr) {
    refuse_over_limit(info, state, std::move(message));
    return info;
  }
  const Parts parts = split(lex.tokens);
  std::string current_db = opts.current_database;
  for (const auto& [b, e] : parts) {
    Analyzer a(lex.tokens, b, e, opts, current_db, nesting);
    a.analyse();
    if (a.too_deep()) {
      refuse_over_limit(info, kSqlstateStatementTooComplex,
                        "segproxy: statement is nested too deeply for the MySQL analyzer (more than " +
                            std::to_string(Analyzer::kMaxDepth) + " levels)");
      return info;
    }
    StatementPart part = std::move(a.part());
    if (a.uses_literal_values() && !values_matter(lex.tokens, b, e)) {
      part.klass = StatementClass::Unknown;
      part.forbidden_reason = "internal: literal-dependent classification outside SET/PREPARE";
    }
    info.statements.push_back(std::move(part));
  }
  // The server lexes the statements after a lexing change under the new setting before
  // segproxy could read it back: such a change must be the last statement of the text.
  for (std::size_t k = 0; k + 1 < info.statements.size(); ++k) {
    StatementPart& part = info.statements[k];
    if (!part.changes_lexing || part.klass == StatementClass::Unknown) continue;
    part.klass = StatementClass::Forbidden;
    part.forbidden_reason = std::string(kLexingChangeNotLast);
  }
  return info;
}

}  // namespace

StatementInfo analyse_text(std::string_view sql, const MysqlClassifierOptions& opts, int nesting) {
  return analyse_lexed(sql, lex_checked(sql, opts), opts, nesting);
}

}  // namespace mysql

MysqlText::MysqlText(std::string_view sql, const MysqlClassifierOptions& opts)
    : sql_(sql), opts_(opts), lex_(mysql::lex_checked(sql, opts)), invalid_bytes_(mysql::invalid_bytes(sql, lex_, opts)) {}

std::uint64_t MysqlText::fingerprint() const {
  return invalid_bytes_ ? 0 : mysql::fingerprint_of(sql_, lex_, opts_);
}

StatementInfo MysqlText::classify() const {
  StatementInfo info;
  if (invalid_bytes_) {
    info.invalid_text_bytes = true;
    info.parse_error = "bytes that are not valid " + opts_.charset + " outside string literals";
    return info;
  }
  info = mysql::analyse_lexed(sql_, lex_, opts_, 0);
  // A syntax error has no fingerprint. A refusal over a StatementLimits bound keeps the
  // token fingerprint the gate caches its verdict under (fingerprint_mysql): statement
  // count and nesting are token structure, so every text with that fingerprint is refused
  // alike (fuzz finding: 47 '(' were 54001 with fingerprint 0 here, non-zero there).
  const bool syntax_error = !info.parse_ok && info.parse_error_sqlstate.empty();
  info.fingerprint = syntax_error ? 0 : mysql::fingerprint_of(sql_, lex_, opts_);
  for (auto& part : info.statements) {
    for (auto& f : part.functions) f.mysql = true;
    for (auto& t : part.tables) t.mysql = true;
    for (auto& t : part.row_locks) t.mysql = true;
  }
  return info;
}

StatementInfo classify_mysql(std::string_view sql, const MysqlClassifierOptions& opts) {
  return MysqlText(sql, opts).classify();
}

std::uint64_t fingerprint_mysql(std::string_view sql, const MysqlClassifierOptions& opts) {
  return MysqlText(sql, opts).fingerprint();
}

MysqlServerVersion parse_mysql_server_version(std::string_view v) {
  MysqlServerVersion out;
  out.mariadb = v.find("MariaDB") != std::string_view::npos;
  if (out.mariadb && v.substr(0, 6) == "5.5.5-") v.remove_prefix(6);  // replication-compat prefix
  std::uint32_t parts[3] = {0, 0, 0};
  std::size_t p = 0;
  for (int k = 0; k < 3; ++k) {
    const std::size_t start = p;
    std::uint32_t n = 0;
    while (p < v.size() && v[p] >= '0' && v[p] <= '9' && p - start < 3) n = n * 10 + static_cast<std::uint32_t>(v[p++] - '0');
    if (p == start) return MysqlServerVersion{out.mariadb, 0};
    parts[k] = n;
    if (k < 2) {
      if (p >= v.size() || v[p] != '.') return MysqlServerVersion{out.mariadb, 0};
      ++p;
    }
  }
  if (parts[1] > 99 || parts[2] > 99) return MysqlServerVersion{out.mariadb, 0};
  out.version = parts[0] * 10000 + parts[1] * 100 + parts[2];
  return out;
}

std::string normalize_mysql(std::string_view sql, const MysqlClassifierOptions& opts) {
  if (sql.size() > opts.limits.max_statement_length) return {};
  const mysql::LexResult lex = mysql::lex_as_server(sql, opts);
  if (!lex.ok) return {};
  if (mysql::invalid_bytes(sql, lex, opts)) return {};  // refused (1300) by classify_mysql as well
  // Text that is a syntax error for classify_mysql normalizes to nothing too.
  if (mysql::lexed_whole(sql, lex, opts) && mysql::first_unparseable(lex.tokens, mysql::split(lex.tokens))) return {};
  std::string out;
  for (const auto& t : lex.tokens) {
    if (!out.empty() && !t.joined) out.push_back(' ');
    switch (t.kind) {
      case mysql::TokKind::String:
      case mysql::TokKind::Number:
      case mysql::TokKind::BitHex: out += '?'; break;
      case mysql::TokKind::QuotedIdent: out += '`'; for (char c : t.text) { out += c; if (c == '`') out += '`'; } out += '`'; break;
      case mysql::TokKind::UserVar: out += '@'; out += '`'; out += t.text; out += '`'; break;
      case mysql::TokKind::SysVar: out += "@@"; out += t.text; break;
      default: out += t.text; break;
    }
  }
  return out;
}

}  // namespace segproxy::authz::sql
