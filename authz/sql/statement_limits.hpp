#pragma once
// Bounds on the work one client message can cause in a classifier (issue 12, item 4.1):
// without them one statement could crash the proxy (parser stack), pin an I/O thread for
// minutes (quadratic rescans in libpg_query's scanner) or grow it by gigabytes (parse
// trees of a million statements). Plain data, passed in with the classifier options
// (config `limits:` -> proxy -> classifier); no globals.
//
// Over a limit, a classifier returns a StatementInfo with parse_ok = false, a message
// naming the limit and parse_error_sqlstate set:
//   54000 program_limit_exceeded  max_statement_length, max_statements_per_message
//   54001 statement_too_complex   max_parse_depth, max_statement_tokens, the scanner-work
//                                 bound, the stack
// The policy engine turns that into a deny with that SQLSTATE (PostgreSQL), the MySQL
// relay into ERR 1162 / 1436 (docs/mysql.md). Nothing is forwarded; the session stays.
#include <cstddef>
#include <string>

#include "authz/sql/statement_info.hpp"

namespace segproxy::authz::sql {

struct StatementLimits {
  // Bytes of SQL text classified per message (Query / Parse / COM_QUERY / COM_STMT_PREPARE).
  // A generous byte bound (a client-interpolated bytea/blob/JSON literal of a few MB is
  // normal); the work is bounded by max_statement_tokens.
  std::size_t max_statement_length = 64 * 1024 * 1024;
  // Statements in one multi-statement text (empty statements do not count).
  std::size_t max_statements_per_message = 1000;
  // Estimated nesting before parsing: each open parenthesis/bracket level and each
  // chained operator or keyword operator (UNION/INTERSECT/EXCEPT, JOIN, CASE, NOT, IS,
  // COLLATE, AT, OPERATOR(), ::) counts one. PostgreSQL's parser needs about 1 KiB of
  // stack per level at worst (docs/policy.md "Statement limits").
  std::size_t max_parse_depth = 1000;
  // Lexical tokens in one message: parse time and memory follow them, not the bytes (a
  // string literal, quoted identifier, dollar-quoted body or comment is one token however
  // long). docs/policy.md "Statement limits" has the measurements behind the default.
  std::size_t max_statement_tokens = 250000;
};

// Configuration bounds (config/validate): the proxy reserves stack for the maximum.
inline constexpr std::size_t kMaxConfigurableParseDepth = 10000;
inline constexpr std::size_t kMaxConfigurableStatementLength = 64u * 1024u * 1024u;
inline constexpr std::size_t kMaxConfigurableStatementsPerMessage = 1000000;
inline constexpr std::size_t kMaxConfigurableStatementTokens = 10000000;

// Stack the PostgreSQL classifier may need on the calling thread for text within
// max_parse_depth (measured, with margin; pg_depth_guard.cpp). A thread with less refuses
// deeper statements (54001) instead of overflowing.
std::size_t pg_parse_stack_needed(std::size_t max_parse_depth);

inline constexpr const char* kSqlstateProgramLimitExceeded = "54000";
inline constexpr const char* kSqlstateStatementTooComplex = "54001";

// `info` becomes a refusal for exceeding a limit (parse_ok false, no statements).
inline void refuse_over_limit(StatementInfo& info, const char* sqlstate, std::string message) {
  info = StatementInfo{};
  info.parse_ok = false;
  info.parse_error = std::move(message);
  info.parse_error_sqlstate = sqlstate;
}

}  // namespace segproxy::authz::sql
