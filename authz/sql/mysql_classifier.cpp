// MySQL classifier entry points: lexing, statement split, fingerprint, normalisation.
// The analysis itself is in mysql_queries.cpp / mysql_statements.cpp /
// mysql_session_ddl.cpp (see mysql_analyzer.hpp).
#include "authz/sql/mysql_classifier.hpp"

#include <array>
#include <random>

#include "authz/sql/mysql_analyzer.hpp"

namespace segproxy::authz::sql {
namespace mysql {
namespace {

bool charset_ok(const std::string& cs) {
  for (const char* ok : {"utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "binary"}) {
    if (iequals(cs, ok)) return true;
  }
  return false;
}

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
  return l;
}

void put(std::string& out, std::string_view s) {
  const std::uint64_t n = s.size();
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((n >> (8 * k)) & 0xff));
  out.append(s);
}

bool is_literal(TokKind k) { return k == TokKind::String || k == TokKind::Number || k == TokKind::BitHex; }

std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// SipHash-2-4 (Aumasson & Bernstein).
std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, std::string_view data) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
  const auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t len = data.size();
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t m = 0;
    for (int k = 7; k >= 0; --k) m = (m << 8) | p[i + static_cast<std::size_t>(k)];
    v3 ^= m; round(); round(); v0 ^= m;
  }
  std::uint64_t b = static_cast<std::uint64_t>(len) << 56;
  for (std::size_t k = 0; i + k < len; ++k) b |= static_cast<std::uint64_t>(p[i + k]) << (8 * k);
  v3 ^= b; round(); round(); v0 ^= b;
  v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// Per-process random key (function-local, initialised once): values are stable within
// one process only, and a client cannot search for collisions offline.
const std::array<std::uint64_t, 2>& process_key() {
  static const std::array<std::uint64_t, 2> key = [] {
    std::random_device rd;
    std::array<std::uint64_t, 2> k{};
    for (auto& w : k) w = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    return k;
  }();
  return key;
}

}  // namespace

StatementInfo analyse_text(std::string_view sql, const MysqlClassifierOptions& opts, int nesting,
                           std::vector<std::string>* fingerprint_out) {
  StatementInfo info;
  info.parse_ok = true;
  if (sql.size() > opts.max_length) {
    info.statements.push_back(unknown_part("statement longer than " + std::to_string(opts.max_length) + " bytes"));
    return info;
  }
  if (!charset_ok(opts.charset)) {
    info.statements.push_back(unknown_part("the session character set " + opts.charset +
                                           " is not supported by the analyzer (multibyte characters may hide quotes)"));
    return info;
  }
  if (opts.lower_case_table_names < 0 || opts.lower_case_table_names > 2) {
    info.statements.push_back(unknown_part("lower_case_table_names must be 0, 1 or 2"));
    return info;
  }
  LexResult lex = lex_mysql(sql, lex_options(opts));
  if (!lex.ok) {
    if (lex.syntax_error) {
      info.parse_ok = false;
      info.parse_error = "syntax error: " + lex.error;
    } else {
      info.statements.push_back(unknown_part(lex.error));
    }
    if (fingerprint_out) *fingerprint_out = {"lex-error", std::string(sql)};
    return info;
  }
  std::string current_db = opts.current_database;
  const std::vector<Token>& toks = lex.tokens;
  std::size_t b = 0;
  while (b <= toks.size()) {
    std::size_t e = b;
    while (e < toks.size() && toks[e].kind != TokKind::Semicolon) ++e;
    if (e < toks.size() && toks[e].in_exec_comment) {
      info.statements.push_back(unknown_part("';' inside an executable comment"));
      if (fingerprint_out) fingerprint_out->push_back("!");
      return info;
    }
    if (e > b) {
      Analyzer a(toks, b, e, opts, current_db, nesting);
      a.analyse();
      info.statements.push_back(std::move(a.part()));
      if (fingerprint_out) {
        std::string s;
        for (std::size_t k = b; k < e; ++k) {
          const Token& t = toks[k];
          s.push_back(static_cast<char>(t.kind));
          s.push_back(t.in_exec_comment ? 'x' : '-');
          if (!is_literal(t.kind) || a.uses_literal_values()) put(s, t.text);
        }
        fingerprint_out->push_back(std::move(s));
      }
    }
    b = e + 1;
  }
  return info;
}

}  // namespace mysql

StatementInfo classify_mysql(std::string_view sql, const MysqlClassifierOptions& opts) {
  std::vector<std::string> parts;
  StatementInfo info = mysql::analyse_text(sql, opts, 0, &parts);
  if (!info.parse_ok) {
    info.fingerprint = 0;
    return info;
  }
  std::string canon;
  mysql::put(canon, "mysql/1");
  mysql::put(canon, opts.current_database);
  mysql::put(canon, opts.charset);
  canon.push_back(static_cast<char>((opts.ansi_quotes ? 1 : 0) | (opts.no_backslash_escapes ? 2 : 0) |
                                    (opts.server_is_mariadb ? 4 : 0)));
  canon.push_back(static_cast<char>(opts.lower_case_table_names));
  mysql::put(canon, std::to_string(opts.server_version));
  mysql::put(canon, std::to_string(opts.max_length));
  for (const auto& p : parts) mysql::put(canon, p);
  if (sql.size() > opts.max_length) mysql::put(canon, "too-long");
  info.fingerprint = mysql::siphash24(mysql::process_key(), canon);
  if (info.fingerprint == 0) info.fingerprint = 1;  // 0 means "no fingerprint"
  return info;
}

std::uint64_t fingerprint_mysql(std::string_view sql, const MysqlClassifierOptions& opts) {
  return classify_mysql(sql, opts).fingerprint;
}

std::string normalize_mysql(std::string_view sql, const MysqlClassifierOptions& opts) {
  const mysql::LexResult lex = mysql::lex_mysql(sql, mysql::lex_options(opts));
  if (!lex.ok) return {};
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
